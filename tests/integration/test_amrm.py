"""The AMRM protocol against a real RM: the test plays the NodeManager (heartbeats on the inbox) and
the ApplicationMaster (AMRMClient), so each step of YARN's allocate cycle can be checked exactly."""

from __future__ import annotations

import json
import re
import time

import httpx
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from miniyarn import keys
from miniyarn.client.amrm_client import AMRMClient, ContainerRequest
from miniyarn.protocol import NM_COMMAND, NodeHeartbeat, StartContainer, StopContainer
from miniyarn.records import ContainerStatus, Resource
from miniyarn.rpc import RMUnavailableError, YarnRemoteError
from miniyarn.security.credentials import with_user
from miniyarn.states.application import FinalApplicationStatus
from miniyarn.states.container import ContainerState
from tests.integration.conftest import Cluster, wait_for

pytestmark = pytest.mark.integration

NODE = "fake-nm.local:1234"


def heartbeat(r: redis.Redis, statuses: list[ContainerStatus] | None = None, node: str = NODE) -> None:
    hb = NodeHeartbeat(node_id=node, http_address=node, capability=Resource(memory=4096, vcores=4),
                       container_statuses=statuses or [])
    r.rpush(keys.rm_inbox(), hb.model_dump_json())


def submit(c: Cluster) -> str:
    app_id = httpx.post(f"{c.rm_url}/ws/v1/cluster/apps/new-application").json()["application-id"]
    body = {"application-id": app_id, "application-name": "amrm-test", "resource": {"memory": 512, "vCores": 1},
            "am-container-spec": {"commands": ["true"]}, "max-app-attempts": 1}
    assert httpx.post(f"{c.rm_url}/ws/v1/cluster/apps", json=body).status_code == 202
    return str(app_id)


def next_command(r: redis.Redis, *nodes: str) -> StartContainer | StopContainer:
    got = r.blpop([keys.nm_commands(n) for n in (nodes or [NODE])], timeout=10)
    assert got is not None, "the RM sent no command to the NodeManager"
    cmd = NM_COMMAND.validate_json(got[1])
    assert isinstance(cmd, StartContainer | StopContainer)
    return cmd


def test_allocate_cycle_completion_and_finish(rm_only: Cluster) -> None:
    r = redis.Redis.from_url(rm_only.admin_url)
    heartbeat(r)
    wait_for("the node", lambda: rm_only.running_nodes())
    app_id = submit(rm_only)
    launch = next_command(r)
    assert isinstance(launch, StartContainer)
    am_cid = launch.container.id
    assert am_cid.endswith("_01_000001") and launch.container.resource.memory == 512
    assert json.loads(r.get(keys.container(am_cid)) or b"{}")["node_id"] == NODE
    heartbeat(r, [ContainerStatus(container_id=am_cid, state=ContainerState.RUNNING)])

    attempt_id = app_id.replace("application_", "appattempt_") + "_000001"
    amrm = AMRMClient(rm_only.attempt_url(attempt_id), attempt_id=attempt_id)
    reg = amrm.register("am-host", 0, "http://am-host:1/")
    assert reg.maximum_capability.memory == 4096 and reg.queue == "default"
    with pytest.raises(YarnRemoteError, match="already registered"):
        amrm.register("am-host", 0, "")
    assert rm_only.app(app_id)["state"] == "RUNNING"

    for _ in range(2):
        amrm.add_container_request(ContainerRequest(capability=Resource(memory=1000, vcores=1)))
    first = amrm.allocate(0.1)
    assert first.allocated_containers == []  # granted in the pass after this call, handed out on the next
    got = wait_for("2 containers", lambda: amrm.allocate(0.2).allocated_containers)
    assert len(got) == 2
    # Normalized up to the minimum allocation (128 MB in these tests): 1000 -> 1024.
    assert {c.resource.memory for c in got} == {1024}
    assert amrm.pending() == 0
    report = rm_only.app(app_id)
    assert report["runningContainers"] == 3 and report["allocatedMB"] == 512 + 2048

    # One finishes on its own, one is released by the AM: both come back as completed statuses.
    heartbeat(r, [ContainerStatus(container_id=got[0].id, state=ContainerState.COMPLETE, exit_status=0)])
    amrm.release_assigned_container(got[1].id)
    statuses = []
    deadline = time.monotonic() + 10
    while len(statuses) < 2 and time.monotonic() < deadline:
        statuses += amrm.allocate(0.5).completed_container_statuses
        time.sleep(0.05)
    by_id = {s.container_id: s for s in statuses}
    assert by_id[got[0].id].exit_status == 0
    assert by_id[got[1].id].exit_status == -100 and "released" in by_id[got[1].id].diagnostics

    amrm.unregister(FinalApplicationStatus.SUCCEEDED, "all done")
    heartbeat(r, [ContainerStatus(container_id=am_cid, state=ContainerState.COMPLETE, exit_status=0)])
    final = rm_only.wait_app_state(app_id, "FINISHED")
    assert final["finalStatus"] == "SUCCEEDED" and final["progress"] == 100.0
    wait_for("the AM container gone", lambda: rm_only.app(app_id)["runningContainers"] == 0)


