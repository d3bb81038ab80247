"""What a container gets from its NodeManager, checked from inside real containers: no NM identity
(`USER=root`, the NM's `HOME`, `SUDO_*`) with either executor, and a pids limit under Docker (marker e2e)."""

from __future__ import annotations

import pytest

from tests.conftest import Processes
from tests.e2e.conftest import Sweeper, engine, image, sweeper  # noqa: F401  # the e2e fixtures, reused
from tests.nodemanager.integration.conftest import NM, cid, start_nm, wait_for

# pids.max is at the cgroup root under cgroup v2, in the pids hierarchy under v1.
SHOW = 'echo "USER=$USER LOGNAME=$LOGNAME HOME=$HOME SUDO=${SUDO_USER:-none} PIDS=$(cat /sys/fs/cgroup/pids.max ' \
       '2>/dev/null || cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || echo none)"; sleep 30'


def identity_line(nm: NM, container: str) -> str:
    out: str = wait_for("the container's line", lambda: "USER=" in (
        t := nm.get(f"/ws/v1/node/containerlogs/{container}/stdout").text) and t, timeout=30)
    return out.strip().splitlines()[0]


def test_a_process_container_has_its_own_identity_not_the_nms(redis_url: str, processes: Processes,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUDO_USER", "admin")  # as if the NM had been started with sudo
    monkeypatch.setenv("HOME", "/root")
    nm = start_nm(processes, redis_url)
    nm.start(cid(2), [SHOW])
    line = identity_line(nm, cid(2))
    assert "USER=alice LOGNAME=alice" in line  # the command's user (nm.start sends alice)
    assert "HOME=/root" not in line and "/usercache/alice/appcache/" in line and "SUDO=none" in line
    nm.stop(cid(2))


@pytest.mark.e2e
@pytest.mark.timeout(120)
def test_a_docker_container_has_a_pids_limit_and_no_nm_identity(redis_url: str, processes: Processes,
                                                                sweeper: Sweeper, image: str,  # noqa: F811
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUDO_USER", "admin")
    nm = start_nm(processes, redis_url, extra=["--executor", "docker", "-D",
                                               f"yarn.nodemanager.runtime.linux.docker.image-name={image}",
                                               "-D", "yarn.nodemanager.runtime.linux.docker.pids-limit=512"])
    sweeper.nodes.add(nm.node_id)
    nm.start(cid(3), [SHOW])
    line = identity_line(nm, cid(3))
    assert "PIDS=512" in line and "SUDO=none" in line and "USER=alice" in line and "HOME=/root" not in line
    [c] = wait_for("the Docker container", lambda: sweeper.containers(nm.node_id), timeout=20)
    assert c.attrs["HostConfig"]["PidsLimit"] == 512
    nm.stop(cid(3))
