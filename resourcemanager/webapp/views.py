"""The RM's records rendered with YARN's REST field names (AppInfo, NodeInfo, ClusterMetricsInfo, ...)."""

from __future__ import annotations

from typing import Any

import miniyarn
from miniyarn.states.application import APP_MACHINE, FinalApplicationStatus, YarnApplicationState, client_view
from miniyarn.states.attempt import AttemptState
from miniyarn.states.node import ACTIVE_STATES, NodeState
from resourcemanager.context import AppUsage, RMContext, now_ms
from resourcemanager.rm import ResourceManager
from resourcemanager.rmstate import RMApp, RMContainer, RMNode
from resourcemanager.scheduler.queues import QueueConf

A = YarnApplicationState


def cluster_info(rm: ResourceManager) -> dict[str, Any]:
    v = miniyarn.__version__
    return {"clusterInfo": {
        "id": rm.cluster_ts, "startedOn": rm.started_ms, "state": "STARTED", "haState": "ACTIVE",
        "rmStateStoreName": "miniyarn.RedisRMStateStore", "resourceManagerVersion": v,
        "resourceManagerBuildVersion": f"{v} from miniyarn", "resourceManagerVersionBuiltOn": "",
        "hadoopVersion": v, "hadoopBuildVersion": f"{v} from miniyarn", "hadoopVersionBuiltOn": "",
        "haZooKeeperConnectionState": "Could not find leader elector. Verify both HA and automatic failover are "
                                      "enabled.",
    }}


def cluster_metrics(rm: ResourceManager) -> dict[str, Any]:
    # A KILLING app counts where its clients see it: in the state it was killed in.
    states = [(a.state_before_killing or A.RUNNING) if a.state is A.KILLING else a.state for a in rm.apps.values()]
    active = [n for n in rm.nodes.values() if n.state in ACTIVE_STATES]
    total_mb = sum(n.capability.memory for n in active if n.state is NodeState.RUNNING)
    total_vc = sum(n.capability.vcores for n in active if n.state is NodeState.RUNNING)
    used_mb = sum(n.used.memory for n in active if n.state is NodeState.RUNNING)
    used_vc = sum(n.used.vcores for n in active if n.state is NodeState.RUNNING)
    pending = sum(sum(r.num_containers for r in a.pending_any()) + (1 if a.am_pending else 0)
                  for a in rm.sched_apps.values())
    node_states = [n.state for n in rm.nodes.values()]
    return {"clusterMetrics": {
        "appsSubmitted": len(states),
        "appsCompleted": sum(1 for s in states if APP_MACHINE.is_final(s)),
        "appsPending": sum(1 for s in states if s in (A.NEW, A.NEW_SAVING, A.SUBMITTED, A.ACCEPTED)),
        "appsRunning": sum(1 for s in states if s is A.RUNNING),
        "appsFailed": sum(1 for s in states if s is A.FAILED),
        "appsKilled": sum(1 for s in states if s is A.KILLED),
        "reservedMB": 0, "availableMB": total_mb - used_mb, "allocatedMB": used_mb, "totalMB": total_mb,
        "reservedVirtualCores": 0, "availableVirtualCores": total_vc - used_vc,
        "allocatedVirtualCores": used_vc, "totalVirtualCores": total_vc,
        "containersAllocated": len(rm.containers), "containersReserved": 0, "containersPending": pending,
        "totalNodes": sum(1 for s in node_states if s in ACTIVE_STATES),
        "activeNodes": sum(1 for s in node_states if s is NodeState.RUNNING),
        "lostNodes": sum(1 for s in node_states if s is NodeState.LOST),
        "unhealthyNodes": sum(1 for s in node_states if s is NodeState.UNHEALTHY),
        "decommissioningNodes": 0,
        "decommissionedNodes": sum(1 for s in node_states if s is NodeState.DECOMMISSIONED),
        "rebootedNodes": sum(1 for s in node_states if s is NodeState.REBOOTED),
        "shutdownNodes": sum(1 for s in node_states if s is NodeState.SHUTDOWN),
    }}


def health_status(state: NodeState) -> str:
    """What a node's health line says: a node that is gone is not "Healthy", whatever it last reported.

    >>> health_status(NodeState.RUNNING), health_status(NodeState.UNHEALTHY), health_status(NodeState.LOST)
    ('Healthy', 'Unhealthy', 'Lost')
    """
    if state is NodeState.UNHEALTHY:
        return "Unhealthy"
    return "Healthy" if state in ACTIVE_STATES else state.value.capitalize()


