"""What the RM does with each inbox message: node heartbeats (ResourceTrackerService) and the
AMRM protocol (ApplicationMasterService: register, allocate, finish).

Node messages can only come from the `nm` Redis user (the ACL lets no one else push the node inbox);
an AM call is acted on only if it carries the AMRM token of the attempt it names and asks for its
answer under that attempt's reply prefix. Everything refused is logged with the claim it made."""

from __future__ import annotations

import logging

from miniyarn import keys
from miniyarn.exit_status import ContainerExitStatus
from miniyarn.protocol import (
    Allocate,
    AllocateResponse,
    FinishApplicationMaster,
    FinishResponse,
    Msg,
    NodeHeartbeat,
    NodeShutdown,
    RegisterApplicationMaster,
    RegisterResponse,
    RemoteError,
    RMMessage,
)
from miniyarn.records import ResourceRequest
from miniyarn.security.credentials import same
from miniyarn.states.application import APP_MACHINE, AppEvent, YarnApplicationState
from miniyarn.states.attempt import AttemptEvent, AttemptState
from miniyarn.states.container import CONTAINER_MACHINE, ContainerEvent, ContainerState, RMContainerState
from miniyarn.states.node import ACTIVE_STATES, NodeEvent, NodeState
from resourcemanager import app_transitions, container_transitions, node_transitions, scheduling, secret_managers
from resourcemanager.context import MISSING_GRACE_MS, RMContext, now_ms
from resourcemanager.errors import AMRMError, InvalidResourceRequest
from resourcemanager.rmstate import RMApp, RMAttempt, RMNode
from resourcemanager.scheduler.model import SchedulerNode

log = logging.getLogger("resourcemanager")


def handle(rm: RMContext, msg: RMMessage) -> None:
    if isinstance(msg, NodeHeartbeat):
        node_heartbeat(rm, msg)
    elif isinstance(msg, NodeShutdown):
        node = rm.nodes.get(msg.node_id)
        if node is not None and node.state in ACTIVE_STATES:
            node_transitions.node_lost(rm, node, NodeEvent.SHUTDOWN, "Container released on a node that shut down")
    else:
        if not msg.reply_to.startswith(keys.reply_prefix(msg.attempt_id)):
            # Not answered at all: an answer would land on a list that is not the claimed attempt's.
            log.warning("Refusing %s claimed by %s: reply list %.120s is not under %s*", msg.type, msg.attempt_id,
                        msg.reply_to, keys.reply_prefix(msg.attempt_id))
            return
        try:
            if not same(msg.amrm_token, secret_managers.amrm_token(rm, msg.attempt_id)):
                log.warning("Refusing %s: Invalid AMRMToken from %s", msg.type, msg.attempt_id)
                raise AMRMError("InvalidApplicationMasterRequestException",
                                f"Invalid AMRMToken from {msg.attempt_id}")
            reply: Msg = am_call(rm, msg)
        except AMRMError as e:
            reply = RemoteError(exception=e.exception, message=e.message)
        except Exception as e:  # a bug of ours: the AM gets YARN's wrapper of it now, not silence and a retry
            log.exception("Error handling %s from %s", msg.type, msg.attempt_id)
            reply = RemoteError(exception="YarnRuntimeException",
                                message=f"{type(e).__name__} handling {msg.type} of {msg.attempt_id}: {e}")
        rm.out.replies.append((msg.reply_to, reply.model_dump_json()))


# ---- ResourceTrackerService ------------------------------------------------------------


def node_heartbeat(rm: RMContext, hb: NodeHeartbeat) -> None:
    now = now_ms()
    node = rm.nodes.get(hb.node_id)
    if node is None:
        node = RMNode(node_id=hb.node_id, http_address=hb.http_address, capability=hb.capability, rack=hb.rack)
        rm.nodes[hb.node_id] = node
        node_transitions.node_event(rm, node, NodeEvent.STARTED)
        log.info("NodeManager from node %s registered with capability: %s", hb.node_id, hb.capability)
    elif node.state not in ACTIVE_STATES:
        node_transitions.node_event(rm, node, NodeEvent.RECONNECTED)
        log.info("Reconnect from the node at: %s", hb.node_id)
    if node.capability != hb.capability or node.http_address != hb.http_address:
        node.capability = hb.capability
        node.http_address = hb.http_address
        rm.out.nodes.add(node.node_id)
    healthy_event = NodeEvent.HEALTHY if hb.healthy else NodeEvent.UNHEALTHY
    if node.state is not (NodeState.RUNNING if hb.healthy else NodeState.UNHEALTHY):
        node_transitions.node_event(rm, node, healthy_event)
    node.health_report = hb.health_report
    node.version = hb.version
    node.last_heartbeat_ms = now
    snode = rm.sched_nodes.get(node.node_id)
    if snode is None:
        snode = SchedulerNode(node.node_id, node.capability, node.used)
        rm.sched_nodes[node.node_id] = snode
        rm.needs_schedule = True
    if snode.capability != node.capability or snode.schedulable != hb.healthy:
        snode.capability = node.capability
        snode.schedulable = hb.healthy
        rm.needs_schedule = True
    reported: set[str] = set()
    for status in hb.container_statuses:
        reported.add(status.container_id)
        rc = rm.containers.get(status.container_id)
        if rc is None or rc.container.node_id != node.node_id:
            continue
        rc.missing_since_ms = 0
        if status.state is ContainerState.COMPLETE:
            container_transitions.complete_container(rm, status.container_id, status.exit_status, status.diagnostics)
        elif status.state is ContainerState.RUNNING:
            container_transitions.container_launched(rm, rc)
    _resync_missing(rm, node, reported, now)


