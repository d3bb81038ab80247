"""The RM's secret managers (YARN's RMSecretManagerService): every token it hands out, derived from its
master key, so a restarted RM with the same credentials dir recognises the tokens of AMs and containers
started before it."""

from __future__ import annotations

from miniyarn.security import credentials as creds
from miniyarn.states.application import APP_MACHINE
from miniyarn.states.attempt import ATTEMPT_MACHINE
from resourcemanager import amrm_users
from resourcemanager.context import RMContext


def client_to_am_secret(ctx: RMContext, app_id: str) -> str:
    """YARN's ClientToAMToken master key for one app: the AM gets it in its environment, the RM's proxy
    presents it (`Authorization: Bearer`), so an AM's UI can tell requests the RM authorized."""
    return creds.derive(ctx.master_key, "client-to-am", app_id)


def user_state_secret(ctx: RMContext, user: str) -> str:
    """The key every AM of `user` gets to seal state that a later application of the same user must trust
    (a Flink savepoint restored by a new per-job cluster), and no other user's AM can forge: derived
    from the master key and the user, never stored."""
    return creds.derive(ctx.master_key, "user-state", user)


def amrm_token(ctx: RMContext, attempt_id: str) -> str:
    """The attempt's AMRMToken: its Redis user's password, and what every AMRM call must carry."""
    return amrm_users.token(ctx.master_key, attempt_id)


def new_container_token(ctx: RMContext, container_id: str) -> str:
    return creds.derive(ctx.master_key, "container", container_id)


def container_token(ctx: RMContext, container_id: str) -> str:
    """The container's token: the AM gets it with the allocation, the NM checks starts and stops by it."""
    rc = ctx.containers.get(container_id)
    if rc is not None and rc.token:
        return rc.token
    return new_container_token(ctx, container_id)


def am_redis_url(ctx: RMContext, attempt_id: str) -> str:
    """The AM container's Redis credential: its attempt's own user (YARN's AMRMToken)."""
    return creds.with_user(ctx.redis_location, attempt_id, amrm_token(ctx, attempt_id))


def recreate_attempt_users(ctx: RMContext) -> int:
    """Queue again the Redis user of every attempt whose AM may run (as a restarted RM does): after Redis
    was unreachable it may be another Redis (a Sentinel failover promoted a replica; ACL SETUSER is not
    replicated) or one restarted without our users. ACL SETUSER of an existing user with `reset` is a no-op
    in effect. Returns how many."""
    n = 0
    for app in ctx.apps.values():
        attempt = app.current
        if (APP_MACHINE.is_final(app.state) or attempt is None or not attempt.am_container_id
                or ATTEMPT_MACHINE.is_final(attempt.state)):
            continue
        if attempt.attempt_id not in ctx.out.users_deleted:
            ctx.out.users_created[attempt.attempt_id] = amrm_token(ctx, attempt.attempt_id)
            n += 1
    return n
