"""NM faults as the RM and an ApplicationMaster see them, on a real RM and real NMs (the test is a tiny AM,
as in test_node_and_container_failures): an NM restarted under its node id with recovery keeps its
containers and their completion reaches the AM; restarted without, it kills and reports what its last run
left, so the RM holds no ghost containers; a node whose log dir goes bad turns UNHEALTHY and gets nothing
until it is good again."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest

from miniyarn.client.amrm_client import AMRMClient
from miniyarn.client.nm_client import NMClient
from miniyarn.sockets import free_port
from nodemanager import recovery
from tests.conftest import Processes
from tests.integration.conftest import FAST_CONF, Cluster, start_rm, submit_ds, wait_for
from tests.integration.test_node_and_container_failures import TinyAM, launch

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

# NM liveness long enough that a restart lands well inside it (the node never turns LOST here).
SLOW_EXPIRY = ["-D", "yarn.nm.liveness-monitor.expiry-interval-ms=20000"]


@dataclass
class Node:
    """One node id with fixed dirs; each run is an NM process named <name>, <name>-2, ..."""

    processes: Processes
    redis_url: str
    root: Path
    name: str
    extra: list[str]
    port: int = 0
    runs: int = 0

    def __post_init__(self) -> None:
        self.port = free_port()

    @property
    def node_id(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def proc_name(self) -> str:
        return self.name if self.runs == 1 else f"{self.name}-{self.runs}"

    def start(self) -> subprocess.Popen[bytes]:
        self.runs += 1
        proc = self.processes.start(self.proc_name, [
            "-m", "nodemanager", "--redis-url", self.redis_url, "--port", str(self.port), "--hostname", "127.0.0.1",
            "--memory-mb", "1024", "--vcores", "4", "--local-dirs", str(self.root / "local"), "--log-dirs",
            str(self.root / "logs"), *FAST_CONF, *self.extra])
        wait_for(f"{self.proc_name} started", lambda: "started, http://" in self.processes.log(self.proc_name))
        return proc

    def kill_left(self) -> None:
        for found in recovery.scan(self.root / "local" / recovery.PRIVATE_DIR, self.node_id):
            if found.alive and found.pid is not None:
                recovery.kill_group(found.pid, signal.SIGKILL)


@pytest.fixture
def rm(redis_url: str, processes: Processes) -> Iterator[Cluster]:
    yield Cluster(redis_url, start_rm(processes, redis_url, extra=SLOW_EXPIRY), processes)


@pytest.fixture
def yarn(rm: Cluster) -> Iterator[Cluster]:
    rm.start_nm("nm-am", memory_mb=128)  # room for the tiny AM alone: its containers go to the node under test
    wait_for("the AM's node", lambda: len(rm.running_nodes()) == 1)
    yield rm


def _node(yarn: Cluster, tmp_path: Path, extra: list[str]) -> Node:
    n = Node(yarn.processes, yarn.redis_url, tmp_path / "node", "nm-x", extra)
    n.start()
    wait_for("2 running NodeManagers", lambda: len(yarn.running_nodes()) == 2)
    return n


@pytest.fixture
def tiny(yarn: Cluster) -> Iterator[TinyAM]:
    app_id = str(httpx.post(f"{yarn.rm_url}/ws/v1/cluster/apps/new-application").json()["application-id"])
    body = {"application-id": app_id, "application-name": "tiny-am", "resource": {"memory": 128, "vCores": 1},
            "am-container-spec": {"commands": {"command": "sleep 90"}}, "max-app-attempts": 1}
    assert httpx.post(f"{yarn.rm_url}/ws/v1/cluster/apps", json=body).status_code == 202
    am_node = wait_for("the AM container", lambda: yarn.app(app_id)["masterNodeId"])
    attempt_id = app_id.replace("application_", "appattempt_") + "_000001"
    amrm = AMRMClient(yarn.attempt_url(attempt_id), attempt_id=attempt_id)
    amrm.register("127.0.0.1", -1, "")
    yield TinyAM(app_id, str(am_node), amrm, NMClient(amrm.redis, user="tester"))
    amrm.close()


def test_nm_sigterm_and_restart_with_recovery_keeps_the_container_and_its_completion_reaches_the_am(
        yarn: Cluster, tiny: TinyAM, tmp_path: Path) -> None:
    node = _node(yarn, tmp_path, ["-D", "yarn.nodemanager.recovery.enabled=true"])
    try:
        c = tiny.container_on(node.node_id)
        go = tmp_path / "go"
        pid = launch(tiny, c, f"bash -c 'while [ ! -e {go} ]; do sleep 0.1; done; echo ok'")
        proc = next(p for n, p in yarn.processes.procs if n == node.proc_name)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        assert psutil.pid_exists(pid)
        node.start()
        info = wait_for("the container recovered", lambda: httpx.get(
            f"http://{node.node_id}/ws/v1/node/containers/{c.id}", timeout=5).json().get("container"))
        assert info["state"] == "RUNNING"
        [rm_node] = [n for n in yarn.running_nodes() if n["id"] == node.node_id]
        assert rm_node["numContainers"] == 1
        go.touch()
        status = tiny.completed(c.id)
        assert status.exit_status == 0, status.diagnostics
        assert httpx.get(f"http://{node.node_id}/ws/v1/node/containerlogs/{c.id}/stdout", timeout=5).text == "ok\n"
    finally:
        node.kill_left()


def test_nm_sigkilled_and_restarted_without_recovery_reports_its_old_containers_at_once(
        yarn: Cluster, tiny: TinyAM, tmp_path: Path) -> None:
    node = _node(yarn, tmp_path, [])
    try:
        c = tiny.container_on(node.node_id)
        pid = launch(tiny, c, "sleep 60")
        proc = next(p for n, p in yarn.processes.procs if n == node.proc_name)
        proc.kill()
        wait_for("the container to die with its NM", lambda: not psutil.pid_exists(pid)
                 or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE, timeout=3)
        node.start()  # within the RM's NM expiry: the node never turned LOST
        status = tiny.completed(c.id, timeout=10)
        assert status.exit_status == -100
        assert f"NodeManager {node.node_id} went away while it ran" in status.diagnostics
        assert [n["id"] for n in yarn.get("/nodes", states="LOST")["nodes"] or []] == []
    finally:
        node.kill_left()


def test_a_node_whose_log_dir_goes_bad_turns_unhealthy_gets_nothing_and_comes_back(
        rm: Cluster, tmp_path: Path) -> None:
    yarn = rm
    yarn.start_nm("nm-am", memory_mb=256)  # exactly the DS AM: its shell container can only go to nm-x
    wait_for("the AM's node", lambda: len(rm.running_nodes()) == 1)
    node = _node(yarn, tmp_path, ["-D", "yarn.nodemanager.disk-health-checker.interval-ms=200"])
    logs = node.root / "logs"
    moved = node.root / "logs.away"
    logs.rename(moved)
    logs.write_text("not a directory")  # the disk went away: nothing can be written there

    def state() -> dict[str, str]:
        found: dict[str, str] = yarn.get(f"/nodes/{node.node_id}")["node"]
        return found

    wait_for("the node UNHEALTHY", lambda: state()["state"] == "UNHEALTHY", timeout=10)
    assert re.search(r"1/1 log-dirs have errors: \[ .*/logs : Directory is not writable", state()["healthReport"])
    app_id = submit_ds(yarn.rm_url, yarn.redis_url, "echo hello", containers=1)
    wait_for("the AM on the healthy node", lambda: yarn.app(app_id)["masterNodeId"])
    # The DS AM's shell container fits nowhere but the unhealthy node: it must wait, not fail there.
    yarn.wait_app_state(app_id, "RUNNING")
    time.sleep(3)  # several heartbeats and scheduling passes
    assert "Start request for" not in yarn.processes.log(node.proc_name)
    assert yarn.app(app_id)["state"] == "RUNNING"
    logs.unlink()
    moved.rename(logs)
    wait_for("the node healthy again", lambda: state()["state"] == "RUNNING", timeout=10)
    done = yarn.wait_app_state(app_id, "FINISHED", "FAILED", "KILLED", timeout=60)
    assert done["finalStatus"] == "SUCCEEDED", done["diagnostics"]
    assert "Start request for" in yarn.processes.log(node.proc_name)
    shutil.rmtree(moved, ignore_errors=True)
