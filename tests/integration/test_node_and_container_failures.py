"""Failures as an ApplicationMaster sees them, on a real RM and two real NMs: the test is a tiny AM
(AMRMClient + NMClient) whose AM container is a `sleep`. An NM killed with SIGKILL turns LOST and
its containers come back -100; a container past its memory dies -104; an over-max ask is refused."""

from __future__ import annotations

import os
import re
import signal
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import psutil
import pytest
import redis

from miniyarn import keys
from miniyarn.cli.main import main
from miniyarn.client.amrm_client import AMRMClient, ContainerRequest
from miniyarn.client.nm_client import NMClient
from miniyarn.records import Container, ContainerLaunchContext, ContainerStatus, Resource
from miniyarn.redisconn import text
from miniyarn.rpc import YarnRemoteError
from tests.integration.conftest import Cluster, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


@dataclass
class TinyAM:
    app_id: str
    am_node: str
    amrm: AMRMClient
    nm: NMClient

    def container_on(self, node: str, memory: int = 128) -> Container:
        self.amrm.add_container_request(ContainerRequest(capability=Resource(memory=memory, vcores=1),
                                                         nodes=[node], relax_locality=False))
        got: list[Container] = wait_for("a container", lambda: self.amrm.allocate(0.1).allocated_containers)
        assert got[0].node_id == node
        return got[0]

    def completed(self, cid: str, timeout: float = 20.0) -> ContainerStatus:
        seen: list[ContainerStatus] = []

        def done() -> ContainerStatus | None:
            seen.extend(self.amrm.allocate(0.5).completed_container_statuses)
            return next((s for s in seen if s.container_id == cid), None)

        status: ContainerStatus = wait_for(f"{cid} completed", done, timeout=timeout, interval=0.3)
        return status


@pytest.fixture
def tiny_am(cluster: Cluster) -> Iterator[TinyAM]:
    app_id = str(httpx.post(f"{cluster.rm_url}/ws/v1/cluster/apps/new-application").json()["application-id"])
    body = {"application-id": app_id, "application-name": "tiny-am", "resource": {"memory": 128, "vCores": 1},
            "am-container-spec": {"commands": {"command": "sleep 60"}}, "max-app-attempts": 1}
    assert httpx.post(f"{cluster.rm_url}/ws/v1/cluster/apps", json=body).status_code == 202
    am_node = wait_for("the AM container", lambda: cluster.app(app_id)["masterNodeId"])
    attempt_id = app_id.replace("application_", "appattempt_") + "_000001"
    amrm = AMRMClient(cluster.attempt_url(attempt_id), attempt_id=attempt_id)
    amrm.register("127.0.0.1", -1, "")
    yield TinyAM(app_id, str(am_node), amrm, NMClient(amrm.redis, user="tester"))
    amrm.close()


def node_ids(c: Cluster) -> dict[str, str]:
    """NM process name -> its node id, from the line each NM prints when it starts."""
    out = {}
    for name in c.nodes:
        m = re.search(r"NodeManager (\S+) started", c.processes.log(name))
        assert m is not None
        out[name] = m.group(1)
    return out


def launch(am: TinyAM, c: Container, command: str) -> int:
    am.nm.start_container(c, ContainerLaunchContext(commands=[f"{command} 1><LOG_DIR>/stdout 2><LOG_DIR>/stderr"]))

    def pid() -> int | None:
        r = httpx.get(f"http://{c.node_http_address}/ws/v1/node/containers/{c.id}", timeout=5)
        info = r.json().get("container", {}) if r.status_code == 200 else {}
        return int(info["pid"]) if info.get("state") == "RUNNING" and info.get("pid") else None

    found: int = wait_for(f"{c.id} running", pid)
    return found


def test_sigkilled_nodemanager_turns_lost_and_its_containers_come_back_minus_100(
        cluster: Cluster, tiny_am: TinyAM, capsys: pytest.CaptureFixture[str]) -> None:
    ids = node_ids(cluster)
    victim_name = next(n for n, node in ids.items() if node != tiny_am.am_node)
    victim = ids[victim_name]
    c = tiny_am.container_on(victim)
    orphan = psutil.Process(launch(tiny_am, c, "sleep 60"))
    nm_proc = next(p for name, p in cluster.processes.procs if name == victim_name)
    try:
        os.killpg(nm_proc.pid, signal.SIGKILL)
        status = tiny_am.completed(c.id)
        assert status.exit_status == -100
        assert status.diagnostics == "Container released on a *lost* node"
        lost = cluster.get("/nodes", states="LOST")["nodes"]["node"]
        assert [n["id"] for n in lost] == [victim]

        assert main(["node", "-list", "-states", "LOST", "--rm-address", cluster.rm_url]) == 0
        out = capsys.readouterr().out.splitlines()
        assert out[0] == "Total Nodes:1" and [f.strip() for f in out[2].split("\t")][:2] == [victim, "LOST"]

        # The app ends; only the live node owes its logs (a LOST one never uploads), so they complete.
        assert main(["application", "-kill", tiny_am.app_id, "--rm-address", cluster.rm_url]) == 0
        r = redis.Redis.from_url(cluster.admin_url)
        assert victim not in {text(n) for n in r.smembers(keys.app_log_nodes(tiny_am.app_id))}
        wait_for("the live node's logs", lambda: r.exists(keys.app_logs(tiny_am.app_id))
                 and not r.exists(keys.app_log_nodes(tiny_am.app_id)))
    finally:
        # The NM died without stopping its container (its own process group): end it here.
        if orphan.is_running():
            orphan.kill()


def test_container_over_its_memory_dies_minus_104_and_over_max_ask_is_refused(
        cluster: Cluster, tiny_am: TinyAM) -> None:
    tiny_am.amrm.add_container_request(ContainerRequest(capability=Resource(memory=99999, vcores=1)))
    with pytest.raises(YarnRemoteError) as err:
        tiny_am.amrm.allocate()
    assert err.value.exception == "InvalidResourceRequestException"
    assert str(err.value.message).startswith(
        "Invalid resource request, requested resource type=[memory-mb] < 0 or greater than maximum allowed "
        "allocation. Requested resource=<memory:99999, vCores:1>, maximum allowed allocation=<memory:4096, ")
    tiny_am.amrm.table.clear()
    tiny_am.amrm.changed.clear()

    c = tiny_am.container_on(tiny_am.am_node, memory=128)
    hog = f"{sys.executable} -c 'import time; b = bytes(300 << 20) + b\"x\"; time.sleep(30)'"
    launch(tiny_am, c, hog)
    status = tiny_am.completed(c.id)
    assert status.exit_status == -104, status
    assert "Container [pid=" in status.diagnostics or f"containerID={c.id}]" in status.diagnostics
    assert "is running " in status.diagnostics
    assert "beyond the 'PHYSICAL' memory limit." in status.diagnostics
    assert "Killing container." in status.diagnostics


def test_over_max_am_resource_is_refused_at_submission(cluster: Cluster, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["distributed-shell", "-shell_command", "true", "-master_memory", "99999", "--rm-address",
                 cluster.rm_url])
    err = capsys.readouterr().err
    assert code == 2
    assert "Invalid resource request, requested resource type=[memory-mb] < 0 or greater than maximum allowed " \
           "allocation. Requested resource=<memory:99999, vCores:1>" in err
