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
from typing import Literal, overload

from miniyarn import keys
from miniyarn.ids import ContainerId
from miniyarn.records import Container
from miniyarn.redisconn import data, text
from miniyarn.states.application import APP_MACHINE
from miniyarn.states.attempt import ATTEMPT_MACHINE, AttemptEvent, AttemptState
from miniyarn.states.container import RMContainerState
from miniyarn.states.node import ACTIVE_STATES
from resourcemanager.rm import ResourceManager, now_ms
from resourcemanager.rmstate import RMApp, RMContainer, RMNode
from resourcemanager.scheduler.model import SchedulerApp, SchedulerNode

log = logging.getLogger("resourcemanager")


def recover(rm: ResourceManager) -> None:
    r = rm.redis
    rm.epoch = int(r.hincrby(keys.cluster(), "epoch", 1)) - 1
    r.hset(keys.cluster(), "clusterTimestamp", rm.cluster_ts)
    now = now_ms()
    unacquired: set[str] = set()
    completed: list[RMApp] = []
    for raw in _mget(rm, [keys.app(text(i)) for i in r.zrange(keys.apps(), 0, -1)]):
        app = RMApp.model_validate_json(raw)
        rm.apps[app.app_id] = app
        if APP_MACHINE.is_final(app.state):
            completed.append(app)
            continue
        attempt = app.current
        sapp = SchedulerApp(app_id=app.app_id, queue=app.queue, user=app.user, order=app.seq,
                            priority=app.submission.priority,
                            am_resource=rm.normalize(app.submission.resource))
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
                rm.out.users_created[attempt.attempt_id] = rm.amrm_token(attempt.attempt_id)
        rm.sched_apps[app.app_id] = sapp
    for raw in _mget(rm, [keys.node(text(i)) for i in r.smembers(keys.nodes())]):
        node = RMNode.model_validate_json(raw)
        node.last_heartbeat_ms = now
        node.containers = []
        node.used = node.used.model_copy(update={"memory": 0, "vcores": 0})
        rm.nodes[node.node_id] = node
        rm.sched_nodes[node.node_id] = SchedulerNode(node.node_id, node.capability,
                                                     schedulable=node.state in ACTIVE_STATES)
    prefix_len = len(keys.container(""))
    container_keys = [text(k) for k in r.scan_iter(match=keys.container("*"), count=1000)]
    for key, stored in zip(container_keys, _mget(rm, container_keys, keep_missing=True), strict=True):
        if stored is None:
            continue
        cid = key[prefix_len:]
        container = Container.model_validate_json(stored)
        parsed = ContainerId.parse(cid)
        owner = rm.apps.get(str(parsed.application_id))
        if owner is None or APP_MACHINE.is_final(owner.state):
            continue
        app = owner
        attempt_id = str(parsed.attempt_id)
        rm.container_seq[attempt_id] = max(rm.container_seq.get(attempt_id, 0), parsed.container_id)
        if cid in unacquired:
            _drop_unacquired(rm, app, container)
            continue
        is_am = any(a.am_container_id == cid for a in app.attempts)
        rm.containers[cid] = RMContainer(container=container, app_id=app.app_id, attempt_id=attempt_id,
                                         state=RMContainerState.ACQUIRED, is_am=is_am, start_time=now,
                                         recovered=True)
        host = rm.nodes.get(container.node_id)
        snode = rm.sched_nodes.get(container.node_id)
        if host is not None and snode is not None:
            host.containers.append(cid)
            snode.used = snode.used + container.resource
            host.used = snode.used
        owner_sapp = rm.sched_apps.get(app.app_id)
        if owner_sapp is not None:
            owner_sapp.used = owner_sapp.used + container.resource
            owner_sapp.am_active = owner_sapp.am_active or is_am
    for app in sorted(completed, key=lambda a: (a.finish_time, a.seq)):
        rm.app_completed(app.app_id)
    # Grants whose record was gone (never stored): nothing holds them, their asks come back all the same.
    for app in rm.apps.values():
        attempt = app.current
        if attempt is not None and attempt.new_containers and not APP_MACHINE.is_final(app.state):
            for c in list(attempt.new_containers):
                _drop_unacquired(rm, app, c)
    rm.needs_schedule = True
    if rm.apps or rm.nodes:
        log.info("Recovered %d applications, %d nodes, %d live containers (epoch %d)",
                 len(rm.apps), len(rm.nodes), len(rm.containers), rm.epoch)


# Keys per MGET while recovering: one round trip per thousand records instead of one per record.
MGET_BATCH = 1000


@overload
def _mget(rm: ResourceManager, names: list[str]) -> list[bytes]: ...
@overload
def _mget(rm: ResourceManager, names: list[str], keep_missing: Literal[True]) -> list[bytes | None]: ...
def _mget(rm: ResourceManager, names: list[str], keep_missing: bool = False) -> list[bytes] | list[bytes | None]:
    got: list[bytes | None] = []
    for i in range(0, len(names), MGET_BATCH):
        got.extend(data(v) if v is not None else None for v in rm.redis.mget(names[i:i + MGET_BATCH]))
    return got if keep_missing else [v for v in got if v is not None]


def _drop_unacquired(rm: ResourceManager, app: RMApp, container: Container) -> None:
    """A grant its AM never received: forgotten (its record deleted). The AM still counts it among its
    asks and resends them when it re-registers."""
    log.info("Recovering %s: %s was granted but never acquired by its AM; dropping it (the AM asks again "
             "when it re-registers)", app.app_id, container.id)
    attempt = app.current
    if attempt is not None:
        attempt.new_containers = [c for c in attempt.new_containers if c.id != container.id]
    rm.out.containers[container.id] = None
    rm.out.apps.add(app.app_id)
