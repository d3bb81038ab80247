"""RMApp and RMAppAttempt transitions: submission, kill, attempts starting, failing and ending, and the
completed-apps limit. Each mutates the context and puts what it implies in the outbox; the caller flushes.
Every state change goes through its machine (`app_event`, `attempt_event`)."""

from __future__ import annotations

import logging
import time

from miniyarn.exit_status import ContainerExitStatus
from miniyarn.ids import ApplicationAttemptId, ApplicationId
from miniyarn.protocol import ApplicationFinished
from miniyarn.records import ApplicationSubmissionContext
from miniyarn.states.application import APP_MACHINE, AppEvent, FinalApplicationStatus, YarnApplicationState
from miniyarn.states.attempt import ATTEMPT_MACHINE, AttemptEvent, AttemptState
from miniyarn.states.container import ContainerEvent
from miniyarn.states.node import ACTIVE_STATES
from resourcemanager import container_transitions as containers
from resourcemanager import scheduling
from resourcemanager.context import NEW_APP_IDS_KEPT, RMContext, now_ms
from resourcemanager.errors import AccessControlError, BadRequestError, InvalidQueue, NotFoundError
from resourcemanager.rmstate import RMApp, RMAttempt
from resourcemanager.scheduler.model import SchedulerApp

log = logging.getLogger("resourcemanager")

A = YarnApplicationState


def app_event(ctx: RMContext, app: RMApp, event: AppEvent, target: YarnApplicationState | None = None) -> bool:
    """Every change of an app's state: through its machine (refused and logged if illegal)."""
    ctx.out.apps.add(app.app_id)
    return APP_MACHINE.fire(app, event, target, app.app_id)


def attempt_event(attempt: RMAttempt, event: AttemptEvent) -> bool:
    return ATTEMPT_MACHINE.fire(attempt, event, what=attempt.attempt_id)


# ---- client side: new application, submit, kill ----------------------------------------------


def reserve_app_id(ctx: RMContext, seq: int, owner: str) -> str | None:
    """The id for `seq` (from the store's counter), reserved for `owner`; None if it is taken already
    (only if the counter went back: a Redis that lost it), so the caller takes the next."""
    app_id = str(ApplicationId(ctx.cluster_ts, seq))
    if app_id in ctx.apps or app_id in ctx.new_app_ids:
        return None
    ctx.new_app_ids[app_id] = owner
    if len(ctx.new_app_ids) > NEW_APP_IDS_KEPT:
        del ctx.new_app_ids[next(iter(ctx.new_app_ids))]
    return app_id


def submit(ctx: RMContext, sub: ApplicationSubmissionContext, user: str) -> RMApp:
    app_id = sub.application_id
    try:
        parsed = ApplicationId.parse(app_id)
    except ValueError as e:
        raise BadRequestError(str(e)) from None
    if app_id in ctx.apps:
        raise BadRequestError(f"Application with id {app_id} is already present! Cannot add a duplicate!")
    owner = ctx.new_app_ids.get(app_id)
    if owner is None:
        log.warning("Refusing a submission of %s by %s: an id this ResourceManager never handed out", app_id, user)
        raise BadRequestError(f"Application id {app_id} was not issued by this ResourceManager; "
                              "ask POST /ws/v1/cluster/apps/new-application for one")
    if owner and owner != user:
        log.warning("Refusing a submission of %s by %s: the id was issued to %s", app_id, user, owner)
        raise AccessControlError(f"User {user} cannot submit {app_id}: it was issued to another user; "
                                 "ask POST /ws/v1/cluster/apps/new-application for one")
    queue = scheduling.resolve_queue(ctx, sub.queue)
    if queue.state != "RUNNING":
        raise InvalidQueue(f"Queue {queue.path} is STOPPED. Cannot accept submission of application: {app_id}")
    if sub.max_app_attempts < 0:
        raise BadRequestError(f"Invalid max-app-attempts {sub.max_app_attempts}; it must be >= 0")
    am_resource = scheduling.normalize(ctx, sub.resource, scheduling.effective_max(ctx))
    max_attempts = ctx.global_max_attempts
    if 0 < sub.max_app_attempts < max_attempts:
        max_attempts = sub.max_app_attempts
    app = RMApp(app_id=app_id, seq=parsed.id, submission=sub, queue=queue.path, user=user,
                submit_time=now_ms(), max_attempts=max_attempts)
    ctx.new_app_ids.pop(app_id, None)
    ctx.apps[app_id] = app
    app_event(ctx, app, AppEvent.START)
    app_event(ctx, app, AppEvent.APP_NEW_SAVED)
    app_event(ctx, app, AppEvent.APP_ACCEPTED)
    ctx.sched_apps[app_id] = SchedulerApp(app_id=app_id, queue=queue.path, user=user, order=parsed.id,
                                          priority=sub.priority, am_resource=am_resource)
    log.info("Accepted application %s from user: %s, in queue: %s", app_id, user, queue.path)
    start_attempt(ctx, app)
    ctx.needs_schedule = True
    return app


