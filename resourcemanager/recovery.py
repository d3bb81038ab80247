"""Rebuilding the RM's memory from Redis at start, so a restarted RM loses nothing.

Applications, attempts, nodes and live containers come back as they were stored; nodes get a
fresh liveness window, and container ids of this RM run carry a new epoch (`container_e01_…`).
Live attempts get their Redis users again (the tokens derive from the master key, so they are the
same as before the restart).
"""

from __future__ import annotations

import logging

from miniyarn import keys
from miniyarn.ids import ContainerId
from miniyarn.records import Container
from miniyarn.redisconn import text
from miniyarn.states.application import APP_MACHINE
from miniyarn.states.attempt import AttemptState
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
    for raw_id in r.zrange(keys.apps(), 0, -1):
        raw = r.get(keys.app(text(raw_id)))
        if raw is None:
            continue
        app = RMApp.model_validate_json(raw)
        rm.apps[app.app_id] = app
        if APP_MACHINE.is_final(app.state):
            continue
        attempt = app.current
        sapp = SchedulerApp(app_id=app.app_id, queue=app.queue, user=app.user, order=app.seq,
                            priority=app.submission.priority,
                            am_resource=rm.normalize(app.submission.resource))
        if attempt is not None:
            sapp.am_pending = attempt.state is AttemptState.SCHEDULED
            for ask in attempt.asks:
                sapp.set_ask(ask)
            attempt.last_heartbeat_ms = now
            if attempt.am_container_id:
                # Its AM may still run: its Redis user must (again) exist, even if Redis lost it.
                rm.out.users_created[attempt.attempt_id] = rm.amrm_token(attempt.attempt_id)
        rm.sched_apps[app.app_id] = sapp
    for raw_id in r.smembers(keys.nodes()):
        raw = r.get(keys.node(text(raw_id)))
        if raw is None:
            continue
        node = RMNode.model_validate_json(raw)
        node.last_heartbeat_ms = now
        node.containers = []
        node.used = node.used.model_copy(update={"memory": 0, "vcores": 0})
        rm.nodes[node.node_id] = node
        rm.sched_nodes[node.node_id] = SchedulerNode(node.node_id, node.capability,
                                                     schedulable=node.state in ACTIVE_STATES)
    prefix_len = len(keys.container(""))
    for raw_key in r.scan_iter(match=keys.container("*"), count=1000):
        cid = text(raw_key)[prefix_len:]
        raw = r.get(keys.container(cid))
        if raw is None:
            continue
        container = Container.model_validate_json(raw)
        parsed = ContainerId.parse(cid)
        owner = rm.apps.get(str(parsed.application_id))
        if owner is None or APP_MACHINE.is_final(owner.state):
            continue
        app = owner
        attempt_id = str(parsed.attempt_id)
        is_am = any(a.am_container_id == cid for a in app.attempts)
        rm.containers[cid] = RMContainer(container=container, app_id=app.app_id, attempt_id=attempt_id,
                                         state=RMContainerState.RUNNING, is_am=is_am, start_time=now)
        rm.container_seq[attempt_id] = max(rm.container_seq.get(attempt_id, 0), parsed.container_id)
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
    rm.needs_schedule = True
    if rm.apps or rm.nodes:
        log.info("Recovered %d applications, %d nodes, %d live containers (epoch %d)",
                 len(rm.apps), len(rm.nodes), len(rm.containers), rm.epoch)
