"""The AM launcher (YARN's AMLauncher): the start command for an attempt's AM container, with the
environment only the RM can give it (its Redis user, its client-to-AM secret, its user's state key), sent
to the container's node through the outbox."""

from __future__ import annotations

import logging

from miniyarn import config
from miniyarn.protocol import StartContainer
from miniyarn.records import Container
from miniyarn.states.attempt import AttemptEvent, AttemptState
from resourcemanager import app_transitions, container_transitions, secret_managers
from resourcemanager.context import CLIENT_TO_AM_ENV, USER_STATE_ENV, RMContext, now_ms
from resourcemanager.rmstate import RMApp, RMAttempt

log = logging.getLogger("resourcemanager")


def rm_addresses(ctx: RMContext) -> str:
    """This RM's web address, then (RM HA) every other RM's, as MINIYARN_RM_ADDRESS lists them: the AM's
    clients follow whichever is active, and a JobManager trusts each one's origin (it trusted only the RM
    that launched it, so after a failover the new active's origin was a stranger's)."""
    out = [ctx.web_address]
    for rm_id in config.rm_ids(ctx.conf):
        address = config.rm_webapp_address(ctx.conf, rm_id)
        if address and address not in out:
            out.append(address)
    return ",".join(out)


def launch_am(ctx: RMContext, app: RMApp, attempt: RMAttempt, container: Container) -> None:
    # The AM container alone gets a Redis credential: its attempt's own user (YARN's AMRMToken).
    ctx.out.users_created[attempt.attempt_id] = secret_managers.amrm_token(ctx, attempt.attempt_id)
    container_transitions.send_nm(ctx, container.node_id, _start(ctx, app, attempt, container))
    app_transitions.attempt_event(attempt, AttemptEvent.LAUNCHED)
    attempt.last_heartbeat_ms = now_ms()
    app.diagnostics = "AM container is launched, waiting for AM container to Register with RM"
    log.info("Launching masterappattempt_%s on %s", attempt.attempt_id[len("appattempt_"):], container.node_id)


def launch_again(ctx: RMContext) -> int:
    """After Redis was unreachable: the start of every AM container launched but never reported by its node,
    sent again. Redis answers a write before its AOF has it on disk (appendfsync everysec), so a Redis killed
    within a second of a launch comes back without the start command; the NM never hears of the container,
    and the attempt waited for its AM until the AM liveness monitor failed the app (60 s). An NM ignores the
    start of a container it already has ("already is running on this node"). Returns how many were sent."""
    n = 0
    for app in ctx.apps.values():
        attempt = app.current
        if attempt is None or attempt.state is not AttemptState.LAUNCHED or attempt.am_container_id not in \
                ctx.unlaunched:
            continue
        rc = ctx.containers.get(attempt.am_container_id)
        if rc is None:
            continue
        container_transitions.send_nm(ctx, rc.container.node_id, _start(ctx, app, attempt, rc.container))
        attempt.last_heartbeat_ms = now_ms()  # its AM gets a whole liveness window from this start
        log.info("Launching masterappattempt_%s on %s again (Redis was unreachable since the launch)",
                 attempt.attempt_id[len("appattempt_"):], rc.container.node_id)
        n += 1
    return n


def _start(ctx: RMContext, app: RMApp, attempt: RMAttempt, container: Container) -> StartContainer:
    spec = app.submission.am_container_spec
    env = dict(spec.environment)
    env.setdefault("APP_SUBMIT_TIME_ENV", str(app.submit_time))
    env.setdefault("MAX_APP_ATTEMPTS", str(app.max_attempts))
    env[CLIENT_TO_AM_ENV] = secret_managers.client_to_am_secret(ctx, app.app_id)
    env[USER_STATE_ENV] = secret_managers.user_state_secret(ctx, app.user)
    env["MINIYARN_REDIS_URL"] = secret_managers.am_redis_url(ctx, attempt.attempt_id)
    if ctx.web_address:
        env.setdefault("MINIYARN_RM_ADDRESS", rm_addresses(ctx))
    launch = spec.model_copy(update={"environment": env})
    token = secret_managers.container_token(ctx, container.id)
    return StartContainer(container=container, launch_context=launch, user=app.user, requested_by="ResourceManager",
                          container_token=token)
