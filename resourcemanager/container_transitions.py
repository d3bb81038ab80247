"""RMContainer transitions: a grant placed on a node, launched, and ended by what ended it (its node's
report, its AM's release, allocation expiry, a kill). Each mutates the context (the container, its node,
its app and the scheduler's mirrors of them) and the outbox; the caller flushes."""

from __future__ import annotations

from miniyarn import keys
from miniyarn.ids import ApplicationAttemptId, ContainerId
from miniyarn.protocol import ContainerGrant, Msg, StopContainer
from miniyarn.records import GUARANTEED, Container, ContainerStatus, trusted
from miniyarn.security import credentials as creds
from miniyarn.states.attempt import ATTEMPT_MACHINE, AttemptEvent
from miniyarn.states.container import CONTAINER_MACHINE, ContainerEvent, ContainerState, RMContainerState
from resourcemanager import app_transitions, launcher, secret_managers
from resourcemanager.context import FINISHED_CONTAINERS_KEPT, AppUsage, RMContext, now_ms
from resourcemanager.rmstate import RMContainer
from resourcemanager.scheduler.model import Allocation


def new_container_id(ctx: RMContext, attempt_id: str) -> str:
    n = ctx.container_seq.get(attempt_id, 0) + 1
    ctx.container_seq[attempt_id] = n
    prefix = ctx.container_prefix.get(attempt_id)
    if prefix is None:
        # The id up to the sequence number is fixed per attempt; build it once.
        prefix = str(ContainerId(ApplicationAttemptId.parse(attempt_id), 0, ctx.epoch))[:-6]
        ctx.container_prefix[attempt_id] = prefix
    return f"{prefix}{n:06d}"


def add_container(ctx: RMContext, rc: RMContainer) -> None:
    """A live container into the context and its per-app and per-node indexes (allocation, recovery)."""
    cid = rc.container.id
    ctx.containers[cid] = rc
    for indexes, owner in ((ctx.app_containers, rc.app_id), (ctx.node_containers, rc.container.node_id)):
        index = indexes.get(owner)
        if index is None:
            index = indexes[owner] = {}
        index[cid] = None
    usage = ctx.app_usage.get(rc.app_id)
    if usage is None:
        usage = ctx.app_usage[rc.app_id] = AppUsage()
    res = rc.container.resource
    usage.add(res.memory, res.vcores, rc.start_time)


def _unindex(indexes: dict[str, dict[str, None]], owner: str, cid: str) -> None:
    index = indexes.get(owner)
    if index is not None:
        index.pop(cid, None)
        if not index:
            del indexes[owner]


def on_node(ctx: RMContext, node_id: str) -> list[str]:
    """The live containers on `node_id`, from the per-node index (a copy: callers complete them)."""
    return list(ctx.node_containers.get(node_id, ()))


def _grant(ctx: RMContext, rc: RMContainer) -> ContainerGrant:
    """What NMs check a start against: the container and its token's digest."""
    token = rc.token or secret_managers.container_token(ctx, rc.container.id)
    return trusted(ContainerGrant, **rc.container.__dict__, token_digest=creds.digest(token))


def store_again(ctx: RMContext) -> int:
    """Queue the records of every live app, node and container again, after Redis was unreachable: it may be
    another Redis now. A Sentinel failover promotes a replica, and replication is asynchronous, so the writes
    the old master took in its last moments (a grant the AM was already handed, above all) may be missing
    there; an NM would then refuse the AM's start of that container ("No grant"), and the AM would count a
    failed container. Writing a record that is there already changes nothing. Returns the containers'."""
    out = ctx.out
    out.apps.update(ctx.apps)
    out.nodes.update(ctx.nodes)
    n = 0
    for cid, rc in ctx.containers.items():
        if cid not in out.containers:  # a grant or a deletion already queued is newer than this
            out.containers[cid] = _grant(ctx, rc)
            n += 1
    return n