def node_info(rm: RMContext, node: RMNode) -> dict[str, Any]:
    """YARN's NodeInfo. A node the scheduler no longer has (LOST, DECOMMISSIONED, SHUTDOWN, ...) has no
    scheduler report, so YARN shows it with nothing used and nothing available; its total stays."""
    host = node.node_id.rsplit(":", 1)[0]
    active = node.state in ACTIVE_STATES
    used_mb, used_vc = (node.used.memory, node.used.vcores) if active else (0, 0)
    return {
        "rack": node.rack, "state": node.state.value, "id": node.node_id, "nodeHostName": host,
        "nodeHTTPAddress": node.http_address, "healthStatus": health_status(node.state),
        "healthReport": node.health_report, "lastHealthUpdate": node.last_heartbeat_ms,
        "version": node.version, "numContainers": len(rm.node_containers.get(node.node_id, ())) if active else 0,
        "usedMemoryMB": used_mb, "availMemoryMB": node.capability.memory - used_mb if active else 0,
        "usedVirtualCores": used_vc,
        "availableVirtualCores": node.capability.vcores - used_vc if active else 0,
        "totalResource": node.capability.rest(),
    }


def tracking(rm: RMContext, app: RMApp) -> tuple[str, str]:
    attempt = app.current
    has_am_ui = attempt is not None and bool(attempt.tracking_url)
    if APP_MACHINE.is_final(app.state):
        return "History", f"{rm.web_address}/proxy/{app.app_id}/" if has_am_ui else \
            f"{rm.web_address}/cluster/app/{app.app_id}"
    if has_am_ui and attempt is not None and attempt.state is AttemptState.RUNNING:
        return "ApplicationMaster", f"{rm.web_address}/proxy/{app.app_id}/"
    return "UNASSIGNED", f"{rm.web_address}/proxy/{app.app_id}/"


def client_state(app: RMApp) -> tuple[YarnApplicationState, FinalApplicationStatus]:
    """The app's state and final status as YARN's clients see them (no FINAL_SAVING or FINISHING)."""
    attempt = app.current
    unregistered = attempt.final_status if attempt is not None and attempt.state is AttemptState.FINISHING else None
    return client_view(app.state, app.final_status, unregistered, app.state_before_killing)


def live_containers(rm: RMContext, app_id: str) -> list[RMContainer]:
    """The app's live containers, from the per-app index (not a scan of every container)."""
    return [rm.containers[cid] for cid in rm.app_containers.get(app_id, ())]


def queue_usage_percentage(used_mb: int, cluster_mb: int, queue_absolute_capacity: float) -> float:
    """An app's share of its queue's guaranteed resources, in percent, as YARN's
    ApplicationResourceUsageReport computes it (used / (cluster × the queue's absolute capacity)).

    >>> queue_usage_percentage(6144, 6144, 1.0), queue_usage_percentage(1024, 8192, 0.25)
    (100.0, 50.0)
    >>> queue_usage_percentage(1024, 0, 1.0), queue_usage_percentage(1024, 8192, 0.0)
    (0.0, 0.0)
    """
    guaranteed = cluster_mb * queue_absolute_capacity
    return round(100.0 * used_mb / guaranteed, 2) if guaranteed > 0 else 0.0


def queue_absolute_capacity(rm: RMContext, queue: str) -> float:
    """The fraction of the cluster `queue` is guaranteed (the whole cluster under FIFO)."""
    if rm.scheduler_kind == "fifo":
        return 1.0
    q = find_queue(rm, queue)
    return q.absolute_capacity if q is not None else 0.0


def cluster_memory(rm: RMContext) -> int:
    return sum(n.capability.memory for n in rm.nodes.values() if n.state is NodeState.RUNNING) or 1


