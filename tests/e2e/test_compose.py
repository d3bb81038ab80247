"""compose.yaml end to end: `up -d --scale nodemanager=3` with v1 docker-compose or v2 `docker compose`,
healthy, 3 NodeManagers RUNNING at the RM's REST API, a DistributedShell app whose AM and shell
containers are the NMs' sibling Docker containers, and `down -v` leaving nothing (the fixture checks)."""

from __future__ import annotations

import time

import httpx
import pytest
import redis

from miniyarn import blobs, keys
from miniyarn.redisconn import text
from tests.e2e.conftest import ComposeCluster
from tests.integration.conftest import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]


def test_three_nodemanagers_register(compose_cluster: ComposeCluster) -> None:
    print(f"compose up -d -> healthy: {compose_cluster.up_to_healthy_s:.1f} s")  # type: ignore[attr-defined]
    nodes = wait_for("3 RUNNING nodes", lambda: (n := httpx.get(
        f"{compose_cluster.rm_url}/ws/v1/cluster/nodes", params={"states": "RUNNING"}, timeout=5).json()["nodes"])
        and len(n["node"]) == 3 and n["node"], timeout=30)
    assert len({n["id"] for n in nodes}) == 3
    metrics = httpx.get(f"{compose_cluster.rm_url}/ws/v1/cluster/metrics", timeout=5).json()["clusterMetrics"]
    assert metrics["totalMB"] == 3 * 2048, metrics


def test_distributed_shell_on_compose(compose_cluster: ComposeCluster) -> None:
    rm = compose_cluster.rm_url
    r = redis.Redis.from_url(compose_cluster.redis_url)
    script = blobs.put(r, b"echo hello from $CONTAINER_ID as $(id -un)\n")
    app_id = httpx.post(f"{rm}/ws/v1/cluster/apps/new-application", timeout=5).json()["application-id"]
    am = (f"$PYTHON -m miniyarn.distributedshell.appmaster --num-containers 3 --container-memory 128 "
          f"--script-resource {script.resource} 1><LOG_DIR>/AppMaster.stdout 2><LOG_DIR>/AppMaster.stderr")
    body = {"application-id": app_id, "application-name": "ds-compose", "resource": {"memory": 256, "vCores": 1},
            "am-container-spec": {"commands": {"command": am}}, "max-app-attempts": 1}
    assert httpx.post(f"{rm}/ws/v1/cluster/apps", json=body, timeout=5).status_code == 202
    deadline = time.monotonic() + 90
    while (app := httpx.get(f"{rm}/ws/v1/cluster/apps/{app_id}", timeout=5).json()["app"])["state"] not in (
            "FINISHED", "FAILED", "KILLED"):
        assert time.monotonic() < deadline, app
        time.sleep(0.3)
    assert (app["state"], app["finalStatus"]) == ("FINISHED", "SUCCEEDED"), app
    wait_for("logs aggregated", lambda: r.exists(keys.app_logs(app_id)) and not r.scard(keys.app_log_nodes(app_id)))
    logs = {text(k): text(v) for k, v in r.hgetall(keys.app_logs(app_id)).items()}
    hellos = [k for k, v in logs.items() if k.endswith(" stdout") and v == f"hello from {k.split()[0]} as yarn\n"]
    assert len(hellos) == 3, logs


# The Flink per-job word count on the compose cluster goes here (the lead's step): a test taking
# `compose_cluster` that runs `miniflink run -t yarn-per-job` with MINIYARN_RM_ADDRESS=compose_cluster.rm_url
# and MINIYARN_REDIS_URL=compose_cluster.redis_url, and checks the counts and the TaskManager containers.
