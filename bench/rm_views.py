"""How the RM's read paths and node loss scale with live containers: an in-process ResourceManager (its
context filled through its own transitions: node heartbeats, submissions, allocations; no Redis is touched)
behind its real REST app, and the median time of `/ws/v1/cluster/nodes`, `/nodes/{id}`, `/apps`,
`/apps/{id}` and of one node's loss (every container on it completed).

    python bench/rm_views.py [--nodes 10] [--apps 100] [--per-app 100] [--repeat 15]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import redis
from fastapi.testclient import TestClient

from miniyarn.config import YarnConfiguration
from miniyarn.exit_status import ContainerExitStatus
from miniyarn.protocol import NodeHeartbeat
from miniyarn.records import ApplicationSubmissionContext, Resource
from miniyarn.states.node import NodeEvent
from resourcemanager import app_transitions, container_transitions, node_transitions, services
from resourcemanager.rm import ResourceManager
from resourcemanager.scheduler.model import Allocation
from resourcemanager.webapp.rest import create_app


def build(nodes: int, apps: int, per_app: int) -> ResourceManager:
    conf = YarnConfiguration({"yarn.scheduler.minimum-allocation-mb": "1",
                              "yarn.nodemanager.resource.memory-mb": str(1 << 30)}, load_files=False)
    # Never connected: these paths read the context only.
    rm = ResourceManager(conf, redis.Redis(port=1), web_address="http://127.0.0.1:8088")
    node_ids = [f"10.0.0.{i}:45454" for i in range(nodes)]
    for nid in node_ids:
        services.handle(rm, NodeHeartbeat(node_id=nid, http_address=nid.replace("45454", "8042"),
                                          capability=Resource(memory=1 << 30, vcores=1 << 20)))
    one = Resource(memory=1, vcores=1)
    for a in range(1, apps + 1):
        app_id = f"application_1700000000000_{a:04d}"
        rm.new_app_ids[app_id] = ""
        app_transitions.submit(rm, ApplicationSubmissionContext.model_validate({"application-id": app_id}), "bench")
        for i in range(per_app):
            container_transitions.apply_allocation(rm, Allocation(app_id, node_ids[(a + i) % nodes], one, 1,
                                                                  is_am=i == 0))
    rm.out.__init__()  # type: ignore[misc]  # the writes a flush would send: not measured here
    return rm


def median_ms(f: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--nodes", type=int, default=10)
    p.add_argument("--apps", type=int, default=100)
    p.add_argument("--per-app", type=int, default=100)
    p.add_argument("--repeat", type=int, default=15)
    args = p.parse_args()
    started = time.perf_counter()
    rm = build(args.nodes, args.apps, args.per_app)
    print(f"{len(rm.nodes)} nodes, {len(rm.apps)} apps, {len(rm.containers)} live containers "
          f"(built in {time.perf_counter() - started:.1f}s)")
    web = TestClient(create_app(rm, bind_host="127.0.0.1"), base_url="http://127.0.0.1:8088")
    node_id = next(iter(rm.nodes))
    app_id = next(iter(rm.apps))
    for path in ("/ws/v1/cluster/nodes", f"/ws/v1/cluster/nodes/{node_id}", "/ws/v1/cluster/apps",
                 f"/ws/v1/cluster/apps/{app_id}"):
        assert web.get(path).status_code == 200, path
        print(f"GET {path.replace(node_id, '{node}').replace(app_id, '{app}'):32s} "
              f"{median_ms(lambda p=path: web.get(p), args.repeat):8.2f} ms")  # type: ignore[misc]
    node = rm.nodes[node_id]
    on_node = sum(1 for c in rm.containers.values() if c.container.node_id == node_id)
    t = time.perf_counter()
    with rm.lock:
        node_transitions.node_lost(rm, node, NodeEvent.EXPIRE, "bench")
    lost_ms = (time.perf_counter() - t) * 1000
    left = sum(1 for c in rm.containers.values() if c.container.node_id == node_id)
    assert left == 0 and ContainerExitStatus.ABORTED  # every container of the lost node completed
    print(f"node loss ({on_node} containers)         {lost_ms:8.2f} ms")


if __name__ == "__main__":
    main()
