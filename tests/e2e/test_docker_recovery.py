"""NM recovery with the Docker executor (yarn.nodemanager.recovery.enabled) against a real engine: a
NodeManager SIGKILLed and started again under the same node id finds its Docker containers by their labels,
takes back the running one (the same Docker container, its completion and exit code from the engine),
reports the one that exited while it was down with Docker's exit code, and removes the one the RM no
longer grants and any container of the node it has no record of: none is left beside a replacement."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from miniyarn import keys
from miniyarn.sockets import free_port
from nodemanager.executor.docker_spec import LABEL_APP, LABEL_CONTAINER, LABEL_NODE
from tests.conftest import Processes
from tests.e2e.conftest import Sweeper
from tests.nodemanager.integration.conftest import APP, NM, cid, start_nm, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

RECOVERY_ON = ["-D", "yarn.nodemanager.recovery.enabled=true"]


class DockerNode:
    """One node id (a fixed port) and its dirs, run as NM processes nm, nm-2, ... with --executor docker."""

    def __init__(self, processes: Processes, redis_url: str, root: Path, image: str, sweeper: Sweeper) -> None:
        self.processes, self.redis_url, self.root, self.image = processes, redis_url, root, image
        self.port = free_port()
        self.runs = 0
        sweeper.nodes.add(f"127.0.0.1:{self.port}")
        self.sweeper = sweeper

    def start(self) -> NM:
        self.runs += 1
        return start_nm(self.processes, self.redis_url, name="nm" if self.runs == 1 else f"nm-{self.runs}", extra=[
            "--port", str(self.port), "--local-dirs", str(self.root / "local"), "--log-dirs", str(self.root / "logs"),
            "--executor", "docker", "-D", f"yarn.nodemanager.runtime.linux.docker.image-name={self.image}",
            *RECOVERY_ON])

    def kill(self, nm: NM) -> None:
        proc = next(p for n, p in self.processes.procs if n == nm.name)
        proc.kill()
        proc.wait(5)
        nm.redis.delete(keys.rm_inbox())  # what follows in the inbox is the next run's

    def docker(self, container_id: str) -> dict[str, str]:
        """Docker container id -> status, of this node's containers for `container_id`."""
        out = {}
        for c in self.sweeper.containers(f"127.0.0.1:{self.port}"):
            if c.labels.get(LABEL_CONTAINER) == container_id:
                out[c.id] = c.status
        return out

    def work_dir(self, container_id: str) -> Path:
        return self.root / "local" / "usercache" / "alice" / "appcache" / APP / container_id


def test_a_restarted_nm_takes_back_its_running_docker_container(redis_url: str, processes: Processes,
                                                                 sweeper: Sweeper, image: str,
                                                                 tmp_path: Path) -> None:
    node = DockerNode(processes, redis_url, tmp_path / "node", image, sweeper)
    nm = node.start()
    c = cid(2)
    # The container waits for a file in its own work dir (mounted at the same path), then exits 7.
    nm.start(c, ['while [ ! -e "$PWD/go" ]; do sleep 0.1; done; echo done; exit 7'], memory=128)
    nm.wait_state(c, "RUNNING", timeout=30)
    [before] = wait_for("its Docker container", lambda: node.docker(c), timeout=20)
    node.kill(nm)
    assert node.docker(c) == {before: "running"}  # the engine keeps it past its NM

    nm2 = node.start()
    assert nm2.node_id == nm.node_id
    nm2.wait_state(c, "RUNNING", timeout=20)
    assert f"Recovered container {c}" in processes.log(nm2.name)
    assert node.docker(c) == {before: "running"}, "the same Docker container, not a new one"
    (node.work_dir(c) / "go").touch()
    done = nm2.wait_state(c, "COMPLETE", timeout=30)
    assert done["exit_status"] == 7, done
    assert nm2.get(f"/ws/v1/node/containerlogs/{c}/stdout").text == "done\n"
    wait_for("its Docker container removed", lambda: not node.docker(c), timeout=10)


def test_a_restarted_nm_reports_exited_and_removes_ungranted_and_unknown_docker_containers(
        redis_url: str, processes: Processes, sweeper: Sweeper, image: str, tmp_path: Path, engine) -> None:  # type: ignore[no-untyped-def]
    node = DockerNode(processes, redis_url, tmp_path / "node", image, sweeper)
    nm = node.start()
    exits, ungranted = cid(3), cid(4)
    nm.start(exits, ['while [ ! -e "$PWD/go" ]; do sleep 0.1; done; exit 5'], memory=128)
    nm.start(ungranted, ["sleep 60"], memory=128)
    for c in (exits, ungranted):
        nm.wait_state(c, "RUNNING", timeout=30)
        wait_for(f"the Docker container of {c}", lambda c=c: node.docker(c), timeout=20)  # type: ignore[misc]
    node.kill(nm)
    (node.work_dir(exits) / "go").touch()
    wait_for("the container to exit while its NM is down", lambda: set(node.docker(exits).values()) == {"exited"},
             timeout=20)
    # The RM completed one meanwhile (its node LOST): it deletes the grant; its replacement may run elsewhere.
    nm.redis.delete(keys.container(ungranted))
    # A container of this node no record names (its NM died between create and record, or a stray one).
    stray = engine.containers.run(image, ["sleep", "60"], detach=True, network_mode="none",
                                  labels={LABEL_NODE: nm.node_id, LABEL_CONTAINER: cid(9), LABEL_APP: APP})
    try:
        nm2 = node.start()
        done = nm2.wait_state(exits, "COMPLETE", timeout=20)
        assert done["exit_status"] == 5, done
        killed = nm2.wait_state(ungranted, "COMPLETE", timeout=20)
        assert killed["exit_status"] == -100 and "no longer grants it" in killed["diagnostics"], killed
        wait_for("every Docker container of the node's earlier run removed",
                 lambda: not node.sweeper.containers(nm.node_id), timeout=15)
        assert "Removed 1 containers of an earlier run" in processes.log(nm2.name)
    finally:
        subprocess.run(["docker", "rm", "-f", stray.id], capture_output=True)
