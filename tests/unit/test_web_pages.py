"""The one renderer, pure: every page template of the RM and the NM filled with hostile values renders
them as text; the figures the pages and REST show for a LOST node and for an app's share of its queue."""

from __future__ import annotations

import doctest
from typing import Any

import pytest

from miniweb import pages
from miniyarn.config import YarnConfiguration
from miniyarn.records import Resource
from miniyarn.states.node import NodeState
from resourcemanager.context import RMContext
from resourcemanager.rmstate import RMNode
from resourcemanager.webapp import views

EVIL = '<script>alert(1)</script>"\''
RM = "resourcemanager.webapp"


def test_doctests() -> None:
    assert doctest.testmod(pages).failed == 0
    assert doctest.testmod(views).failed == 0


def app(**over: Any) -> dict[str, Any]:
    a = {"id": "application_1_0001", "user": EVIL, "name": EVIL, "applicationType": EVIL, "queue": EVIL,
         "state": "RUNNING", "finalStatus": EVIL, "progress": 50.0, "startedTime": 1, "elapsedTime": 5000,
         "trackingUI": "ApplicationMaster", "uiLink": f"/proxy/{EVIL}/", "priority": 0, "launchTime": 0,
         "finishedTime": 0, "allocatedMB": 1, "allocatedVCores": 1, "runningContainers": 1, "memorySeconds": 1,
         "vcoreSeconds": 1, "pendingReason": EVIL, "diagnostics": EVIL,
         "resourceRequests": [{"priority": 1, "resourceName": EVIL, "capability": {"memory": 1, "vCores": 1},
                               "numContainers": 1}]}
    return {**a, **over}


NODE = {"id": EVIL, "rack": EVIL, "state": "LOST", "numContainers": 0, "usedMemoryMB": 0,
        "totalResource": {"memory": 4096, "vCores": 4}, "availMemoryMB": 0, "usedVirtualCores": 0,
        "availableVirtualCores": 0, "lastHealthUpdate": 0, "healthReport": EVIL, "healthStatus": "Lost",
        "version": EVIL}
CONTAINER = {"containerId": EVIL, "isAM": True, "nodeId": EVIL, "containerState": "COMPLETE",
             "containerExitStatus": 0, "allocatedMB": 1, "allocatedVCores": 1, "priority": 0, "startedTime": 0,
             "logUrl": EVIL}
ATTEMPT = {"appAttemptId": EVIL, "appAttemptState": "RUNNING", "startTime": 0, "finishedTime": 0,
           "containerId": EVIL, "nodeId": EVIL, "logsUrl": EVIL, "diagnosticsInfo": EVIL}
METRICS = {k: 0 for k in ("appsSubmitted", "appsPending", "appsRunning", "appsCompleted", "appsFailed", "appsKilled",
                          "containersAllocated", "containersPending", "allocatedMB", "totalMB", "availableMB",
                          "allocatedVirtualCores", "totalVirtualCores", "availableVirtualCores", "activeNodes",
                          "lostNodes", "unhealthyNodes")}
NM_CONTAINER = {"id": EVIL, "state": "RUNNING", "user": EVIL, "totalMemoryNeededMB": 1, "totalVCoresNeeded": 1,
                "exitCode": None, "pid": 1, "physicalMemoryUsedMB": None, "diagnostics": EVIL}

PAGES: list[tuple[str, str, dict[str, Any]]] = [
    (RM, "cluster.html", {"metrics": METRICS, "nodes": [NODE], "apps": [app()]}),
    (RM, "apps.html", {"apps": [app(), app(trackingUI="UNASSIGNED")]}),
    (RM, "nodes.html", {"nodes": [NODE]}),
    (RM, "scheduler.html", {"kind": EVIL, "queues": [{"depth": 1, "name": EVIL, "state": EVIL, "capacity": 1.0,
                                                      "maxCapacity": 1.0, "absoluteUsed": 1.0, "apps": EVIL,
                                                      "pending": EVIL, "memory": 1, "vCores": 1}]}),
    (RM, "app.html", {"a": app(), "done": False, "attempts": [ATTEMPT], "containers": [CONTAINER], "app_id": EVIL}),
    (RM, "appattempt.html", {"t": ATTEMPT, "containers": [CONTAINER], "app_id": EVIL}),
    (RM, "about.html", {"info": {"id": EVIL, "state": EVIL, "haState": EVIL, "rmStateStoreName": EVIL,
                                 "resourceManagerBuildVersion": EVIL}, "started": EVIL, "scheduler": EVIL}),
    (RM, "logs.html", {"cid": EVIL, "node_id": EVIL, "app_id": EVIL, "files": [(EVIL, 3)], "base": EVIL,
                       "pending": True}),
    ("nodemanager", "node.html", {"node_id": EVIL, "containers": [NM_CONTAINER], "info": {
        "id": EVIL, "nodeHostName": EVIL, "totalMemoryMB": 1, "totalVCores": 1, "totalPmemAllocatedContainersMB": 1,
        "totalVCoresAllocatedContainers": 1, "nodeHealthy": True, "healthReport": EVIL, "lastNodeUpdateTime": 0,
        "nmStartupTime": 0, "nodeManagerVersion": EVIL}}),
    ("nodemanager", "containers.html", {"node_id": EVIL, "containers": [NM_CONTAINER]}),
    ("nodemanager", "container.html", {"node_id": EVIL, "c": NM_CONTAINER}),
    ("nodemanager", "logs.html", {"node_id": EVIL, "cid": EVIL, "files": [(EVIL, 1)], "base": EVIL}),
]


@pytest.mark.parametrize(("package", "template", "context"), PAGES, ids=[f"{p}:{t}" for p, t, _ in PAGES])
def test_every_page_renders_hostile_values_as_text(package: str, template: str, context: dict[str, Any]) -> None:
    doc = pages.render(package, template, title=EVIL, active="x", page="x", **context)
    assert "<script>alert" not in doc and "&lt;script&gt;alert(1)&lt;/script&gt;" in doc
    assert doc.count("<script") == (1 if package == RM else 0)  # the RM's one ui.js; the NM runs none
    assert '<link rel="stylesheet" href="/static/style.css">' in doc and 'id="nav"' in doc


def test_a_lost_node_is_neither_healthy_nor_available() -> None:
    node = RMNode(node_id="h:1", http_address="h:2", capability=Resource(memory=4096, vcores=4),
                  used=Resource(memory=1024, vcores=1), state=NodeState.LOST, last_heartbeat_ms=5)
    ctx = RMContext(YarnConfiguration({}, load_files=False))
    ctx.node_containers[node.node_id] = {"c": None}
    info = views.node_info(ctx, node)
    assert (info["healthStatus"], info["availMemoryMB"], info["availableVirtualCores"]) == ("Lost", 0, 0)
    assert (info["usedMemoryMB"], info["numContainers"], info["lastHealthUpdate"]) == (0, 0, 5)
    assert info["totalResource"] == {"memory": 4096, "vCores": 4}
    running = views.node_info(ctx, node.model_copy(update={"state": NodeState.RUNNING}))
    assert (running["healthStatus"], running["availMemoryMB"], running["usedMemoryMB"]) == ("Healthy", 3072, 1024)