def apply_allocation(ctx: RMContext, alloc: Allocation) -> None:
    """The scheduler placed a container: recorded, stored as a grant, and the AM's launched at once."""
    app = ctx.apps[alloc.app_id]
    attempt = app.current
    node = ctx.nodes[alloc.node_id]
    assert attempt is not None
    cid = new_container_id(ctx, attempt.attempt_id)
    # trusted(): every field comes from validated records, and this runs per container.
    container = trusted(Container, id=cid, node_id=node.node_id, node_http_address=node.http_address,
                        resource=alloc.resource, priority=alloc.priority,
                        allocation_request_id=alloc.allocation_request_id, exec_type=GUARANTEED)
    rc = RMContainer(container=container, app_id=app.app_id, attempt_id=attempt.attempt_id,
                     is_am=alloc.is_am, start_time=now_ms(),
                     state=CONTAINER_MACHINE.next(RMContainerState.NEW, ContainerEvent.START),
                     token=secret_managers.new_container_token(ctx, cid))
    add_container(ctx, rc)
    ctx.unlaunched[cid] = rc.start_time
    ctx.out.containers[cid] = _grant(ctx, rc)
    node.used = ctx.sched_nodes[node.node_id].used
    app.nodes_used.add(node.node_id)
    ctx.containers_allocated_total += 1
    if alloc.is_am:
        attempt.am_container_id = cid
        attempt.am_node_id = node.node_id
        attempt.am_node_http = node.http_address
        app_transitions.attempt_event(attempt, AttemptEvent.CONTAINER_ALLOCATED)
        if not app.launch_time:
            app.launch_time = now_ms()
        launcher.launch_am(ctx, app, attempt, container)
    else:
        attempt.new_containers.append(container)
    ctx.out.apps.add(app.app_id)
    ctx.out.nodes.add(node.node_id)


def container_launched(ctx: RMContext, rc: RMContainer) -> None:
    """Its node reports it running: allocation expiry no longer watches it."""
    if rc.state is not RMContainerState.RUNNING:
        CONTAINER_MACHINE.fire(rc, ContainerEvent.LAUNCHED, what=rc.container.id)
    rc.recovered = False
    ctx.unlaunched.pop(rc.container.id, None)


def complete_container(ctx: RMContext, cid: str, exit_status: int, diagnostics: str,
                       event: ContainerEvent = ContainerEvent.FINISHED) -> None:
    """The container ends by `event`: FINISHED (its node says so), RELEASED (its AM gave it back),
    EXPIRE (never launched in time) or KILL (its node, attempt or app ended)."""
    rc = ctx.containers.get(cid)
    if rc is None or not CONTAINER_MACHINE.fire(rc, event, what=cid):
        return
    del ctx.containers[cid]
    _unindex(ctx.app_containers, rc.app_id, cid)
    _unindex(ctx.node_containers, rc.container.node_id, cid)
    usage = ctx.app_usage.get(rc.app_id)
    if usage is not None:
        usage.add(rc.container.resource.memory, rc.container.resource.vcores, rc.start_time, sign=-1)
        if not usage.containers:
            del ctx.app_usage[rc.app_id]
    ctx.unlaunched.pop(cid, None)
    rc.exit_status = exit_status
    rc.diagnostics = diagnostics
    rc.finish_time = now_ms()
    ctx.out.containers[cid] = None
    res = rc.container.resource
    node = ctx.nodes.get(rc.container.node_id)
    snode = ctx.sched_nodes.get(rc.container.node_id)
    if snode is not None:
        snode.used = snode.used - res
    if node is not None:
        node.used = snode.used if snode is not None else node.used - res
        ctx.out.nodes.add(node.node_id)
    sapp = ctx.sched_apps.get(rc.app_id)
    if sapp is not None:
        sapp.used = sapp.used - res
        if rc.is_am:
            sapp.am_active = False
    ctx.needs_schedule = True
    app = ctx.apps.get(rc.app_id)
    if app is None:
        return
    app.finished_containers.append(rc)
    if len(app.finished_containers) > 2 * FINISHED_CONTAINERS_KEPT:
        del app.finished_containers[:-FINISHED_CONTAINERS_KEPT]
    seconds = max(0, rc.finish_time - rc.start_time) // 1000
    app.memory_seconds += res.memory * seconds
    app.vcore_seconds += res.vcores * seconds
    ctx.out.apps.add(app.app_id)
    attempt = next((a for a in app.attempts if a.attempt_id == rc.attempt_id), None)
    if attempt is None:
        return
    if rc.is_am:
        app_transitions.am_container_finished(ctx, app, attempt, exit_status, diagnostics)
    elif attempt is app.current and not ATTEMPT_MACHINE.is_final(attempt.state):
        attempt.completed.append(ContainerStatus(container_id=cid, state=ContainerState.COMPLETE,
                                                 exit_status=exit_status, diagnostics=diagnostics))


def stop_container(ctx: RMContext, cid: str, exit_status: int, diagnostics: str) -> None:
    """Tell its node to stop it (the node's report then completes it)."""
    rc = ctx.containers.get(cid)
    if rc is None:
        return
    send_nm(ctx, rc.container.node_id, StopContainer(container_id=cid, exit_status=int(exit_status),
                                                     diagnostics=diagnostics,
                                                     container_token=secret_managers.container_token(ctx, cid)))


def send_nm(ctx: RMContext, node_id: str, command: Msg) -> None:
    ctx.out.messages.append((keys.nm_commands(node_id), command.model_dump_json()))
