"""compose.yaml end to end: `up -d --scale nodemanager=3` with v1 docker-compose or v2 `docker compose`,
healthy, 3 NodeManagers RUNNING at the RM's REST API, a DistributedShell app whose AM and shell
containers are the NMs' sibling Docker containers, Flink per-job word counts whose JobManager and
TaskManagers are Docker containers (one with a TaskManager container killed and replaced), and `down -v`
leaving nothing (the fixture checks)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from miniyarn import keys
from miniyarn.redisconn import text
from nodemanager.executor.docker_spec import LABEL_APP, LABEL_CONTAINER, LABEL_NODE
from tests.conftest import logs_aggregated
from tests.e2e.conftest import ROOT, ComposeCluster
from tests.flink_yarn.conftest import final_counts
from tests.flink_yarn.integration.test_modes import LINES, expected_lines
from tests.flink_yarn.integration.test_per_job import WORDCOUNT
from tests.integration.conftest import submit_ds, wait_for
from tests.line_server import LineServer

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
    app_id = submit_ds(rm, compose_cluster.redis_url, "echo hello from $CONTAINER_ID as $(id -un)\n", name="ds-compose")
    deadline = time.monotonic() + 90
    while (app := httpx.get(f"{rm}/ws/v1/cluster/apps/{app_id}", timeout=5).json()["app"])["state"] not in (
            "FINISHED", "FAILED", "KILLED"):
        assert time.monotonic() < deadline, app
        time.sleep(0.3)
    assert (app["state"], app["finalStatus"]) == ("FINISHED", "SUCCEEDED"), app
    wait_for("logs aggregated", lambda: logs_aggregated(r, app_id))
    logs = {text(k): text(v) for k, v in r.hgetall(keys.app_logs(app_id)).items()}
    hellos = [k for k, v in logs.items() if k.endswith(" stdout") and v == f"hello from {k.split()[0]} as yarn\n"]
    assert len(hellos) == 3, logs


# ---- Flink on YARN on the compose cluster: the JobManager and TaskManagers are Docker containers --------
#
# The miniflink client runs on the host against the compose RM, as a user's does. Containers of 1024 MB
# (YARN's minimum) and one vcore each: 3 NMs x (2048 MB, 2 vcores) hold the JobManager and 2 TaskManagers
# with room for a replacement.
FLINK = ["-p", "4", "-D", "taskmanager.numberOfTaskSlots=2", "-D", "jobmanager.memory.process.size=1024m",
         "-D", "taskmanager.memory.process.size=1024m", "-D", "yarn.containers.vcores=1",
         "-D", "heartbeat.interval=500", "-D", "heartbeat.timeout=4000"]
CONTAINER_BYTES = 1024 * 1024 * 1024


@pytest.fixture
def lines() -> Iterator[LineServer]:
    server = LineServer(LINES)
    yield server
    server.close()


def flink_env(cluster: ComposeCluster, tmp: Path) -> dict[str, str]:
    return {**os.environ, "MINIYARN_RM_ADDRESS": cluster.rm_url, "MINIYARN_REDIS_URL": cluster.redis_url,
            "TMPDIR": str(tmp)}


def app_containers(cluster: ComposeCluster, app_id: str, running_only: bool = True) -> dict[str, Any]:
    """`docker ps [-a] --filter label=miniyarn.application-id=<app>`: container name -> container."""
    import docker

    for _ in range(20):
        try:
            found = cluster.engine.containers.list(all=not running_only, filters={"label": f"{LABEL_APP}={app_id}"})
            return {c.name: c for c in found}
        except docker.errors.NotFound:
            # Listed, then removed by its NM before the SDK inspected it (a killed TaskManager): ask again.
            time.sleep(0.1)
    raise AssertionError(f"docker kept losing containers of {app_id} while listing them")


def rest(url: str) -> Any:
    r = httpx.get(url, timeout=5)
    r.raise_for_status()
    return r.json()


def tm_outputs(jm_url: str) -> dict[str, str]:
    """Each registered TaskManager's stdout as the JobManager's REST serves it (the TM in its container
    sends it over its RPC connection)."""
    return {t["id"]: httpx.get(f"{jm_url}/taskmanagers/{t['id']}/stdout", timeout=5).text
            for t in rest(jm_url + "/taskmanagers")["taskmanagers"]}


def check_flink_containers(cluster: ComposeCluster, app_id: str, am_container: str,
                           taskmanagers: set[str]) -> None:
    """Exactly the JobManager (AM) and the TaskManagers run as Docker containers, each labelled with
    its application and container id, limited to its 1024 MB grant, as the image's `yarn` user."""
    running = app_containers(cluster, app_id)
    assert set(running) == {am_container, *taskmanagers}, sorted(running)
    nodes = cluster.node_ids()
    for name, c in running.items():
        assert c.labels[LABEL_APP] == app_id and c.labels[LABEL_CONTAINER] == name, c.labels
        assert c.labels[LABEL_NODE] in nodes, c.labels
        host = c.attrs["HostConfig"]
        assert host["Memory"] == CONTAINER_BYTES and host["MemorySwap"] == CONTAINER_BYTES, (name, host["Memory"])
        assert host["NetworkMode"] == "host" and c.attrs["Config"]["User"] == "1000:1000"


