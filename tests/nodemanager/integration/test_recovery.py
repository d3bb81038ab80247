"""NM faults on a real NodeManager process: SIGKILL and SIGTERM of the NM, restarts under the same node id
and dirs with and without yarn.nodemanager.recovery.enabled (the test plays the RM: grants in Redis, the
heartbeats read from the inbox)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from miniyarn import keys
from miniyarn.sockets import free_port
from nodemanager import recovery
from tests.conftest import Processes, alive
from tests.nodemanager.integration.conftest import APP, NM, cid, start_nm, wait_for

RECOVERY_ON = ["-D", "yarn.nodemanager.recovery.enabled=true"]


class Node:
    """One node id with fixed dirs, started and restarted as NM processes named nm, nm-2, ..."""

    def __init__(self, processes: Processes, redis_url: str, root: Path) -> None:
        self.processes = processes
        self.redis_url = redis_url
        self.root = root
        self.port = free_port()
        self.runs = 0

    def start(self, extra: list[str] | None = None) -> NM:
        self.runs += 1
        name = "nm" if self.runs == 1 else f"nm-{self.runs}"
        return start_nm(self.processes, self.redis_url, name=name, extra=[
            "--port", str(self.port), "--local-dirs", str(self.root / "local"), "--log-dirs",
            str(self.root / "logs"), *(extra or [])])

    def proc(self, nm: NM) -> subprocess.Popen[bytes]:
        return next(p for n, p in self.processes.procs if n == nm.name)

    def pid_of(self, container_id: str) -> int:
        path = recovery.pid_file(self.root / "local" / recovery.PRIVATE_DIR / APP / container_id, container_id)
        return int(wait_for(f"the pid file of {container_id}", lambda: path.exists() and path.read_text().strip()))


@pytest.fixture
def node(redis_url: str, processes: Processes, tmp_path: Path) -> Iterator[Node]:
    n = Node(processes, redis_url, tmp_path / "node")
    try:
        yield n
    finally:
        # Containers run in sessions of their own: end whatever a failed test left, by its pid file.
        for found in recovery.scan(n.root / "local" / recovery.PRIVATE_DIR, f"127.0.0.1:{n.port}"):
            if found.alive and found.pid is not None:
                recovery.kill_group(found.pid, signal.SIGKILL)


def test_containers_die_with_a_sigkilled_nm_when_recovery_is_off(node: Node) -> None:
    nm = node.start()
    c = cid(1)
    nm.start(c, ["sleep 60 & sleep 60"])  # a child of its own too: the whole group must go
    nm.wait_state(c, "RUNNING")
    pid = node.pid_of(c)
    group = [p.pid for p in psutil.Process(pid).children(recursive=True)] + [pid]
    node.proc(nm).kill()
    wait_for("the container's processes to end with their NM", lambda: not alive(set(group)),
             timeout=3)


def test_a_restart_without_recovery_kills_and_reports_what_the_last_run_left(node: Node) -> None:
    nm = node.start(RECOVERY_ON)  # so that the container outlives the NM's SIGKILL
    c = cid(2)
    nm.start(c, ["sleep 60"])
    nm.wait_state(c, "RUNNING")
    pid = node.pid_of(c)
    node.proc(nm).kill()
    node.proc(nm).wait(5)
    assert alive({pid})
    nm.redis.delete(keys.rm_inbox())
    nm2 = node.start()
    done = nm2.wait_state(c, "COMPLETE")
    assert done["exit_status"] == -100
    assert "did not recover it: yarn.nodemanager.recovery.enabled is false" in done["diagnostics"]
    wait_for("the old container to be killed", lambda: not alive({pid}), timeout=3)


def test_sigterm_with_recovery_keeps_the_container_and_the_next_run_takes_it_back(node: Node,
                                                                                   tmp_path: Path) -> None:
    nm = node.start(RECOVERY_ON)
    c = cid(3)
    go = tmp_path / "go"
    nm.start(c, [f"while [ ! -e {go} ]; do sleep 0.1; done; echo done; exit 7"])
    nm.wait_state(c, "RUNNING")
    pid = node.pid_of(c)
    proc = node.proc(nm)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0
    assert alive({pid})
    assert {"type": "node_shutdown", "node_id": nm.node_id} not in nm.inbox()  # the RM keeps the node's containers
    nm.redis.delete(keys.rm_inbox())
    nm2 = node.start(RECOVERY_ON)
    assert nm2.node_id == nm.node_id
    nm2.wait_state(c, "RUNNING")
    assert "Recovered container " + c in node.processes.log(nm2.name)
    assert nm2.get(f"/ws/v1/node/containers/{c}").json()["container"]["state"] == "RUNNING"
    go.touch()
    done = nm2.wait_state(c, "COMPLETE")
    assert done["exit_status"] == 7
    assert nm2.get(f"/ws/v1/node/containerlogs/{c}/stdout").text == "done\n"


def test_recovery_reports_a_container_that_exited_while_the_nm_was_down(node: Node, tmp_path: Path) -> None:
    nm = node.start(RECOVERY_ON)
    c = cid(4)
    go = tmp_path / "go"
    nm.start(c, [f"while [ ! -e {go} ]; do sleep 0.1; done; exit 5"])
    nm.wait_state(c, "RUNNING")
    pid = node.pid_of(c)
    node.proc(nm).kill()
    go.touch()
    wait_for("the container to exit", lambda: not alive({pid}))
    nm.redis.delete(keys.rm_inbox())
    done = node.start(RECOVERY_ON).wait_state(c, "COMPLETE")
    assert done["exit_status"] == 5


def test_recovery_reports_a_container_killed_while_the_nm_was_down_as_lost(node: Node) -> None:
    nm = node.start(RECOVERY_ON)
    c = cid(5)
    nm.start(c, ["sleep 60"])
    nm.wait_state(c, "RUNNING")
    pid = node.pid_of(c)
    node.proc(nm).kill()
    os.killpg(pid, signal.SIGKILL)  # no chance to write its exit code
    wait_for("the container to die", lambda: not alive({pid}))
    nm.redis.delete(keys.rm_inbox())
    done = node.start(RECOVERY_ON).wait_state(c, "COMPLETE")
    assert done["exit_status"] == recovery.EXIT_CODE_LOST


def test_recovery_never_takes_back_a_container_the_rm_completed(node: Node) -> None:
    """The RM declared the node LOST and completed its containers (it deletes their grants): the old
    container must not run beside the replacement the AM was given."""
    nm = node.start(RECOVERY_ON)
    c = cid(6)
    nm.start(c, ["sleep 60"])
    nm.wait_state(c, "RUNNING")
    pid = node.pid_of(c)
    node.proc(nm).kill()
    nm.redis.delete(keys.container(c), keys.rm_inbox())
    done = node.start(RECOVERY_ON).wait_state(c, "COMPLETE")
    assert done["exit_status"] == -100
    assert "no longer grants it" in done["diagnostics"]
    wait_for("the old container to be killed", lambda: not alive({pid}), timeout=3)


def test_recovery_needs_a_stable_node_id(redis_url: str, tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "nodemanager", "--redis-url", redis_url, "--port", "0", "--local-dirs",
                          str(tmp_path / "l"), "--log-dirs", str(tmp_path / "g"), *RECOVERY_ON],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 2
    assert "needs a stable node id and dirs" in out.stderr