def _resync_missing(rm: RMContext, node: RMNode, reported: set[str], now: int) -> None:
    """An NM reports every container it holds in every heartbeat. One the RM knows runs there (reported
    running before, or recovered from before an RM restart) and that the node has left out of its reports
    for MISSING_GRACE_MS is gone: an NM restarted without recovering it. Completed, so its AM hears of it
    and its resources come back; kept, it was a ghost the app waited on forever."""
    for cid in container_transitions.on_node(rm, node.node_id):
        if cid in reported:
            continue
        rc = rm.containers.get(cid)
        if rc is None or not (rc.state is RMContainerState.RUNNING or rc.recovered):
            continue  # granted or acquired, not launched yet: allocation expiry watches those
        if not rc.missing_since_ms:
            rc.missing_since_ms = now
        elif now - rc.missing_since_ms >= MISSING_GRACE_MS:
            log.info("%s is no longer reported by %s (missing for %d ms); completing it", cid, node.node_id,
                     now - rc.missing_since_ms)
            container_transitions.complete_container(rm, cid, ContainerExitStatus.ABORTED,
                                  f"Container {cid} is not running on {node.node_id}: its NodeManager no "
                                  "longer reports it (restarted without recovering it)")


# ---- ApplicationMasterService ------------------------------------------------------------


def _attempt_of(rm: RMContext, attempt_id: str) -> tuple[RMApp, RMAttempt]:
    app_id = "application_" + attempt_id[len("appattempt_"):].rsplit("_", 1)[0]
    app = rm.apps.get(app_id)
    attempt = next((a for a in app.attempts if a.attempt_id == attempt_id), None) if app else None
    if app is None or attempt is None:
        raise AMRMError("ApplicationAttemptNotFoundException",
                        f"Application attempt {attempt_id} doesn't exist in ApplicationMasterService cache.")
    if attempt is not app.current or APP_MACHINE.is_final(app.state):
        raise AMRMError("ApplicationAttemptNotFoundException",
                        f"Application attempt {attempt_id} is not the current attempt of {app_id} "
                        f"(application is {app.state.value}).")
    return app, attempt


def am_call(rm: RMContext, msg: RegisterApplicationMaster | Allocate | FinishApplicationMaster) -> Msg:
    app, attempt = _attempt_of(rm, msg.attempt_id)
    attempt.last_heartbeat_ms = now_ms()
    if isinstance(msg, RegisterApplicationMaster):
        return register(rm, app, attempt, msg)
    if isinstance(msg, FinishApplicationMaster) and attempt.state is AttemptState.FINISHING:
        # An unregister retried after its answer was lost: already done (YARN answers isUnregistered).
        return FinishResponse()
    if attempt.state is not AttemptState.RUNNING:
        raise AMRMError("ApplicationMasterNotRegisteredException",
                        f"AM is not registered for known application attempt: {attempt.attempt_id} or RM had "
                        "restarted after AM registered. AM should re-register.")
    if isinstance(msg, Allocate):
        return allocate(rm, app, attempt, msg)
    return finish(rm, app, attempt, msg)


def register(rm: RMContext, app: RMApp, attempt: RMAttempt, msg: RegisterApplicationMaster) -> Msg:
    if attempt.state is AttemptState.RUNNING and attempt.response_id == 0 and \
            (attempt.host, attempt.rpc_port, attempt.tracking_url) == (msg.host, msg.rpc_port, msg.tracking_url):
        # The same registration again before any allocate: a retry whose first answer was lost (the AMRM
        # client retries within yarn.resourcemanager.connect.max-wait.ms). Answered as the first was.
        return RegisterResponse(maximum_capability=scheduling.effective_max(rm), queue=app.queue.rsplit(".", 1)[-1])
    if attempt.state is AttemptState.RUNNING:
        raise AMRMError("InvalidApplicationMasterRequestException",
                        f"Application Master is already registered : {app.app_id}")
    if attempt.state is not AttemptState.LAUNCHED:
        raise AMRMError("InvalidApplicationMasterRequestException",
                        f"Application Master for {attempt.attempt_id} cannot register in state {attempt.state.value}")
    attempt.host = msg.host
    attempt.rpc_port = msg.rpc_port
    attempt.tracking_url = msg.tracking_url
    # A (re-)registration starts the allocate sequence again, as YARN's lastResponse is reset.
    attempt.response_id = 0
    attempt.last_response = None
    app_transitions.attempt_event(attempt, AttemptEvent.REGISTERED)
    rm.out.apps.add(app.app_id)
    if app.state is YarnApplicationState.KILLING:
        app_transitions.app_event(rm, app, AppEvent.ATTEMPT_REGISTERED)  # stays KILLING: its container is being stopped
    elif app.state is not YarnApplicationState.RUNNING:
        app_transitions.app_event(rm, app, AppEvent.ATTEMPT_REGISTERED)
        app.diagnostics = ""
        log.info("AM registration %s; %s State change from ACCEPTED to RUNNING", attempt.attempt_id, app.app_id)
    else:
        # An AM of a recovered attempt, resyncing after an RM restart: it keeps its containers.
        log.info("AM re-registration %s after the ResourceManager restarted", attempt.attempt_id)
    return RegisterResponse(maximum_capability=scheduling.effective_max(rm), queue=app.queue.rsplit(".", 1)[-1])


