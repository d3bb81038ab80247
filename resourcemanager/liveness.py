"""NM and AM liveness (YARN's NMLivelinessMonitor and AMLivelinessMonitor), plus the two graces the RM
gives an ending app: a KILLING app whose AM container never reports back, and an AM that unregistered and
does not exit. Run by the inbox loop every LIVENESS_EVERY_MS with the loop's clock."""

from __future__ import annotations

import logging

from miniyarn.exit_status import ContainerExitStatus
from miniyarn.states.application import APP_MACHINE, FinalApplicationStatus, YarnApplicationState
from miniyarn.states.attempt import ATTEMPT_MACHINE, AttemptEvent, AttemptState
from miniyarn.states.container import ContainerEvent
from miniyarn.states.node import ACTIVE_STATES, NodeEvent
from resourcemanager import allocation_expiry, app_transitions, container_transitions, node_transitions
from resourcemanager.context import AM_EXIT_GRACE_MS, KILL_GRACE_MS, RMContext

log = logging.getLogger("resourcemanager")

A = YarnApplicationState


def observation_gap(ctx: RMContext, gap_ms: int, now: int) -> None:
    """The loop could not see heartbeats for `gap_ms` (Redis paused or down, so NMs and AMs could not
    send them either): every node and AM gets a fresh liveness window, as after a restart. Expiring them
    for the RM's own blindness killed every container of a cluster whose Redis paused 20 s."""
    log.warning("No heartbeats could be read for %.1fs; giving every NodeManager and ApplicationMaster a "
                "fresh liveness window", gap_ms / 1000)
    for node in ctx.nodes.values():
        if node.state in ACTIVE_STATES:  # a node already lost keeps the time it was last heard from
            node.last_heartbeat_ms = max(node.last_heartbeat_ms, now)
    for app in ctx.apps.values():
        attempt = app.current
        if attempt is not None and not ATTEMPT_MACHINE.is_final(attempt.state):
            attempt.last_heartbeat_ms = max(attempt.last_heartbeat_ms, now)


def check_liveness(ctx: RMContext, now: int) -> None:
    allocation_expiry.expire_allocations(ctx, now)
    for node in ctx.nodes.values():
        if node.state in ACTIVE_STATES and now - node.last_heartbeat_ms > ctx.nm_expiry_ms:
            node_transitions.node_lost(ctx, node, NodeEvent.EXPIRE, "Container released on a *lost* node")
    for app in list(ctx.apps.values()):
        attempt = app.current
        if attempt is None or APP_MACHINE.is_final(app.state):
            continue
        if app.state is A.KILLING and now - app.killing_since_ms > KILL_GRACE_MS:
            app_transitions.finish_app(ctx, app, A.KILLED, FinalApplicationStatus.KILLED, app.diagnostics)
        elif attempt.state is AttemptState.FINISHING and now - attempt.last_heartbeat_ms > AM_EXIT_GRACE_MS:
            container_transitions.stop_container(ctx, attempt.am_container_id,
                                                 ContainerExitStatus.KILLED_AFTER_APP_COMPLETION,
                                                 "AM did not exit after unregistering")
            container_transitions.complete_container(ctx, attempt.am_container_id,
                                                     ContainerExitStatus.KILLED_AFTER_APP_COMPLETION, "",
                                                     ContainerEvent.KILL)
            if not APP_MACHINE.is_final(app.state):
                app_transitions.finish_app(ctx, app, A.FINISHED, attempt.final_status, attempt.diagnostics)
        elif attempt.state in (AttemptState.LAUNCHED, AttemptState.RUNNING) and \
                now - attempt.last_heartbeat_ms > ctx.am_expiry_ms:
            log.info("Expired:%s Timed out after %d secs", attempt.attempt_id, ctx.am_expiry_ms // 1000)
            app_transitions.attempt_event(attempt, AttemptEvent.EXPIRE)
            app_transitions.attempt_failed(ctx, app, attempt,
                                           f"ApplicationMaster for attempt {attempt.attempt_id} timed out")
