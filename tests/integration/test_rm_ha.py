"""RM HA on real RMs and one real redis-server: one active and one standby, the standby's redirect and
haState, rmadmin, a failover under a running application (it keeps its containers and ends SUCCEEDED
with its exact output), and an old active woken from SIGSTOP that writes nothing and turns standby."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from miniyarn import keys
from miniyarn.cli.main import main
from miniyarn.client.yarn_client import YarnClient
from miniyarn.minicluster import MiniCluster
from miniyarn.redisconn import text
from miniyarn.security import credentials
from resourcemanager.ha.fence import Fence, FencedError
from resourcemanager.ha.lease import Holder, Lease
from tests.conftest import Processes, RedisServer, admin_url, free_port
from tests.integration.conftest import FAST_CONF, Cluster, submit_ds, wait_for

pytestmark = pytest.mark.integration


def ha_conf(ports: dict[str, int], lease_ms: int = 2000) -> list[str]:
    conf = ["-D", "yarn.resourcemanager.ha.enabled=true", "-D", f"yarn.resourcemanager.ha.rm-ids={','.join(ports)}",
            "-D", f"yarn.resourcemanager.ha.lease-ms={lease_ms}"]
    for rm_id, port in ports.items():
        conf += ["-D", f"yarn.resourcemanager.webapp.address.{rm_id}=127.0.0.1:{port}"]
    return conf


class HA:
    """Two RMs (rm1, rm2) with HA on, on the test's Redis database."""

    def __init__(self, processes: Processes, redis_url: str, lease_ms: int = 2000) -> None:
        self.processes = processes
        self.redis_url = redis_url
        self.ports = {"rm1": free_port(), "rm2": free_port()}
        self.conf = ha_conf(self.ports, lease_ms)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def url(self, rm_id: str) -> str:
        return f"http://127.0.0.1:{self.ports[rm_id]}"

    def start(self, rm_id: str, name: str | None = None) -> None:
        self.procs[rm_id] = self.processes.start(name or rm_id, [
            "-m", "resourcemanager", "--redis-url", self.redis_url, "--host", "127.0.0.1", "--rm-id", rm_id,
            *FAST_CONF, *self.conf])
        wait_for(f"{rm_id}'s web server", lambda: httpx.get(f"{self.url(rm_id)}/health", timeout=1).status_code == 200)

    def state(self, rm_id: str) -> str:
        return str(httpx.get(f"{self.url(rm_id)}/ws/v1/cluster/info", timeout=2).json()["clusterInfo"]["haState"])

    def active(self) -> str:
        def one() -> str:
            states = {}
            for rm_id in self.procs:
                try:
                    states[rm_id] = self.state(rm_id)
                except httpx.HTTPError:
                    pass
            actives = [r for r, s in states.items() if s == "ACTIVE"]
            return actives[0] if len(actives) == 1 else ""
        return str(wait_for("one active RM", one, timeout=15, interval=0.05))

    def rmadmin(self, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
        """`miniyarn rmadmin ARGS` in this process (a CLI process costs a second of imports): (code, out, err)."""
        capsys.readouterr()
        code = main(["rmadmin", *args, *self.conf])
        out, err = capsys.readouterr()
        return code, out, err


def test_lease_epoch_and_fence_on_a_real_redis(redis_url: str) -> None:
    admin = redis.Redis.from_url(admin_url(redis_url))
    one = Lease(admin, "rm1", "http://127.0.0.1:1", lease_ms=300)
    two = Lease(admin, "rm2", "http://127.0.0.1:2", lease_ms=300)
    try:
        first = one.acquire()
        assert first == Holder("rm1", 1, "http://127.0.0.1:1")
        assert two.acquire() is None and two.holder() == first
        assert one.renew(first) and not two.renew(Holder("rm2", 1, "http://127.0.0.1:2"))
        refused: list[str] = []
        fence = Fence(first.epoch, on_fenced=refused.append)
        fence.set(admin, "probe", "1", ex=60)
        admin.rpush(keys.rm_inbox(), b"m1")
        assert fence.pop(admin, [(keys.rm_am_inbox(), 10), (keys.rm_inbox(), 10)]) == [[], [b"m1"]]
        # A transaction opened under the old epoch, then another RM becomes active before it is sent.
        pipe = fence.pipeline(admin)
        pipe.set("probe", "2")
        wait_for("rm1's lease to expire", lambda: admin.get(keys.rm_ha_lease()) is None, timeout=5, interval=0.05)
        second = two.acquire()
        assert second is not None and second.epoch == 2
        with pytest.raises(FencedError):
            fence.execute(pipe)
        assert admin.get("probe") == b"1" and refused and fence.epoch == 0
        # Nothing more: no write, no pop, no renewal of a lease that is another's.
        admin.rpush(keys.rm_inbox(), b"m2")
        with pytest.raises(FencedError):
            fence.set(admin, "probe", "3", ex=60)
        with pytest.raises(FencedError):
            Fence(1).pop(admin, [(keys.rm_inbox(), 10)])
        assert admin.lrange(keys.rm_inbox(), 0, -1) == [b"m2"] and not one.renew(first)
        assert admin.get("probe") == b"1"
        # An expired lease nobody took since (the epoch is still its holder's) is taken back by a renewal.
        admin.delete(keys.rm_ha_lease())
        assert two.renew(second) and two.holder() == second
        assert two.release(second) and admin.get(keys.rm_ha_lease()) is None
    finally:
        admin.close()


def test_nm_and_am_users_cannot_write_the_lease_or_the_epoch(redis_url: str) -> None:
    found = credentials.from_env()
    assert found is not None
    nm = redis.Redis.from_url(found.redis_url(redis_url, "nm"))
    admin = redis.Redis.from_url(admin_url(redis_url))
    attempt = "appattempt_1_0001_000001"
    token = credentials.derive(found.rm_master_key(), "amrm", attempt)
    try:
        # An AM's user as the RM creates it (resourcemanager/amrm_users.py).
        from resourcemanager.amrm_users import queue_changes
        pipe = admin.pipeline(transaction=False)
        queue_changes(pipe, {attempt: token}, [], False)
        pipe.execute()
        am = redis.Redis.from_url(credentials.with_user(redis_url, attempt, token))
        for client in (nm, am):
            for key in (keys.rm_ha_lease(), keys.rm_ha_epoch()):
                with pytest.raises(redis.exceptions.NoPermissionError):
                    client.set(key, "rm9 99 http://evil")
        am.close()
    finally:
        admin.execute_command("ACL", "DELUSER", attempt)
        nm.close()
        admin.close()


def test_standby_redirects_answers_ha_state_and_rmadmin_hands_over(redis_url: str, processes: Processes,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    ha = HA(processes, redis_url)
    ha.start("rm1")
    assert ha.active() == "rm1"
    ha.start("rm2")
    assert ha.state("rm2") == "STANDBY" and ha.active() == "rm1"
    active, standby = ha.url("rm1"), ha.url("rm2")
    info = httpx.get(f"{standby}/ws/v1/cluster/info", timeout=5).json()["clusterInfo"]
    assert info["haZooKeeperConnectionState"] == "CONNECTED"
    assert httpx.get(f"{active}/isActive", timeout=5).text == "I am Active!"
    r = httpx.get(f"{standby}/isActive", timeout=5)
    assert (r.status_code, r.text) == (405, "I am not Active!")
    assert httpx.get(f"{standby}/health", timeout=5).json()["haState"] == "STANDBY"
    r = httpx.get(f"{standby}/ws/v1/cluster/apps?states=RUNNING", timeout=5)
    assert r.status_code == 307 and r.headers["location"] == f"{active}/ws/v1/cluster/apps?states=RUNNING"
    assert r.text.strip() == f"This is standby RM. The redirect url is: {active}/ws/v1/cluster/apps?states=RUNNING"
    # A client given both addresses, the standby first, lands on the active and submits there.
    with YarnClient(f"{standby},{active}") as yarn:
        app_id = yarn.new_application()["application-id"]
        assert yarn.address == active and app_id.startswith("application_")
    # The web proxy and the UI live on the active too: a standby sends the browser there.
    for path in (f"/proxy/{app_id}/jobs?x=1", "/cluster/apps"):
        r = httpx.get(standby + path, timeout=5)
        assert (r.status_code, r.headers["location"]) == (307, active + path)

    assert ha.rmadmin(capsys, "-getServiceState", "rm1")[:2] == (0, "active\n")
    assert ha.rmadmin(capsys, "-getServiceState", "rm2")[:2] == (0, "standby\n")
    code, out, _ = ha.rmadmin(capsys, "-getAllServiceState")
    assert code == 0 and [r.split() for r in out.splitlines()] == [[f"127.0.0.1:{ha.ports['rm1']}", "active"],
                                                                   [f"127.0.0.1:{ha.ports['rm2']}", "standby"]]
    code, _, err = ha.rmadmin(capsys, "-transitionToStandby", "rm1")
    assert code == 255 and err.startswith(f"Automatic failover is enabled for 127.0.0.1:{ha.ports['rm1']}\n")
    code, _, err = ha.rmadmin(capsys, "-transitionToActive", "rm2")
    assert code == 255 and err.startswith(f"Automatic failover is enabled for 127.0.0.1:{ha.ports['rm2']}\n")
    assert ha.rmadmin(capsys, "-getServiceState", "rm3")[0] == 255
    assert ha.state("rm1") == "ACTIVE"
    code, _, err = ha.rmadmin(capsys, "-transitionToStandby", "--forcemanual", "rm1")
    assert code == 0, err
    assert ha.state("rm1") == "STANDBY"
    assert ha.active() == "rm2"
    assert "Transitioning to standby (epoch 1): transitionToStandby requested by" in processes.log("rm1")
    # The ids the first active issued are the new active's too: the counter lives in Redis.
    with YarnClient(f"{active},{standby}") as yarn:
        later = yarn.new_application()["application-id"]
        assert yarn.address == standby and int(later.rsplit("_", 1)[1]) > int(app_id.rsplit("_", 1)[1])
    # And back, as YARN's HAAdmin with --forcemanual: rm2 steps down, rm1 takes the lease (its second
    # activation in one process), and its writes reach Redis: each submission is stored, not only the first.
    code, _, err = ha.rmadmin(capsys, "-transitionToActive", "--forcemanual", "rm1")
    assert code == 0 and err.startswith("You have specified the --forcemanual flag."), err
    assert ha.state("rm1") == "ACTIVE" and ha.state("rm2") == "STANDBY"
    assert ha.rmadmin(capsys, "-transitionToActive", "--forcemanual", "rm1")[0] == 0  # already: nothing to do
    again = [submit_ds(active, redis_url, "true", containers=0) for _ in range(2)]
    admin = redis.Redis.from_url(admin_url(redis_url))
    try:
        assert wait_for("the submissions stored by rm1", lambda: admin.exists(*map(keys.app, again)) == 2, timeout=5)
    finally:
        admin.close()


def test_sigkill_of_the_active_fails_over_and_the_app_keeps_its_containers(
        redis_url: str, processes: Processes, tmp_path: Path) -> None:
    ha = HA(processes, redis_url)
    ha.start("rm1")
    assert ha.active() == "rm1"
    ha.start("rm2")
    c = Cluster(redis_url, ha.url("rm1"), processes)
    c.start_nm("nm1")
    c.start_nm("nm2")
    wait_for("2 running NodeManagers", lambda: len(c.running_nodes()) == 2)
    out = tmp_path / "out.txt"
    # Each container writes its id once, after 6 s: the failover happens while all 3 run.
    app_id = submit_ds(c.rm_url, redis_url, f"sleep 6; echo $CONTAINER_ID >> {out}", containers=3)
    def started() -> int:
        return sum(processes.log(n).count("transitioned from SCHEDULED to RUNNING") for n in ("nm1", "nm2"))
    wait_for("3 containers running besides the AM", lambda: started() == 4, timeout=60, interval=0.1)
    admin = redis.Redis.from_url(admin_url(redis_url))
    suffix = app_id[len("application_"):]
    before = sorted(text(k) for k in admin.scan_iter(match=keys.container(f"*{suffix}*")))
    assert len(before) == 4

    os.killpg(ha.procs["rm1"].pid, signal.SIGKILL)
    killed = time.monotonic()
    ha.procs["rm1"].wait(10)
    del ha.procs["rm1"]
    wait_for("rm2 active", lambda: httpx.get(f"{ha.url('rm2')}/isActive", timeout=1).status_code == 200,
             timeout=10, interval=0.05)
    failover_s = time.monotonic() - killed
    assert failover_s < 5, f"failover took {failover_s:.1f}s"
    c.rm_url = ha.url("rm2")
    # The NMs' heartbeats reach the new active through Redis: both nodes stay RUNNING, none goes LOST.
    assert [n["state"] for n in c.get("/nodes")["nodes"]["node"]] == ["RUNNING", "RUNNING"]
    report = c.wait_app_state(app_id, "FINISHED", "FAILED", "KILLED", timeout=90)
    assert (report["state"], report["finalStatus"]) == ("FINISHED", "SUCCEEDED"), report
    got = out.read_text().split()
    # Exactly the containers granted before the failover ran, each once: none was lost or granted again.
    assert sorted(got) == sorted(k.rsplit(":", 1)[-1] for k in before if not k.endswith("000001")), got
    assert "Transitioned to active (epoch 2)" in processes.log("rm2")
    assert all(n["numContainers"] == 0 for n in c.running_nodes()) or wait_for(
        "containers released", lambda: all(n["numContainers"] == 0 for n in c.running_nodes()))
    admin.close()


def test_an_old_active_woken_from_sigstop_writes_nothing_and_turns_standby(
        redis_url: str, processes: Processes) -> None:
    # A long lease: the checks below run while the frozen new active still holds it.
    ha = HA(processes, redis_url, lease_ms=5000)
    ha.start("rm1")
    assert ha.active() == "rm1"
    ha.start("rm2")
    old, new = ha.procs["rm1"], ha.procs["rm2"]
    os.killpg(old.pid, signal.SIGSTOP)
    try:
        wait_for("rm2 active", lambda: ha.state("rm2") == "ACTIVE", timeout=10, interval=0.05)
        admin = redis.Redis.from_url(admin_url(redis_url))
        # Freeze the new active too, so whatever changes now could only be the old one's doing.
        os.killpg(new.pid, signal.SIGSTOP)
        try:
            admin.delete(keys.rm_health())
            admin.rpush(keys.rm_inbox(), b'{"marker": 1}')
            seq = admin.get(keys.app_seq())
            os.killpg(old.pid, signal.SIGCONT)
            wait_for("rm1 to turn standby", lambda: "Transitioned to standby" in processes.log("rm1"), timeout=2,
                     interval=0.02)
            time.sleep(0.3)
            assert admin.lrange(keys.rm_inbox(), 0, -1) == [b'{"marker": 1}']
            assert admin.get(keys.rm_health()) is None and admin.get(keys.app_seq()) == seq
            assert text(admin.get(keys.rm_ha_lease()) or b"").startswith("rm2 2 ")
        finally:
            os.killpg(new.pid, signal.SIGCONT)
        log = processes.log("rm1")
        assert "Refusing to write" in log or "another ResourceManager holds the lease" in log, log[-3000:]
        assert ha.state("rm1") == "STANDBY" and ha.state("rm2") == "ACTIVE"
        admin.close()
    finally:
        os.killpg(old.pid, signal.SIGCONT)


def test_a_minicluster_with_two_rms_and_the_cli_following_the_active_through_a_failover(
        redis_url: str, redis_server: RedisServer, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    with MiniCluster(nodemanagers=1, redis_url=redis_url, port=0, token_file=tmp_path / "token",
                     credentials_dir=redis_server.credentials.dir, rms=2) as mc:
        for key, value in mc.env().items():
            monkeypatch.setenv(key, value)
        assert len(mc.env()["MINIYARN_RM_ADDRESS"].split(",")) == 2
        rms = {d.name: d for d in mc.daemons if d.name.startswith("rm")}
        assert set(rms) == {"rm1", "rm2"}
        capsys.readouterr()
        assert main(["rmadmin", "-getAllServiceState", *mc.ha_defines()]) == 0
        states = dict(line.split() for line in capsys.readouterr().out.splitlines())
        assert sorted(states.values()) == ["active", "standby"]
        active = "rm1" if states[mc.rm_urls[0].removeprefix("http://")] == "active" else "rm2"
        os.killpg(rms[active].proc.pid, signal.SIGKILL)
        rms[active].proc.wait(10)
        # `miniyarn node -list` with both addresses: the dead one refuses, the other becomes active and answers.
        assert main(["node", "-list"]) == 0
        out = capsys.readouterr().out
        assert "Total Nodes:1" in out and mc.node_ids[0] in out
        other = "rm2" if active == "rm1" else "rm1"
        assert main(["rmadmin", "-getServiceState", other, *mc.ha_defines()]) == 0
        assert capsys.readouterr().out == "active\n"
        # What `miniyarn logs` reads the aggregated logs from: the active's address, not the first one listed.
        with YarnClient(mc.env()["MINIYARN_RM_ADDRESS"]) as yarn:
            assert yarn.active_address() == mc.rm_urls[int(other[-1]) - 1]


def test_after_a_failover_the_new_actives_proxy_reaches_the_am_as_the_old_ones_did(
        redis_url: str, processes: Processes) -> None:
    """An AM's UI behind `/proxy/<appId>/` (tests/security/web_am.py echoes what reaches it): after the active
    RM's SIGKILL the new active's proxy serves it, presenting the same client-to-AM secret (both RMs derive
    it from the one master key) and still no browser Origin (a JobManager's cross-origin check never sees one
    from the proxy; the origins it trusts directly are every RM's, test_rm_parts)."""
    import sys

    from tests.security.rm_web import WEB_AM

    ha = HA(processes, redis_url)
    ha.start("rm1")
    assert ha.active() == "rm1"
    ha.start("rm2")
    c = Cluster(redis_url, ha.url("rm1"), processes)
    c.start_nm("nm1")
    wait_for("a running NodeManager", lambda: len(c.running_nodes()) == 1)
    app_id = str(httpx.post(f"{c.rm_url}/ws/v1/cluster/apps/new-application", timeout=10).json()["application-id"])
    command = f"{sys.executable} {WEB_AM} echo --tracking 'http://{{self}}/' 1><LOG_DIR>/AppMaster.stdout"
    body = {"application-id": app_id, "resource": {"memory": 128, "vCores": 1}, "max-app-attempts": 1,
            "am-container-spec": {"commands": {"command": command}}}
    assert httpx.post(f"{c.rm_url}/ws/v1/cluster/apps", json=body, timeout=10).status_code == 202
    wait_for("the AM's UI registered", lambda: c.app(app_id)["trackingUI"] == "ApplicationMaster", timeout=30)

    def through(rm_id: str) -> dict[str, Any]:
        r = httpx.patch(f"{ha.url(rm_id)}/proxy/{app_id}/jobs/x?mode=cancel", json={},
                        headers={"Origin": ha.url(rm_id)}, timeout=10)
        assert r.status_code == 200, (rm_id, r.status_code, r.text[:300])
        seen: dict[str, Any] = r.json()
        return seen

    before = through("rm1")
    os.killpg(ha.procs["rm1"].pid, signal.SIGKILL)
    ha.procs["rm1"].wait(10)
    del ha.procs["rm1"]
    wait_for("rm2 active", lambda: httpx.get(f"{ha.url('rm2')}/isActive", timeout=1).status_code == 200, timeout=10)
    after = wait_for("the AM through rm2's proxy", lambda: through("rm2"), timeout=20)
    assert (before["method"], before["path"]) == (after["method"], after["path"]) == ("PATCH", "/jobs/x?mode=cancel")
    headers = {k.lower(): v for k, v in after["headers"].items()}
    assert headers["authorization"] == {k.lower(): v for k, v in before["headers"].items()}["authorization"]
    assert headers["authorization"].startswith("Bearer ") and "origin" not in headers
    c.rm_url = ha.url("rm2")
    assert c.app(app_id)["state"] == "RUNNING"