def no_container_left(cluster: ComposeCluster, app_id: str) -> None:
    wait_for(f"every Docker container of {app_id} removed",
             lambda: not app_containers(cluster, app_id, running_only=False), timeout=30)
    assert httpx.get(f"{cluster.rm_url}/ws/v1/cluster/apps/{app_id}", timeout=5).json()["app"][
        "runningContainers"] == 0


def aggregated_logs(cluster: ComposeCluster, app_id: str) -> dict[str, str]:
    r = redis.Redis.from_url(cluster.redis_url)
    try:
        wait_for("logs aggregated", lambda: logs_aggregated(r, app_id), timeout=30)
        return {text(k): text(v) for k, v in r.hgetall(keys.app_logs(app_id)).items()}
    finally:
        r.close()


def test_flink_per_job_wordcount_in_docker_containers(compose_cluster: ComposeCluster, lines: LineServer,
                                                      tmp_path: Path, yarn_logs_on_failure: None) -> None:
    """`miniflink run -t yarn-per-job -p 4` with 2 slots per TaskManager: 1 JobManager + 2 TaskManager
    Docker containers while the job runs, exact counts, SUCCEEDED, and no container left after."""
    rm = compose_cluster.rm_url
    client = subprocess.Popen(
        [sys.executable, "-m", "flink_on_yarn.cli.main", "run", "-t", "yarn-per-job", *FLINK, "-py", WORDCOUNT,
         "--hostname", "127.0.0.1", "--port", str(lines.port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
        env=flink_env(compose_cluster, tmp_path), start_new_session=True)
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(client.stdout or []), daemon=True)
    reader.start()
    try:
        app = wait_for("the Flink application's JobManager registered", lambda: next(
            (a for a in (httpx.get(f"{rm}/ws/v1/cluster/apps", timeout=5).json()["apps"] or {}).get("app", [])
             if a["applicationType"] == "Apache Flink" and a["state"] == "RUNNING"
             and a["amRPCAddress"] not in ("", "N/A")), None), timeout=60)
        # The JobManager wants its application's secret: ask through the RM's proxy, which presents it.
        app_id, jm_url = app["id"], f"{rm}/proxy/{app['id']}"
        am_container = httpx.get(f"{rm}/ws/v1/cluster/apps/{app_id}/appattempts", timeout=5).json()[
            "appAttempts"]["appAttempt"][-1]["containerId"]
        tms = wait_for("2 TaskManagers registered", lambda: len(
            t := {x["id"] for x in rest(jm_url + "/taskmanagers")["taskmanagers"]}) == 2 and t, timeout=60)
        check_flink_containers(compose_cluster, app_id, am_container, tms)
        # Each TaskManager sees its container's memory limit, not the host's, as a container-aware JVM does.
        assert {x["hardware"]["physicalMemory"] for x in rest(jm_url + "/taskmanagers")["taskmanagers"]} == {
            1024 * 1024 * 1024}
        wait_for("the counts in the TaskManagers' stdout (JobManager REST)",
                 lambda: final_counts(list(tm_outputs(jm_url).values())) == expected_lines(), timeout=30)
        lines.close()  # the socket closes: the source ends, and with it the job
        assert client.wait(timeout=60) == 0, "".join(output)
    finally:
        if client.poll() is None:
            os.killpg(client.pid, signal.SIGKILL)
            client.wait()
        reader.join(timeout=5)
    out = "".join(output)
    assert "YARN application has been deployed successfully." in out, out
    assert f"Application {app_id} FINISHED with final status SUCCEEDED" in out, out
    no_container_left(compose_cluster, app_id)
    logs = aggregated_logs(compose_cluster, app_id)
    tm_outs = {k.split()[0]: v for k, v in logs.items() if k.endswith(" taskmanager.out")}
    assert set(tm_outs) == tms, sorted(logs)
    assert final_counts(list(tm_outs.values())) == expected_lines()
    jm_log = next(v for k, v in logs.items() if k.startswith(am_container) and k.endswith(" jobmanager.log"))
    assert "Requesting new TaskManager container with <memory:1024, vCores:1>" in jm_log, jm_log


def test_flink_killed_taskmanager_container_is_replaced(compose_cluster: ComposeCluster, lines: LineServer,
                                                        tmp_path: Path, yarn_logs_on_failure: None) -> None:
    """A streaming per-job job with a fixed-delay restart strategy: `docker kill` one TaskManager's
    container, YARN reports it completed, the JobManager asks for a new one, the job restarts and
    counts exactly again; cancel ends the application KILLED and leaves no container."""
    rm = compose_cluster.rm_url
    env = flink_env(compose_cluster, tmp_path)
    res = subprocess.run(
        [sys.executable, "-m", "flink_on_yarn.cli.main", "run", "-t", "yarn-per-job", "-d", *FLINK,
         "-D", "restart-strategy=fixed-delay", "-D", "restart-strategy.fixed-delay.attempts=3",
         "-D", "restart-strategy.fixed-delay.delay=500 ms", "-py", WORDCOUNT,
         "--hostname", "127.0.0.1", "--port", str(lines.port)],
        capture_output=True, text=True, timeout=90, cwd=ROOT, env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    job_id = res.stdout.split("JobID ")[1].split()[0]
    app_id = res.stdout.split("Submitted application ")[1].split()[0]
    jm_url = f"{rm}/proxy/{app_id}"  # the RM's proxy presents the application's secret to the JobManager
    am_container = httpx.get(f"{rm}/ws/v1/cluster/apps/{app_id}/appattempts", timeout=5).json()[
        "appAttempts"]["appAttempt"][-1]["containerId"]
    tms = {t["id"] for t in rest(jm_url + "/taskmanagers")["taskmanagers"]}
    assert len(tms) == 2, tms
    check_flink_containers(compose_cluster, app_id, am_container, tms)
    wait_for("first counts", lambda: final_counts(list(tm_outputs(jm_url).values())) == expected_lines(), timeout=30)

    victim, survivor = sorted(tms)
    before = len(tm_outputs(jm_url)[survivor])
    compose_cluster.engine.containers.get(victim).kill()  # docker kill: SIGKILL, as a crashed host would
    new_tms = wait_for("a replacement TaskManager registered", lambda: len(
        t := {x["id"] for x in rest(jm_url + "/taskmanagers")["taskmanagers"]}) == 2 and victim not in t and t,
        timeout=60)
    [replacement] = new_tms - tms
    wait_for("the replacement's Docker container, the victim's gone", lambda: set(
        app_containers(compose_cluster, app_id)) == {am_container, *new_tms}, timeout=30)
    check_flink_containers(compose_cluster, app_id, am_container, new_tms)
    wait_for("the job running again", lambda: rest(f"{jm_url}/jobs/{job_id}")["state"] == "RUNNING", timeout=30)
    # The restarted job's 4 subtasks run on the survivor and the replacement and count from scratch.
    wait_for("exact counts after the restart", lambda: (outs := tm_outputs(jm_url)) and (
        len(outs[survivor]) > before or final_counts([outs[replacement]]))
        and final_counts(list(outs.values())) == expected_lines(), timeout=30)
    history = rest(jm_url + "/resourcemanager/allocation-history")["events"]
    assert sum(1 for e in history if e["event"] == "taskmanager-registered") == 3, history

    res = subprocess.run([sys.executable, "-m", "flink_on_yarn.cli.main", "cancel", "-yid", app_id, job_id],
                         capture_output=True, text=True, timeout=60, cwd=ROOT, env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    deadline = time.monotonic() + 60
    while (app := httpx.get(f"{rm}/ws/v1/cluster/apps/{app_id}", timeout=5).json()["app"])["state"] not in (
            "FINISHED", "FAILED", "KILLED"):
        assert time.monotonic() < deadline, app
        time.sleep(0.2)
    assert app["finalStatus"] == "KILLED", app
    no_container_left(compose_cluster, app_id)


def test_restart_keeps_yarn_state(compose_cluster: ComposeCluster) -> None:
    """Redis writes an append-only file on its volume: after `restart` the RM recovers every application
    (state, final status, diagnostics) from it, and the NodeManagers register again."""
    rm = compose_cluster.rm_url

    def apps() -> dict[str, tuple[str, str]]:
        got = httpx.get(f"{rm}/ws/v1/cluster/apps", timeout=5).json()["apps"]
        return {a["id"]: (a["state"], a["finalStatus"]) for a in (got["app"] if got else [])}

    before = apps()
    assert before, "the tests before this one ran applications"
    compose_cluster.compose("restart", timeout=180)
    compose_cluster.wait_healthy(5, timeout=90)
    wait_for("3 RUNNING nodes again", lambda: len(httpx.get(
        f"{rm}/ws/v1/cluster/nodes", params={"states": "RUNNING"}, timeout=5).json()["nodes"]["node"]) == 3,
        timeout=60)
    assert apps() == before