def app_info(rm: RMContext, app: RMApp, cluster_mb: int | None = None) -> dict[str, Any]:
    """YARN's AppInfo. `cluster_mb` (cluster_memory) once per listing, not per app."""
    attempt = app.current
    state, final = client_state(app)
    ui, url = tracking(rm, app)
    # Its live containers' sums, kept as they come and go: a row costs the same with 1 or 10,000 of them.
    usage = rm.app_usage.get(app.app_id) or AppUsage()
    alloc_mb, alloc_vc = usage.memory, usage.vcores
    now = now_ms()
    live_mem_s, live_vc_s = usage.seconds(now)
    mem_s = app.memory_seconds + live_mem_s
    vc_s = app.vcore_seconds + live_vc_s
    if cluster_mb is None:
        cluster_mb = cluster_memory(rm)
    diagnostics = app.diagnostics
    if app.pending_reason and app.pending_reason not in diagnostics:
        diagnostics = f"{diagnostics}\n{app.pending_reason}".strip()
    sapp = rm.sched_apps.get(app.app_id)
    requests = [{"priority": r.priority, "resourceName": r.resource_name, "capability": r.capability.rest(),
                 "numContainers": r.num_containers, "relaxLocality": r.relax_locality}
                for r in (sapp.asks.values() if sapp else []) if r.num_containers > 0]
    am_logs = ""
    if attempt is not None and attempt.am_container_id:
        am_logs = f"http://{attempt.am_node_http}/node/containerlogs/{attempt.am_container_id}/{app.user}"
    return {
        "id": app.app_id, "user": app.user, "name": app.submission.application_name,
        "queue": app.queue.rsplit(".", 1)[-1], "state": state.value, "finalStatus": final.value,
        "progress": round(app.progress * 100, 1), "trackingUI": ui, "trackingUrl": url,
        "diagnostics": diagnostics, "clusterId": rm.cluster_ts,
        "applicationType": app.submission.application_type,
        "applicationTags": ",".join(app.submission.application_tags), "priority": app.submission.priority,
        "startedTime": app.submit_time, "launchTime": app.launch_time, "finishedTime": app.finish_time,
        "elapsedTime": (app.finish_time or now) - app.submit_time,
        "amContainerLogs": am_logs,
        "amHostHttpAddress": attempt.am_node_http if attempt else "",
        "amRPCAddress": f"{attempt.host}:{attempt.rpc_port}" if attempt and attempt.host else "N/A",
        "masterNodeId": attempt.am_node_id if attempt else "",
        "allocatedMB": alloc_mb, "allocatedVCores": alloc_vc, "reservedMB": 0, "reservedVCores": 0,
        "runningContainers": usage.containers, "memorySeconds": mem_s, "vcoreSeconds": vc_s,
        "queueUsagePercentage": queue_usage_percentage(alloc_mb, cluster_mb,
                                                       queue_absolute_capacity(rm, app.queue)),
        "clusterUsagePercentage": round(100.0 * alloc_mb / cluster_mb, 2),
        "preemptedResourceMB": 0, "preemptedResourceVCores": 0, "numNonAMContainerPreempted": 0,
        "numAMContainerPreempted": 0,
        "logAggregationStatus": "SUCCEEDED" if APP_MACHINE.is_final(app.state) else "NOT_START",
        "unmanagedApplication": app.submission.unmanaged_am, "amNodeLabelExpression": "",
        "resourceRequests": requests,
        "pendingReason": app.pending_reason,
    }


def attempts_info(rm: ResourceManager, app: RMApp) -> dict[str, Any]:
    out = []
    for i, a in enumerate(app.attempts, start=1):
        out.append({
            "id": i, "startTime": a.start_time, "finishedTime": a.finish_time, "containerId": a.am_container_id,
            "nodeHttpAddress": a.am_node_http, "nodeId": a.am_node_id,
            "logsLink": (f"http://{a.am_node_http}/node/containerlogs/{a.am_container_id}/{app.user}"
                         if a.am_container_id else ""),
            "blacklistedNodes": "", "appAttemptId": a.attempt_id, "appAttemptState": a.state.value,
            "diagnosticsInfo": a.diagnostics,
        })
    return {"appAttempts": {"appAttempt": out}}


def _res(memory: float, vcores: float) -> dict[str, int]:
    return {"memory": int(memory), "vCores": int(vcores)}