def allocate(rm: RMContext, app: RMApp, attempt: RMAttempt, msg: Allocate) -> Msg:
    # YARN's response-id check: the id the last response gave is the one to send; one step behind is a
    # retry whose answer was lost (it gets that answer again, changing nothing); anything else is refused.
    if attempt.last_response is not None and msg.response_id + 1 == attempt.response_id:
        return attempt.last_response
    if msg.response_id != attempt.response_id:
        raise AMRMError("InvalidApplicationMasterRequestException",
                        f"Invalid responseId in AllocateRequest from application attempt: {attempt.attempt_id}, "
                        f"expect responseId to be {attempt.response_id}, but get {msg.response_id}")
    # Validate every ask before applying any: a bad request must change nothing.
    normalized: list[ResourceRequest] = []
    limit = scheduling.effective_max(rm) if msg.asks else rm.max_alloc  # once per call: it scans the nodes
    for ask in msg.asks:
        try:
            cap = scheduling.normalize(rm, ask.capability, limit)
        except InvalidResourceRequest as e:
            raise AMRMError("InvalidResourceRequestException", e.message) from None
        if ask.num_containers < 0:
            raise AMRMError("InvalidResourceRequestException", f"Invalid numContainers {ask.num_containers}")
        normalized.append(ask.model_copy(update={"capability": cap}))
    sapp = rm.sched_apps.get(app.app_id)
    if sapp is not None:
        for ask in normalized:
            sapp.set_ask(ask)
        if normalized:
            rm.needs_schedule = True
            attempt.asks = [a.model_copy() for a in sapp.asks.values()]  # kept for RM recovery
    for cid in msg.releases:
        rc = rm.containers.get(cid)
        if rc is None or rc.app_id != app.app_id or rc.is_am:
            continue
        why = "Container released by application"
        container_transitions.stop_container(rm, cid, ContainerExitStatus.ABORTED, why)
        container_transitions.complete_container(rm, cid, ContainerExitStatus.ABORTED, why, ContainerEvent.RELEASED)
    app.progress = max(0.0, min(1.0, msg.progress))
    allocated = attempt.new_containers
    completed = attempt.completed
    attempt.new_containers = []
    attempt.completed = []
    for c in allocated:
        rc = rm.containers.get(c.id)
        if rc is not None and rc.state is RMContainerState.ALLOCATED:
            CONTAINER_MACHINE.fire(rc, ContainerEvent.ACQUIRED, what=c.id)
    attempt.response_id += 1
    if allocated or completed or normalized:
        rm.out.apps.add(app.app_id)
    if allocated or completed:
        # Stored before the reply goes out (flush_replies): an RM that dies after answering must not find
        # these containers unacquired at recovery and hand their asks out a second time, nor tell the AM
        # of the same completed containers again.
        rm.out.acquired_apps.add(app.app_id)
    avail, num_nodes = scheduling.headroom(rm)
    tokens = {c.id: secret_managers.container_token(rm, c.id) for c in allocated}
    response = AllocateResponse(response_id=attempt.response_id, allocated_containers=allocated,
                                completed_container_statuses=completed, available_resources=avail,
                                num_cluster_nodes=num_nodes, pending_reason=app.pending_reason,
                                container_tokens=tokens)
    attempt.last_response = response
    return response


def finish(rm: RMContext, app: RMApp, attempt: RMAttempt, msg: FinishApplicationMaster) -> Msg:
    attempt.final_status = msg.final_status
    attempt.diagnostics = msg.diagnostics
    if msg.tracking_url:
        attempt.tracking_url = msg.tracking_url
    app_transitions.attempt_event(attempt, AttemptEvent.UNREGISTERED)
    # A KILLING app stays KILLING (its AM's container is being stopped); any other goes through
    # FINAL_SAVING to FINISHING, where it waits for the AM container to exit.
    if app_transitions.app_event(rm, app, AppEvent.ATTEMPT_UNREGISTERED) and \
            app.state is YarnApplicationState.FINAL_SAVING:
        app_transitions.app_event(rm, app, AppEvent.APP_SAVED, YarnApplicationState.FINISHING)
    app.diagnostics = msg.diagnostics
    app.progress = 1.0
    sapp = rm.sched_apps.get(app.app_id)
    if sapp is not None:
        sapp.asks.clear()
    log.info("%s unregistered with final status %s", attempt.attempt_id, msg.final_status.value)
    return FinishResponse()
