"""TaskManagers whose NodeManager dies, on a real RM and real NMs: without NM recovery they die with it at
once (no TaskManager outlives its container); with recovery on they outlive it, but once YARN declares the
node lost the JobManager drops them, they exit within seconds and never register again, and the job's
counts stay exact on the replacements."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from miniyarn.sockets import free_port
from nodemanager import recovery
from tests.conftest import Processes, alive
from tests.flink_yarn.conftest import FlinkOnYarn, final_counts
from tests.flink_yarn.integration.test_modes import LINES, api, expected_lines, get, submit_socket_job, tm_outputs
from tests.integration.conftest import FAST_CONF, Cluster, start_rm, wait_for
from tests.line_server import LineServer

pytestmark = pytest.mark.integration

RESTARTS = ["-p", "2", "-D", "taskmanager.numberOfTaskSlots=1", "-D", "restart-strategy=fixed-delay",
            "-D", "restart-strategy.fixed-delay.attempts=5", "-D", "restart-strategy.fixed-delay.delay=500 ms"]


@pytest.fixture
def socket_lines() -> Iterator[LineServer]:
    server = LineServer(LINES)
    yield server
    server.close()


class Nodes:
    """An RM, an NM with room for the JobManager alone (so it survives), and two NMs for TaskManagers."""

    def __init__(self, redis_url: str, processes: Processes, root: Path) -> None:
        self.yarn = Cluster(redis_url, start_rm(processes, redis_url), processes)
        self.processes = processes
        self.root = root
        self.private_dirs: list[tuple[Path, str]] = []

    def start_nm(self, name: str, memory_mb: int, recover: bool = False) -> None:
        port = free_port()
        local = self.root / name / "local"
        args = ["-m", "nodemanager", "--redis-url", self.yarn.redis_url, "--port", str(port), "--memory-mb",
                str(memory_mb), "--vcores", "4", "--local-dirs", str(local), "--log-dirs",
                str(self.root / name / "logs"), *FAST_CONF]
        if recover:
            args += ["-D", "yarn.nodemanager.recovery.enabled=true"]
        self.processes.start(name, args)
        self.yarn.nodes.append(name)
        self.private_dirs.append((local / recovery.PRIVATE_DIR, f"127.0.0.1:{port}"))

    def nm_of(self, container_id: str) -> tuple[str, subprocess.Popen[bytes]]:
        return next((n, p) for n, p in self.processes.procs
                    if f"Container {container_id} transitioned from SCHEDULED to RUNNING" in self.processes.log(n))

    def kill_left(self) -> None:
        """Containers of an NM with recovery outlive its SIGTERM at teardown: end them by their pid files."""
        for private, node_id in self.private_dirs:
            for found in recovery.scan(private, node_id):
                if found.alive and found.pid is not None:
                    recovery.kill_group(found.pid, signal.SIGKILL)


@pytest.fixture
def nodes(redis_url: str, processes: Processes, tmp_path: Path) -> Iterator[Nodes]:
    n = Nodes(redis_url, processes, tmp_path / "nodes")
    try:
        yield n
    finally:
        n.kill_left()


def _start(nodes: Nodes, tmp_path: Path, recover: bool) -> FlinkOnYarn:
    nodes.start_nm("nm-am", 256)  # exactly the JobManager's container
    wait_for("the JobManager's node", lambda: len(nodes.yarn.running_nodes()) == 1)
    nodes.start_nm("nm-a", 1024, recover=recover)
    nodes.start_nm("nm-b", 1024, recover=recover)
    wait_for("3 running NodeManagers", lambda: len(nodes.yarn.running_nodes()) == 3)
    return FlinkOnYarn(nodes.yarn, tmp_path)


def _kill_a_taskmanagers_nm(nodes: Nodes, flink: FlinkOnYarn, lines: LineServer) -> tuple[str, str, dict[str, str],
                                                                                             float]:
    app_id, job_id = submit_socket_job(flink, lines, *RESTARTS)
    url = api(flink, app_id)
    wait_for("first counts", lambda: final_counts(list(tm_outputs(url).values())) == expected_lines(), timeout=40)
    victim = get(url + "/taskmanagers")["taskmanagers"][0]
    name, nm = nodes.nm_of(victim["id"])
    assert name != "nm-am"
    nm.kill()
    return app_id, job_id, victim, time.monotonic()


def _recovers_exactly(flink: FlinkOnYarn, app_id: str, job_id: str, victim: dict[str, str]) -> None:
    url = api(flink, app_id)
    wait_for("a replacement TaskManager", lambda: victim["id"] not in [
        t["id"] for t in get(url + "/taskmanagers")["taskmanagers"]] and len(get(url + "/taskmanagers")[
            "taskmanagers"]) == 2, timeout=40)
    wait_for("the job running again", lambda: get(f"{url}/jobs/{job_id}")["state"] == "RUNNING", timeout=30)
    wait_for("exact counts after the restart", lambda: final_counts(list(tm_outputs(url).values()))
             == expected_lines(), timeout=30)
    history = get(url + "/resourcemanager/allocation-history")["events"]
    registered = [e for e in history if e["event"] == "taskmanager-registered"]
    assert sum(1 for e in registered if e.get("taskmanager") == victim["id"]) == 1, history
    flink.miniflink("cancel", "-yid", app_id, job_id)
    flink.yarn.wait_app_state(app_id, "FINISHED", "FAILED", "KILLED")


def test_taskmanagers_die_with_their_sigkilled_nodemanager(nodes: Nodes, tmp_path: Path,
                                                           socket_lines: LineServer) -> None:
    flink = _start(nodes, tmp_path, recover=False)
    app_id, job_id, victim, killed_at = _kill_a_taskmanagers_nm(nodes, flink, socket_lines)
    wait_for("the TaskManager to die with its NodeManager", lambda: not alive({int(victim["pid"])}), timeout=3)
    print(f"TaskManager gone {time.monotonic() - killed_at:.2f} s after its NM's SIGKILL")
    _recovers_exactly(flink, app_id, job_id, victim)


def test_a_taskmanager_that_outlives_its_lost_node_exits_and_never_registers_again(
        nodes: Nodes, tmp_path: Path, socket_lines: LineServer) -> None:
    flink = _start(nodes, tmp_path, recover=True)
    app_id, job_id, victim, killed_at = _kill_a_taskmanagers_nm(nodes, flink, socket_lines)
    time.sleep(1)
    assert alive({int(victim["pid"])})  # NM recovery on: containers outlive their NM
    # YARN declares the node LOST (3 s expiry here) and reports the container completed; the JobManager
    # drops its TaskManager, which ends instead of retrying for taskmanager.registration.timeout.
    wait_for("the TaskManager to exit", lambda: not alive({int(victim["pid"])}), timeout=15)
    print(f"TaskManager gone {time.monotonic() - killed_at:.2f} s after its NM's SIGKILL")
    _recovers_exactly(flink, app_id, job_id, victim)