def test_over_max_ask_refused_and_lost_node_reports_minus_100(rm_only: Cluster) -> None:
    r = redis.Redis.from_url(rm_only.admin_url)
    heartbeat(r)
    heartbeat(r, node="other-nm.local:1")
    wait_for("2 nodes", lambda: len(rm_only.running_nodes()) == 2)
    app_id = submit(rm_only)
    launch = next_command(r, NODE, "other-nm.local:1")
    am_node = launch.container.node_id
    other = "other-nm.local:1" if am_node == NODE else NODE
    attempt_id = app_id.replace("application_", "appattempt_") + "_000001"
    amrm = AMRMClient(rm_only.attempt_url(attempt_id), attempt_id=attempt_id)
    amrm.register()
    amrm.add_container_request(ContainerRequest(capability=Resource(memory=99999, vcores=1)))
    with pytest.raises(YarnRemoteError, match="maximum allowed allocation") as err:
        amrm.allocate()
    assert err.value.exception == "InvalidResourceRequestException"
    amrm.table.clear()
    amrm.changed.clear()
    amrm.add_container_request(ContainerRequest(capability=Resource(memory=1024, vcores=1), nodes=[other],
                                                relax_locality=False))
    got = wait_for("a container", lambda: amrm.allocate().allocated_containers)
    assert got[0].node_id == other
    # Keep the AM's node alive; let the other one go silent past the 3 s expiry.
    deadline = time.monotonic() + 15
    statuses = []
    while not statuses and time.monotonic() < deadline:
        heartbeat(r, node=am_node)
        statuses = amrm.allocate().completed_container_statuses
        time.sleep(0.3)
    assert statuses and statuses[0].container_id == got[0].id
    assert statuses[0].exit_status == -100
    assert "lost" in statuses[0].diagnostics
    lost = rm_only.get("/nodes", states="LOST")["nodes"]["node"]
    assert [n["id"] for n in lost] == [other]


def test_an_rm_that_never_answers_is_waited_for_with_a_fresh_reply_list_per_try(redis_admin_url: str) -> None:
    """No RM reads the AM inbox: each try times out (RMUnavailableError, ridden out as a Redis outage is), is
    sent again with a reply list of its own, and the call fails once yarn.resourcemanager.connect.max-wait.ms
    is over."""
    r = redis.Redis.from_url(redis_admin_url)
    amrm = AMRMClient(client=r, attempt_id="appattempt_1700000000000_0001_000001", amrm_token="t", timeout_s=0.3,
                      max_wait_ms=2000)
    amrm.retry_interval_s = 0.1
    started = time.monotonic()
    with pytest.raises(RMUnavailableError, match=r"^ResourceManager unreachable for 2s \((\d+) tries of "
                                                  r"am_register; last: ResourceManager did not answer") as err:
        amrm.register("am-host", 0, "")
    assert 2 <= time.monotonic() - started < 5
    sent = [json.loads(m) for m in r.lrange(keys.rm_am_inbox(), 0, -1)]
    tries = int(re.search(r"\((\d+) tries", str(err.value)).group(1))  # type: ignore[union-attr]
    assert tries == len(sent) >= 3 and {m["type"] for m in sent} == {"am_register"}
    assert len({m["reply_to"] for m in sent}) == tries
    r.close()


def test_an_attempt_whose_redis_user_is_gone_hears_it_ended_at_once(redis_url: str, redis_admin_url: str) -> None:
    """The RM deleted the attempt's Redis user (the attempt ended): without Sentinel there is no new master to
    wait for, so the refused login is ApplicationAttemptNotFoundException at the first try, not an outage."""
    attempt_id = f"appattempt_{int(time.time() * 1000)}_0002_000001"
    admin = redis.Redis.from_url(redis_admin_url)
    admin.acl_setuser(attempt_id, enabled=True, passwords=["+pw"], keys=["*"], commands=["+@all"])
    try:
        # No retries of redis-py's own: the refusal reaches the client at the first try.
        own = redis.Redis.from_url(with_user(redis_url, attempt_id, "pw"), retry=Retry(NoBackoff(), 0))
        assert own.ping()
        amrm = AMRMClient(client=own, attempt_id=attempt_id, max_wait_ms=10_000)
        admin.acl_deluser(attempt_id)
        started = time.monotonic()
        with pytest.raises(YarnRemoteError) as err:
            amrm.register("am-host", 0, "")
        assert time.monotonic() - started < 2
        assert err.value.exception == "ApplicationAttemptNotFoundException"
        assert err.value.message.startswith(f"Application attempt {attempt_id} doesn't exist")
        assert isinstance(err.value.__cause__, redis.AuthenticationError)
        own.close()
    finally:
        admin.acl_deluser(attempt_id)
        admin.close()