def kill(ctx: RMContext, app_id: str, diagnostics: str = "") -> RMApp:
    """A kill: an app whose AM container runs goes KILLING (the container is stopped; its end, or the
    grace, makes the app KILLED); any other is KILLED at once."""
    app = get_app(ctx, app_id)
    if APP_MACHINE.is_final(app.state):
        return app
    attempt = app.current
    message = diagnostics or f"Application {app_id} was killed by user {app.user}"
    if attempt is None or not attempt.am_container_id or attempt.am_container_id not in ctx.containers:
        finish_app(ctx, app, A.KILLED, FinalApplicationStatus.KILLED, message)
    elif app.state is not A.KILLING:
        before = app.state
        if app_event(ctx, app, AppEvent.KILL, A.KILLING):
            app.state_before_killing = before
            app.killing_since_ms = now_ms()
            app.diagnostics = message
            containers.stop_container(ctx, attempt.am_container_id, ContainerExitStatus.KILLED_BY_RESOURCEMANAGER,
                                      "Container killed by the ApplicationMaster's application being killed.")
    return app


def get_app(ctx: RMContext, app_id: str) -> RMApp:
    try:
        ApplicationId.parse(app_id)
    except ValueError as e:
        raise BadRequestError(str(e)) from None
    app = ctx.apps.get(app_id)
    if app is None:
        raise NotFoundError(f"app with id: {app_id} not found")
    return app


# ---- attempts -------------------------------------------------------------------------------


def start_attempt(ctx: RMContext, app: RMApp) -> None:
    n = len(app.attempts) + 1
    attempt_id = str(ApplicationAttemptId(ApplicationId.parse(app.app_id), n))
    attempt = RMAttempt(attempt_id=attempt_id, start_time=now_ms())
    app.attempts.append(attempt)
    attempt_event(attempt, AttemptEvent.START)
    attempt_event(attempt, AttemptEvent.ATTEMPT_ADDED)
    sapp = ctx.sched_apps[app.app_id]
    sapp.am_pending = True
    sapp.am_active = False
    sapp.asks.clear()
    stamp = time.strftime("%a %b %d %H:%M:%S %z %Y")
    app.diagnostics = f"[{stamp}] Application is added to the scheduler and is waiting for its AM container"
    ctx.out.apps.add(app.app_id)


def attempt_user_gone(ctx: RMContext, attempt: RMAttempt) -> None:
    """An ended attempt's AM loses its Redis user (Redis also drops its connections)."""
    ctx.out.users_created.pop(attempt.attempt_id, None)
    ctx.out.users_deleted.append(attempt.attempt_id)


def attempt_failed(ctx: RMContext, app: RMApp, attempt: RMAttempt, reason: str) -> None:
    """The AM died or timed out: retry if attempts are left, else fail the app."""
    stop_attempt_containers(ctx, app, attempt)
    attempt_user_gone(ctx, attempt)
    attempt.diagnostics = reason
    attempt.finish_time = now_ms()
    if app.state is A.KILLING:
        finish_app(ctx, app, A.KILLED, FinalApplicationStatus.KILLED, app.diagnostics)
        return
    if len(app.attempts) < app.max_attempts:
        log.info("%s failed; starting attempt %d of %d", attempt.attempt_id, len(app.attempts) + 1, app.max_attempts)
        app_event(ctx, app, AppEvent.ATTEMPT_FAILED_RETRY)
        start_attempt(ctx, app)
        ctx.needs_schedule = True
        return
    diag = f"Application {app.app_id} failed {app.max_attempts} times due to {reason}. Failing the application."
    finish_app(ctx, app, A.FAILED, FinalApplicationStatus.FAILED, diag)


def stop_attempt_containers(ctx: RMContext, app: RMApp, attempt: RMAttempt) -> None:
    why = "Container killed by the ResourceManager: its application attempt ended"
    for cid in list(ctx.app_containers.get(app.app_id, ())):
        rc = ctx.containers.get(cid)
        if rc is not None and rc.attempt_id == attempt.attempt_id:
            containers.stop_container(ctx, cid, ContainerExitStatus.KILLED_BY_RESOURCEMANAGER, why)
            containers.complete_container(ctx, cid, ContainerExitStatus.KILLED_BY_RESOURCEMANAGER, why,
                                          ContainerEvent.KILL)