def scheduler_info(rm: ResourceManager) -> dict[str, Any]:
    live_nodes = [n for n in rm.nodes.values() if n.state is NodeState.RUNNING]
    cl_mb = sum(n.capability.memory for n in live_nodes)
    cl_vc = sum(n.capability.vcores for n in live_nodes)
    used_mb = sum(n.used.memory for n in live_nodes)
    if rm.scheduler_kind == "fifo":
        return {"scheduler": {"schedulerInfo": {
            "type": "fifoScheduler", "capacity": 1.0, "usedCapacity": used_mb / cl_mb if cl_mb else 0.0,
            "qstate": "RUNNING", "minQueueMemoryCapacity": rm.min_alloc.memory,
            "maxQueueMemoryCapacity": rm.max_alloc.memory, "numNodes": len(live_nodes),
            "usedNodeCapacity": used_mb, "availNodeCapacity": cl_mb - used_mb, "totalNodeCapacity": cl_mb,
            "numContainers": len(rm.containers)}}}

    def queue(q: QueueConf) -> dict[str, Any]:
        apps = [a for a in rm.apps.values() if a.queue.startswith(q.path) and not APP_MACHINE.is_final(a.state)]
        used = [c.container.resource for c in rm.containers.values()
                if rm.apps[c.app_id].queue.startswith(q.path)]
        q_mb = sum(r.memory for r in used)
        q_vc = sum(r.vcores for r in used)
        abs_used = 100.0 * q_mb / cl_mb if cl_mb else 0.0
        info: dict[str, Any] = {
            "capacity": q.capacity, "usedCapacity": (abs_used / q.absolute_capacity) if q.absolute_capacity else 0.0,
            "maxCapacity": q.maximum_capacity, "absoluteCapacity": q.absolute_capacity * 100,
            "absoluteMaxCapacity": q.absolute_max_capacity * 100, "absoluteUsedCapacity": abs_used,
            "numApplications": len(apps), "queueName": q.name, "queuePath": q.path, "state": q.state,
            "resourcesUsed": _res(q_mb, q_vc),
        }
        if q.is_leaf:
            sapps = [s for s in rm.sched_apps.values() if s.queue == q.path]
            am_used = [s.am_resource for s in sapps if s.am_active]
            info.update({
                "type": "capacitySchedulerLeafQueueInfo",
                "numActiveApplications": sum(1 for s in sapps if s.am_active),
                "numPendingApplications": sum(1 for s in sapps if s.am_pending),
                "numContainers": len(used),
                "maxApplications": 10000,
                "maxAMResourcePercent": q.max_am_percent,
                "AMResourceLimit": _res(cl_mb * q.absolute_max_capacity * q.max_am_percent,
                                        cl_vc * q.absolute_max_capacity * q.max_am_percent),
                "usedAMResource": _res(sum(r.memory for r in am_used), sum(r.vcores for r in am_used)),
            })
        else:
            info["queues"] = {"queue": [queue(c) for c in q.children]}
        return info

    root = queue(rm.queue_root)
    # What root uses is what its queues use together (YARN's root queue info shows it; its page's root row
    # said 0 MB beside a root.default using the whole cluster).
    root_info = {"type": "capacityScheduler", "capacity": 100.0, "usedCapacity": root["absoluteUsedCapacity"],
                 "maxCapacity": 100.0, "queueName": "root", "queuePath": "root",
                 "absoluteUsedCapacity": root["absoluteUsedCapacity"], "numApplications": root["numApplications"],
                 "resourcesUsed": root["resourcesUsed"], "queues": root["queues"]}
    return {"scheduler": {"schedulerInfo": root_info}}


def find_queue(rm: RMContext, name: str) -> QueueConf | None:
    def walk(q: QueueConf) -> QueueConf | None:
        if name in (q.name, q.path):
            return q
        for c in q.children:
            found = walk(c)
            if found is not None:
                return found
        return None
    return walk(rm.queue_root)


def node_log_url(rm: ResourceManager, node_id: str, container_id: str, user: str) -> str:
    """A container's logs through the RM's /node/ proxy, so a browser needs only the RM's port."""
    return f"{rm.web_address}/node/{node_id}/containerlogs/{container_id}/{user}"


def containers_info(rm: ResourceManager, app: RMApp, attempt_id: str) -> dict[str, Any]:
    """YARN's ContainersInfo for one attempt: its live containers, then the last completed ones (YARN's RM
    forgets those; we keep the last hundred per application)."""
    now = now_ms()
    out = []
    live = [c for c in live_containers(rm, app.app_id) if c.attempt_id == attempt_id]
    done = [c for c in app.finished_containers if c.attempt_id == attempt_id]
    for c in live + done:
        out.append({
            "containerId": c.container.id, "allocatedMB": c.container.resource.memory,
            "allocatedVCores": c.container.resource.vcores, "assignedNodeId": c.container.node_id,
            "priority": c.container.priority, "startedTime": c.start_time, "finishedTime": c.finish_time,
            "elapsedTime": (c.finish_time or now) - c.start_time if c.start_time else 0,
            "diagnosticsInfo": c.diagnostics, "containerExitStatus": c.exit_status or 0,
            # YARN's ContainerState, as RMContainer reports it: RUNNING until it has a finished status.
            "containerState": "COMPLETE" if c.finish_time else "RUNNING",
            "nodeHttpAddress": c.container.node_http_address,
            "nodeId": c.container.node_id, "isAM": c.is_am,
            "logUrl": node_log_url(rm, c.container.node_id, c.container.id, app.user),
        })
    out.sort(key=lambda r: (r["containerState"] == "COMPLETE", str(r["containerId"])))
    return {"container": out}


# What YARN's AppInfo leaves out for a caller without VIEW_APP (its `hasAccess` false): times, the AM's
# addresses and logs, resource use, and (ours) diagnostics and the tracking URL, which may carry secrets.
_RESTRICTED = {"startedTime": 0, "launchTime": 0, "finishedTime": 0, "elapsedTime": 0, "amContainerLogs": "",
               "amHostHttpAddress": "", "amRPCAddress": "N/A", "masterNodeId": "", "allocatedMB": 0,
               "allocatedVCores": 0, "runningContainers": 0, "memorySeconds": 0, "vcoreSeconds": 0,
               "clusterUsagePercentage": 0.0, "resourceRequests": [], "diagnostics": "", "trackingUrl": "",
               "trackingUI": "UNASSIGNED", "pendingReason": ""}


def restricted(info: dict[str, Any]) -> dict[str, Any]:
    return {**info, **_RESTRICTED}
