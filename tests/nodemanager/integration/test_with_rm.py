"""The NM with a real ResourceManager: YARN's DistributedShell AM runs on our NMs, starts 3 containers
through them, succeeds, and their output is aggregated into Redis when the app ends."""

from __future__ import annotations

import pytest
import redis

from miniyarn import keys
from miniyarn.redisconn import text
from tests.conftest import logs_aggregated
from tests.integration.conftest import Cluster, cluster, submit_ds, wait_for  # noqa: F401  (fixture)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


def test_distributed_shell_runs_on_our_nodemanagers(cluster: Cluster) -> None:  # noqa: F811
    r = redis.Redis.from_url(cluster.admin_url)
    app_id = submit_ds(cluster.rm_url, cluster.redis_url, "echo hello from $CONTAINER_ID\n")
    report = cluster.wait_app_state(app_id, "FINISHED", "FAILED", "KILLED", timeout=60)
    assert (report["state"], report["finalStatus"]) == ("FINISHED", "SUCCEEDED"), report
    wait_for("logs aggregated", lambda: logs_aggregated(r, app_id))
    logs = {text(k): text(v) for k, v in r.hgetall(keys.app_logs(app_id)).items()}
    hellos = [k for k, v in logs.items() if k.endswith(" stdout") and v == f"hello from {k.split()[0]}\n"]
    assert len(hellos) == 3, logs
    assert any(k.endswith(" AppMaster.stdout") for k in logs)
