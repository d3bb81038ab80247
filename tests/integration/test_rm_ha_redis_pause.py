"""RM HA under a paused Redis, on real RMs and a redis-server of the test's own (SIGSTOP pauses every client
of it): two RMs with HA on and a running DistributedShell app; Redis stopped for 12 s, so the leader lease
expires for both while neither can renew or take it. After SIGCONT exactly one RM is active and stays so,
the lease and the epoch in Redis are its own, the app ends SUCCEEDED with each container's output exactly
once, and neither RM's loop died (`/health` 200 on both).

The 12 s outlast, by two seconds or more, every window the pause must cross: the lease (2 s) and its
renewals' 1 s timeout, the NM expiry (FAST_CONF's 3 s), the AM expiry (10 s here, AM_EXPIRY: FAST_CONF's
20 s would need a pause of over 20 s), the AMRM reply wait (10 s) and /health's 10 s STALLED; the containers'
4 s of work end inside it. They stay under the 30 s socket timeout of the RMs' other Redis clients."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from miniyarn import keys
from miniyarn.config import YarnConfiguration
from miniyarn.protocol import NodeHeartbeat, RegisterApplicationMaster
from miniyarn.records import Resource
from miniyarn.redisconn import text
from miniyarn.security import credentials
from resourcemanager.ha.fence import Fence, FencedError
from resourcemanager.inbox import InboxLoop
from resourcemanager.rm import ResourceManager
from tests.conftest import Processes, RedisServer
from tests.integration.conftest import FAST_CONF, Cluster, submit_ds, wait_for
from tests.integration.test_rm_ha import HA

pytestmark = [pytest.mark.integration, pytest.mark.timeout(150)]

PAUSE_S = 12
# 20 of the DistributedShell AM's 0.5 s heartbeats, and under PAUSE_S (see the module's docstring).
AM_EXPIRY = ["-D", "yarn.am.liveness-monitor.expiry-interval-ms=10000"]


@pytest.fixture
def own_redis(monkeypatch: pytest.MonkeyPatch) -> Iterator[RedisServer]:
    """A redis-server only this test uses (it is paused), its credentials the daemons' and the test's."""
    server = RedisServer()
    monkeypatch.setenv(credentials.ENV, str(server.credentials.dir))
    try:
        yield server
    finally:
        if server.proc.poll() is None:
            os.kill(server.proc.pid, signal.SIGCONT)
        server.stop()


def actives(ha: HA) -> list[str]:
    out = []
    for rm_id in ha.procs:
        try:
            if ha.state(rm_id) == "ACTIVE":
                out.append(rm_id)
        except httpx.HTTPError:
            pass
    return out


def test_a_redis_paused_past_the_lease_leaves_one_active_and_the_app_succeeds(
        own_redis: RedisServer, processes: Processes, tmp_path: Path) -> None:
    redis_url = own_redis.url(0)
    ha = HA(processes, redis_url)
    ha.conf += AM_EXPIRY
    ha.start("rm1")
    assert ha.active() == "rm1"
    ha.start("rm2")
    c = Cluster(redis_url, ha.url("rm1"), processes)
    logs = tmp_path / "nm-logs"
    # Its container logs kept (the debug delay) and under the test's dir: what the AM saw, on a failure.
    processes.start("nm1", ["-m", "nodemanager", "--redis-url", redis_url, "--port", "0", "--memory-mb", "4096",
                            "--log-dirs", str(logs), "-D", "yarn.nodemanager.delete.debug-delay-sec=600",
                            *FAST_CONF])
    wait_for("a running NodeManager", lambda: len(c.running_nodes()) == 1)
    out = tmp_path / "out.txt"
    # Each container writes its id once, after 4 s: the pause begins while both run.
    app_id = submit_ds(c.rm_url, redis_url, f"sleep 4; echo $CONTAINER_ID >> {out}", containers=2)
    wait_for("2 containers running besides the AM",
             lambda: processes.log("nm1").count("transitioned from SCHEDULED to RUNNING") == 3, timeout=60)
    admin = own_redis.admin(0)
    try:
        suffix = app_id[len("application_"):]
        granted = sorted(text(k).rsplit(":", 1)[-1] for k in admin.scan_iter(match=keys.container(f"*{suffix}*")))
        assert len(granted) == 3

        os.kill(own_redis.proc.pid, signal.SIGSTOP)
        try:
            time.sleep(PAUSE_S)
        finally:
            os.kill(own_redis.proc.pid, signal.SIGCONT)
        resumed = time.monotonic()

        active = str(wait_for("exactly one active RM", lambda: (a := actives(ha)) and len(a) == 1 and a[0],
                              timeout=15, interval=0.05))
        took_s = time.monotonic() - resumed
        # And it stays one: no flapping between the two while the lease settles.
        for _ in range(10):
            assert actives(ha) == [active]
            time.sleep(0.1)
        standby = "rm2" if active == "rm1" else "rm1"
        holder = text(admin.get(keys.rm_ha_lease()) or b"").split(" ")
        assert holder[0] == active and holder[1] == text(admin.get(keys.rm_ha_epoch())), holder
        c.rm_url = ha.url(active)
        report = c.wait_app_state(app_id, "FINISHED", "FAILED", "KILLED", timeout=60)
        assert (report["state"], report["finalStatus"]) == ("FINISHED", "SUCCEEDED"), report
        # Exactly the containers granted before the pause ran, each once: none lost, none granted again.
        got = out.read_text().split()
        assert sorted(got) == [g for g in granted if not g.endswith("000001")], got
        # Neither loop died: the active's inbox loop is up, the standby's elector reaches Redis.
        for rm_id in (active, standby):
            r = httpx.get(f"{ha.url(rm_id)}/health", timeout=5)
            assert r.status_code == 200 and r.json()["status"] == "UP", (rm_id, r.text)
        # The active was never fenced at the epoch it holds.
        assert "Refusing to write" not in processes.log(active).split(f"epoch {holder[1]}", 1)[-1]
        print(f"one active RM {took_s:.2f}s after Redis resumed ({active}, epoch {holder[1]})")
    except BaseException:
        for name in ("rm1", "rm2"):
            print(f"===== {name}.log =====\n{processes.log(name)[-5000:]}")
        for f in sorted(logs.glob("*/*/stdout")):
            print(f"===== {f.parent.name} stdout =====\n{f.read_text(errors='replace')[-5000:]}")
        raise
    finally:
        admin.close()


def test_messages_taken_as_the_rm_was_fenced_go_back_to_the_inbox(own_redis: RedisServer) -> None:
    """The old active's pop, sent before Redis paused, runs when it resumes, while this RM already turned
    standby (its elector could not renew): what it took goes back, in order, for the active."""
    client = own_redis.admin(1)
    rm = ResourceManager(YarnConfiguration(load_files=False), client)
    rm.fence = Fence(1)
    client.set(keys.rm_ha_epoch(), 1)
    call = RegisterApplicationMaster(attempt_id="appattempt_1_0001_000001",
                                     reply_to=keys.reply_prefix("appattempt_1_0001_000001") + "x",
                                     amrm_token="t").model_dump_json().encode()
    beats = [NodeHeartbeat(node_id=f"n{i}:1", http_address=f"n{i}:1", capability=Resource(memory=1024, vcores=1))
             .model_dump_json().encode() for i in range(3)]
    client.rpush(keys.rm_am_inbox(), call)
    client.rpush(keys.rm_inbox(), *beats)
    loop = InboxLoop(rm, client)
    raised: list[BaseException] = []

    def one_pass() -> None:
        try:
            loop._pass()
        except BaseException as e:  # the FencedError asserted below
            raised.append(e)

    os.kill(own_redis.proc.pid, signal.SIGSTOP)
    try:
        t = threading.Thread(target=one_pass, daemon=True)
        t.start()
        time.sleep(0.5)  # its pop is on its way, with epoch 1
        rm.fence.epoch = 0  # as the elector does when it turns this RM standby
    finally:
        os.kill(own_redis.proc.pid, signal.SIGCONT)
    t.join(10)
    assert not t.is_alive() and len(raised) == 1 and isinstance(raised[0], FencedError), raised
    assert client.lrange(keys.rm_am_inbox(), 0, -1) == [call]
    assert client.lrange(keys.rm_inbox(), 0, -1) == beats
    assert not rm.nodes or client.get(keys.node("n0:1")) is None  # nothing of its own was written
    client.close()
