"""Rebuilding the RM's memory from Redis at start, so a restarted RM loses nothing.

Applications, attempts, nodes and live containers come back as they were stored; nodes get a
fresh liveness window, and container ids of this RM run carry a new epoch (`container_e01_…`).
Live attempts get their Redis users again (the tokens derive from the master key, so they are the
same as before the restart).

Work-preserving, as YARN's RM restart: a running attempt comes back LAUNCHED, so its AM's next call gets
ApplicationMasterNotRegisteredException and the AM re-registers and resends its asks, keeping its
containers. Containers come back ACQUIRED, not RUNNING: their nodes' next reports say which still run
(one left out of its node's reports is completed, see services.node_heartbeat). A container granted and
never handed to its AM (the RM died before the AM's next allocate) is dropped and its ask given back: the
AM never heard of it (its resync asks for it again), and keeping it made a ghost that held its node and was
never launched.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from miniyarn.ids import ContainerId
from miniyarn.records import Container
from miniyarn.states.application import APP_MACHINE
from miniyarn.states.attempt import ATTEMPT_MACHINE, AttemptEvent, AttemptState
from miniyarn.states.container import RMContainerState
from miniyarn.states.node import ACTIVE_STATES
from resourcemanager import app_transitions, container_transitions, scheduling, secret_managers
from resourcemanager.context import RMContext, now_ms
from resourcemanager.rmstate import RMApp, RMContainer, RMNode
from resourcemanager.scheduler.model import SchedulerApp, SchedulerNode
from resourcemanager.store import RMStore

if TYPE_CHECKING:
    from resourcemanager.rm import ResourceManager

log = logging.getLogger("resourcemanager")


def recover(rm: ResourceManager) -> None:
    """Rebuild `rm`'s context from its store (daemon start-up, before the inbox loop runs)."""
    _recover(rm, rm.store)


def _recover(ctx: RMContext, store: RMStore) -> None:
    ctx.epoch = store.next_epoch(ctx.cluster_ts)
    now = now_ms()
    unacquired: set[str] = set()
    completed: list[RMApp] = []
    for raw in store.stored_apps():
        app = RMApp.model_validate_json(raw)
        ctx.apps[app.app_id] = app
        if APP_MACHINE.is_final(app.state):
            completed.append(app)
            continue
        attempt = app.current
        sapp = SchedulerApp(app_id=app.app_id, queue=app.queue, user=app.user, order=app.seq,
                            priority=app.submission.priority,
                            am_resource=scheduling.normalize(ctx, app.submission.resource))
        if attempt is not None:
            sapp.am_pending = attempt.state is AttemptState.SCHEDULED
            # Its asks are not recovered, as YARN's are not: the AM re-registers and resends its whole ask
            # table, which is the truth (it counts what the AM still waits for). Scheduled from the stored
            # copy before the AM was back, then set again by the resync, they were granted twice.
            attempt.last_heartbeat_ms = now
            if attempt.state is AttemptState.RUNNING:
                # The new RM has not seen this AM register: it must again (YARN's resync).
                ATTEMPT_MACHINE.fire(attempt, AttemptEvent.RECOVER, what=attempt.attempt_id)
            unacquired.update(c.id for c in attempt.new_containers)
            if attempt.am_container_id:
                # Its AM may still run: its Redis user must (again) exist, even if Redis lost it.
                ctx.out.users_created[attempt.attempt_id] = secret_managers.amrm_token(ctx, attempt.attempt_id)
        ctx.sched_apps[app.app_id] = sapp
    for raw in store.stored_nodes():
        node = RMNode.model_validate_json(raw)
        if node.state in ACTIVE_STATES:
            # A fresh liveness window for a node that may still be alive; a LOST (or decommissioned, shut
            # down) node keeps its last heartbeat, which is what its page shows: not a time after its death.
            node.last_heartbeat_ms = now
        node.used = node.used.model_copy(update={"memory": 0, "vcores": 0})
        ctx.nodes[node.node_id] = node
        ctx.sched_nodes[node.node_id] = SchedulerNode(node.node_id, node.capability,
                                                      schedulable=node.state in ACTIVE_STATES)
    for cid, stored in store.stored_containers():
        container = Container.model_validate_json(stored)
        parsed = ContainerId.parse(cid)
        owner = ctx.apps.get(str(parsed.application_id))
        if owner is None or APP_MACHINE.is_final(owner.state):
            continue
        app = owner
        attempt_id = str(parsed.attempt_id)
        ctx.container_seq[attempt_id] = max(ctx.container_seq.get(attempt_id, 0), parsed.container_id)
        if cid in unacquired:
            _drop_unacquired(ctx, app, container)
            continue
        is_am = any(a.am_container_id == cid for a in app.attempts)
        container_transitions.add_container(ctx, RMContainer(
            container=container, app_id=app.app_id, attempt_id=attempt_id, state=RMContainerState.ACQUIRED,
            is_am=is_am, start_time=now, recovered=True))
        host = ctx.nodes.get(container.node_id)
        snode = ctx.sched_nodes.get(container.node_id)
        if host is not None and snode is not None:
            snode.used = snode.used + container.resource
            host.used = snode.used
        owner_sapp = ctx.sched_apps.get(app.app_id)
        if owner_sapp is not None:
            owner_sapp.used = owner_sapp.used + container.resource
            owner_sapp.am_active = owner_sapp.am_active or is_am
    for app in sorted(completed, key=lambda a: (a.finish_time, a.seq)):
        app_transitions.app_completed(ctx, app.app_id)
    # Grants whose record was gone (never stored): nothing holds them, their asks come back all the same.
    for app in ctx.apps.values():
        attempt = app.current
        if attempt is not None and attempt.new_containers and not APP_MACHINE.is_final(app.state):
            for c in list(attempt.new_containers):
                _drop_unacquired(ctx, app, c)
    ctx.needs_schedule = True
    if ctx.apps or ctx.nodes:
        log.info("Recovered %d applications, %d nodes, %d live containers (epoch %d)",
                 len(ctx.apps), len(ctx.nodes), len(ctx.containers), ctx.epoch)


def _drop_unacquired(ctx: RMContext, app: RMApp, container: Container) -> None:
    """A grant its AM never received: forgotten (its record deleted). The AM still counts it among its
    asks and resends them when it re-registers."""
    log.info("Recovering %s: %s was granted but never acquired by its AM; dropping it (the AM asks again "
             "when it re-registers)", app.app_id, container.id)
    attempt = app.current
    if attempt is not None:
        attempt.new_containers = [c for c in attempt.new_containers if c.id != container.id]
    ctx.out.containers[container.id] = None
    ctx.out.apps.add(app.app_id)