def am_container_finished(ctx: RMContext, app: RMApp, attempt: RMAttempt, exit_status: int,
                          diagnostics: str) -> None:
    """The AM container ended: the attempt finished (it had unregistered), the app's kill is done, or the
    attempt failed."""
    attempt.exit_status = exit_status
    if APP_MACHINE.is_final(app.state) or ATTEMPT_MACHINE.is_final(attempt.state):
        return
    if attempt.state is AttemptState.FINISHING:
        attempt_event(attempt, AttemptEvent.CONTAINER_FINISHED)
        attempt.finish_time = now_ms()
        killed = app.state is A.KILLING
        final = FinalApplicationStatus.KILLED if killed else attempt.final_status
        finish_app(ctx, app, A.KILLED if killed else A.FINISHED, final, attempt.diagnostics)
        return
    if app.state is A.KILLING:
        finish_app(ctx, app, A.KILLED, FinalApplicationStatus.KILLED, app.diagnostics)
        return
    attempt_event(attempt, AttemptEvent.CONTAINER_FINISHED)
    url = f"{ctx.web_address}/cluster/app/{app.app_id}"
    reason = (f"AM Container for {attempt.attempt_id} exited with  exitCode: {exit_status}\n"
              f"Failing this attempt.Diagnostics: {diagnostics}\n"
              f"For more detailed output, check the application tracking page: {url} "
              "Then click on links to logs of each attempt.\n")
    attempt_failed(ctx, app, attempt, reason)


# ---- the end of an app ------------------------------------------------------------------------


def finish_app(ctx: RMContext, app: RMApp, state: YarnApplicationState, final: FinalApplicationStatus,
               diagnostics: str) -> None:
    """The app ends in `state`: through FINAL_SAVING where its machine says so (saved at once: the store
    writes the final state with the rest of this batch); its containers stopped, its nodes told."""
    if APP_MACHINE.is_final(app.state):
        return
    before = app.state
    if state is A.KILLED:
        event = AppEvent.ATTEMPT_KILLED if before is A.KILLING else AppEvent.KILL
    else:
        event = AppEvent.ATTEMPT_FAILED if state is A.FAILED else AppEvent.ATTEMPT_FINISHED
    if A.FINAL_SAVING in APP_MACHINE.targets(before, event):
        ended = app_event(ctx, app, event, A.FINAL_SAVING) and app_event(ctx, app, AppEvent.APP_SAVED, state)
    else:
        ended = app_event(ctx, app, event, state)
    if not ended:
        return
    app.final_status = final
    app.diagnostics = diagnostics
    app.pending_reason = ""
    app.finish_time = now_ms()
    app.progress = 1.0 if state is A.FINISHED else app.progress
    attempt = app.current
    if attempt is not None and not ATTEMPT_MACHINE.is_final(attempt.state):
        # FINISHED: an attempt that unregistered and whose AM never reported its exit; otherwise killed.
        attempt_event(attempt, AttemptEvent.EXPIRE if state is A.FINISHED else AttemptEvent.KILL)
        attempt.finish_time = app.finish_time
    if attempt is not None:
        attempt_user_gone(ctx, attempt)
    status = (ContainerExitStatus.KILLED_BY_RESOURCEMANAGER if state is A.KILLED
              else ContainerExitStatus.KILLED_AFTER_APP_COMPLETION)
    why = "Container killed by the ResourceManager: application ended"
    for cid in list(ctx.app_containers.get(app.app_id, ())):
        containers.stop_container(ctx, cid, status, why)
        containers.complete_container(ctx, cid, status, why, ContainerEvent.KILL)
    ctx.sched_apps.pop(app.app_id, None)
    # A LOST or SHUTDOWN node will never upload its part: owing nothing, it gets no command either.
    live_nodes = sorted(n for n in app.nodes_used if (node := ctx.nodes.get(n)) is not None
                        and node.state in ACTIVE_STATES)
    if live_nodes:
        ctx.out.log_nodes.append((app.app_id, live_nodes))
        for node_id in live_nodes:
            containers.send_nm(ctx, node_id, ApplicationFinished(application_id=app.app_id))
    ctx.out.apps.add(app.app_id)
    ctx.needs_schedule = True
    log.info("%s State change from %s to %s on event = %s; final status %s",
             app.app_id, before.value, state.value, event.value, final.value)
    app_completed(ctx, app.app_id)


def app_completed(ctx: RMContext, app_id: str) -> None:
    """Remember a completed app, and forget the oldest past max-completed-applications, as YARN's
    RMAppManager does: from memory and from the store."""
    ctx.completed_apps[app_id] = None
    while len(ctx.completed_apps) > max(0, ctx.max_completed):
        oldest = next(iter(ctx.completed_apps))
        del ctx.completed_apps[oldest]
        ctx.apps.pop(oldest, None)
        ctx.app_containers.pop(oldest, None)
        ctx.app_usage.pop(oldest, None)
        ctx.out.apps.discard(oldest)
        ctx.out.apps_removed.append(oldest)
