"""Prometheus /metrics of the RM, an NM and the JobManager, parsed with prometheus_client's parser and
compared with what the REST APIs answer at the same moment."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.flink.conftest import ROOT, FlinkCluster
from tests.flink.conftest import wait_for as flink_wait
from tests.integration.conftest import Cluster, wait_for
from tests.webui.conftest import IDLE_AM, submit_app

pytestmark = pytest.mark.integration


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = httpx.get(url, timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def stable(read: Callable[[], Any], scrape_once: Callable[[], Any]) -> tuple[Any, Any]:
    """REST, metrics, REST again until both REST answers agree: the cluster did not move mid-scrape."""
    for _ in range(50):
        before = read()
        metrics = scrape_once()
        if read() == before:
            return before, metrics
    raise AssertionError("the cluster never held still long enough to compare /metrics with REST")


def test_rm_and_nm_metrics_equal_rest(cluster: Cluster) -> None:
    app_id = submit_app(cluster, "sleeper", f"$PYTHON {IDLE_AM}")
    cluster.wait_app_state(app_id, "RUNNING")
    submit_app(cluster, "big", f"$PYTHON {IDLE_AM}", memory=4096)  # allocated or pending: both are counted

    def rest() -> tuple[Any, ...]:
        m = cluster.get("/metrics")["clusterMetrics"]
        apps = (cluster.get("/apps")["apps"] or {"app": []})["app"]
        nodes = (cluster.get("/nodes")["nodes"] or {"node": []})["node"]
        return (m, sorted(a["state"] for a in apps), sorted(n["state"] for n in nodes))

    (m, app_states, node_states), metrics = stable(rest, lambda: scrape(f"{cluster.rm_url}/metrics"))
    assert metrics[("yarn_memory_allocated_mb", ())] == m["allocatedMB"] > 0
    assert metrics[("yarn_memory_available_mb", ())] == m["availableMB"]
    assert metrics[("yarn_memory_total_mb", ())] == m["totalMB"] == 8192
    assert metrics[("yarn_vcores_allocated", ())] == m["allocatedVirtualCores"]
    assert metrics[("yarn_vcores_available", ())] == m["availableVirtualCores"]
    assert metrics[("yarn_containers_pending", ())] == m["containersPending"]
    assert metrics[("yarn_containers_running", ())] == m["containersAllocated"] >= 1
    assert m["containersAllocated"] + m["containersPending"] == 2
    assert metrics[("yarn_containers_allocated_total", ())] >= 1
    for state in ("RUNNING", "ACCEPTED", "FINISHED", "KILLED"):
        assert metrics[("yarn_applications", (("state", state),))] == app_states.count(state)
    assert app_states.count("RUNNING") >= 1
    for state in ("RUNNING", "LOST", "UNHEALTHY"):
        assert metrics[("yarn_nodes", (("state", state),))] == node_states.count(state)

    node = next(n for n in cluster.running_nodes() if n["numContainers"] >= 1)
    nm = f"http://{node['nodeHTTPAddress']}"

    def nm_rest() -> tuple[Any, ...]:
        info = httpx.get(f"{nm}/ws/v1/node/info", timeout=5).json()["nodeInfo"]
        cs = (httpx.get(f"{nm}/ws/v1/node/containers", timeout=5).json()["containers"] or {"container": []})
        return info["totalPmemAllocatedContainersMB"], info["totalMemoryMB"], sorted(c["state"] for c in
                                                                                     cs["container"])

    (alloc, total, states), nm_metrics = stable(nm_rest, lambda: scrape(f"{nm}/metrics"))
    assert nm_metrics[("nodemanager_memory_allocated_mb", ())] == alloc > 0
    assert nm_metrics[("nodemanager_memory_total_mb", ())] == total == 4096
    assert nm_metrics[("nodemanager_containers", (("state", "RUNNING"),))] == states.count("RUNNING") >= 1
    # The sleeping python's RSS, once the container monitor has sampled it (every second).
    wait_for("the NM's first sample of the AM's memory",
             lambda: scrape(f"{nm}/metrics")[("nodemanager_memory_used_mb", ())] > 0, timeout=5)


def test_jobmanager_metrics_equal_rest(flink: Callable[..., FlinkCluster], words_file: Any) -> None:
    cluster = flink(tms=2, slots=2)
    res = cluster.miniflink("run", "-m", cluster.rest.removeprefix("http://"), "-p", "2", "-d", "-py",
                            str(ROOT / "examples/wordcount.py"), "--input", str(words_file))
    assert res.returncode == 0, res.stderr
    job_id = res.stdout.split("JobID ")[1].split()[0]
    cluster.wait_state(job_id, ("FINISHED",))
    # Final counts arrive with each subtask's FINISHED report; the job is FINISHED only after all of them.
    flink_wait(lambda: cluster.get("/overview")["slots-available"] == 4, 10, "slots released")
    overview = cluster.get("/overview")
    job = cluster.get(f"/jobs/{job_id}")
    metrics = scrape(f"{cluster.rest}/metrics")
    assert metrics[("flink_jobmanager_taskmanagers", ())] == overview["taskmanagers"] == 2
    assert metrics[("flink_jobmanager_slots_total", ())] == overview["slots-total"] == 4
    assert metrics[("flink_jobmanager_slots_available", ())] == overview["slots-available"]
    assert metrics[("flink_jobmanager_jobs", (("state", "FINISHED"),))] == overview["jobs-finished"] == 1
    assert metrics[("flink_jobmanager_jobs", (("state", "RUNNING"),))] == 0
    for v in job["vertices"]:
        labels = tuple(sorted({"job_id": job_id, "job_name": job["name"], "vertex_id": v["id"],
                               "vertex": v["name"]}.items()))
        assert metrics[("flink_task_records_in_total", labels)] == v["metrics"]["read-records"]
        assert metrics[("flink_task_records_out_total", labels)] == v["metrics"]["write-records"]
        assert metrics[("flink_task_bytes_in_total", labels)] == v["metrics"]["read-bytes"]
        assert metrics[("flink_task_bytes_out_total", labels)] == v["metrics"]["write-bytes"]
    source, *rest = job["vertices"]
    assert source["metrics"]["write-records"] == 50000  # 5,000 lines of 10 words, split in the source chain
    assert rest[-1]["metrics"]["read-records"] == 50000
