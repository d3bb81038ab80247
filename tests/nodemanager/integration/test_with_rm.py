"""The NM with a real ResourceManager: YARN's DistributedShell AM runs on our NMs, starts 3 containers
through them, succeeds, and their output is aggregated into Redis when the app ends."""

from __future__ import annotations

import httpx
import pytest
import redis

from miniyarn import blobs, keys
from miniyarn.redisconn import text
from tests.integration.conftest import Cluster, cluster, wait_for  # noqa: F401  (fixture)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


def test_distributed_shell_runs_on_our_nodemanagers(cluster: Cluster) -> None:  # noqa: F811
    r = redis.Redis.from_url(cluster.redis_url)
    script = blobs.put(r, b"echo hello from $CONTAINER_ID\n")
    app_id = httpx.post(f"{cluster.rm_url}/ws/v1/cluster/apps/new-application").json()["application-id"]
    am = (f"$PYTHON -m miniyarn.distributedshell.appmaster --num-containers 3 --container-memory 128 "
          f"--script-resource {script.resource} 1><LOG_DIR>/AppMaster.stdout 2><LOG_DIR>/AppMaster.stderr")
    body = {"application-id": app_id, "application-name": "ds", "resource": {"memory": 256, "vCores": 1},
            "am-container-spec": {"commands": {"command": am}}, "max-app-attempts": 1}
    assert httpx.post(f"{cluster.rm_url}/ws/v1/cluster/apps", json=body).status_code == 202
    report = cluster.wait_app_state(app_id, "FINISHED", "FAILED", "KILLED", timeout=60)
    assert (report["state"], report["finalStatus"]) == ("FINISHED", "SUCCEEDED"), report
    wait_for("logs aggregated", lambda: r.exists(keys.app_logs(app_id)) and not r.scard(keys.app_log_nodes(app_id)))
    logs = {text(k): text(v) for k, v in r.hgetall(keys.app_logs(app_id)).items()}
    hellos = [k for k, v in logs.items() if k.endswith(" stdout") and v == f"hello from {k.split()[0]}\n"]
    assert len(hellos) == 3, logs
    assert any(k.endswith(" AppMaster.stdout") for k in logs)
