"""`redis+sentinel://` URLs with a real Redis Sentinel on loopback: a master and its replica (both with the
cluster's ACL users), one `redis-server --sentinel`; the RM and an NM find the master through it, and after
the master's crash (SIGKILL; the Sentinel promotes the replica) both reconnect to the new master, the NM's
heartbeats go on, and an application running across the switch (its AM got the Sentinel URL from the RM and
its attempt's Redis user is re-created on the new master by the RM) ends SUCCEEDED."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis

from miniyarn import blobs, keys
from miniyarn.distributedshell.client import submission
from miniyarn.minicluster import MiniCluster, MiniClusterError, redis_answers
from miniyarn.redisconn import client_for, location, text
from miniyarn.security import credentials
from tests.conftest import Processes, free_port, logs_aggregated
from tests.integration.conftest import FAST_CONF, pings, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

MASTER_NAME = "miniyarn"


@dataclass
class SentinelSetup:
    creds: credentials.Credentials
    master_port: int
    replica_port: int
    sentinel_port: int
    master: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """What the daemons are given: the Sentinel, the master's name, no credential."""
        return f"redis+sentinel://127.0.0.1:{self.sentinel_port}/{MASTER_NAME}/0"

    def admin(self) -> redis.Redis:
        return client_for(self.creds.redis_url(self.url, "rm"), socket_timeout=5, socket_connect_timeout=2)

    def sentinel(self) -> redis.Redis:
        return redis.Redis(port=self.sentinel_port, socket_timeout=5)

    def master_port_now(self) -> int:
        s = self.sentinel()
        try:
            return int(s.sentinel_get_master_addr_by_name(MASTER_NAME)[1])
        finally:
            s.close()


def _answers(port: int, creds: credentials.Credentials) -> bool:
    return pings(redis.Redis(port=port, username="rm", password=creds.redis_password("rm"), socket_timeout=1))


def _in_sync(port: int, creds: credentials.Credentials) -> bool:
    """The replica at `port` has done its first full sync and is linked to its master."""
    r = redis.Redis(port=port, username="rm", password=creds.redis_password("rm"), socket_timeout=1)
    try:
        return r.info("replication").get("master_link_status") == "up"
    except redis.ConnectionError:
        return False
    finally:
        r.close()


@pytest.fixture
def sentinel_setup(tmp_path: Path) -> Iterator[SentinelSetup]:
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.skip("redis-server is not installed (apt-get install -y redis-server)")
    creds = credentials.ensure(tmp_path / "credentials")
    rm_password = creds.redis_password("rm")
    setup = SentinelSetup(creds, free_port(), free_port(), free_port())
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for name, port in (("master", setup.master_port), ("replica", setup.replica_port)):
            d = tmp_path / name
            d.mkdir()
            # Each server keeps its own copy of the ACL file (ACL SAVE writes the one it loaded).
            shutil.copy(creds.acl_file, d / "redis.acl")
            # Replicas authenticate to their master as `rm`: after a failover the old master becomes one.
            # No repl-diskless-sync-delay: Redis 7 waits 5 s (for more replicas to share one transfer) before
            # a replica's first full sync, and a master killed before it leaves a promoted replica with no data.
            args = [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                    "--dir", str(d), "--aclfile", str(d / "redis.acl"), "--masteruser", "rm",
                    "--masterauth", rm_password, "--repl-diskless-sync-delay", "0"]
            if name == "replica":
                args += ["--replicaof", "127.0.0.1", str(setup.master_port)]
            procs.append(subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                          start_new_session=True))
            setup.master = setup.master or procs[-1]
            wait_for(f"the {name}", lambda p=port: _answers(p, creds), timeout=10)  # type: ignore[misc]
        # The failover below must promote a replica that holds the master's data: its first sync done.
        wait_for("the replica in sync with the master", lambda: _in_sync(setup.replica_port, creds), timeout=10)
        conf = tmp_path / "sentinel.conf"
        conf.write_text(f"port {setup.sentinel_port}\nbind 127.0.0.1\ndir {tmp_path}\n"
                        f"sentinel monitor {MASTER_NAME} 127.0.0.1 {setup.master_port} 1\n"
                        f"sentinel auth-user {MASTER_NAME} rm\nsentinel auth-pass {MASTER_NAME} {rm_password}\n"
                        f"sentinel down-after-milliseconds {MASTER_NAME} 1000\n"
                        f"sentinel failover-timeout {MASTER_NAME} 10000\n")
        procs.append(subprocess.Popen([exe, str(conf), "--sentinel"], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, start_new_session=True))

        def replica_known() -> bool:
            s = setup.sentinel()
            try:
                return bool(s.execute_command("SENTINEL", "REPLICAS", MASTER_NAME))
            except redis.RedisError:
                return False
            finally:
                s.close()

        wait_for("the Sentinel to see the master and its replica", replica_known, timeout=20)
        yield setup
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def users_on(s: SentinelSetup, port: int) -> set[str]:
    """The Redis users with a connection open on the server at `port` (CLIENT LIST)."""
    r = redis.Redis(port=port, username="rm", password=s.creds.redis_password("rm"), socket_timeout=5)
    try:
        return {str(c["user"]) for c in r.client_list()}
    finally:
        r.close()


def writes(client: redis.Redis) -> bool:
    try:
        return bool(client.set("sentinel-test", "1"))
    except redis.ConnectionError:
        return False


def submit_ds(rm_url: str, admin: redis.Redis, name: str, script_text: bytes) -> str:
    script = blobs.put(admin, script_text)
    app_id = str(httpx.post(f"{rm_url}/ws/v1/cluster/apps/new-application", timeout=10).json()["application-id"])
    body = submission(app_id, script.resource, 1, name=name, container_memory=128)
    assert httpx.post(f"{rm_url}/ws/v1/cluster/apps", json=body, timeout=10).status_code == 202
    return app_id


def app_report(rm_url: str, app_id: str) -> dict[str, object]:
    report: dict[str, object] = httpx.get(f"{rm_url}/ws/v1/cluster/apps/{app_id}", timeout=10).json()["app"]
    return report


def test_daemons_meet_through_sentinel_and_survive_a_failover(
        sentinel_setup: SentinelSetup, processes: Processes) -> None:
    s = sentinel_setup
    port = free_port()
    rm_url = f"http://127.0.0.1:{port}"
    processes.start("rm", ["-m", "resourcemanager", "--redis-url", s.url, "--port", str(port), "--host", "127.0.0.1",
                           "--credentials-dir", str(s.creds.dir), *FAST_CONF])
    wait_for("the ResourceManager", lambda: httpx.get(f"{rm_url}/health", timeout=1).status_code == 200)
    processes.start("nm", ["-m", "nodemanager", "--redis-url", s.url, "--port", "0", "--memory-mb", "2048",
                           "--credentials-dir", str(s.creds.dir), *FAST_CONF])

    def running_nodes() -> list[dict[str, object]]:
        nodes = httpx.get(f"{rm_url}/ws/v1/cluster/nodes", params={"states": "RUNNING"}, timeout=5).json()["nodes"]
        return list(nodes["node"]) if nodes else []

    wait_for("the NM RUNNING", lambda: len(running_nodes()) == 1)
    admin = s.admin()
    try:
        assert location(admin) == s.url  # what the RM hands its AMs, with each attempt's own user added
        assert redis_answers(s.creds.redis_url(s.url, "rm"))  # what `miniyarn minicluster --redis-url` asks first
        wait_for("the RM and the NM on the master", lambda: {"rm", "nm"} <= users_on(s, s.master_port))

        # An application whose shell container outlasts the switch: its AM's allocate calls meet the new master.
        app_id = submit_ds(rm_url, admin, "across a failover", b"sleep 6; echo hello from $CONTAINER_ID\n")
        wait_for(f"{app_id} running its shell container", lambda: int(str(app_report(rm_url, app_id)[
            "runningContainers"])) == 2, timeout=30)
        assert s.master_port_now() == s.master_port
        # A crash, not SENTINEL FAILOVER: a manual failover leaves the old master taking writes until the
        # Sentinel next polls it (every 10 s), which is a window of lost writes, not a switch to test.
        assert s.master is not None
        s.master.kill()
        s.master.wait()
        wait_for("the replica promoted", lambda: s.master_port_now() == s.replica_port, timeout=30)
        wait_for("writes through the Sentinel", lambda: writes(admin), timeout=15)
        # The RM re-created the attempt's user there (ACL SETUSER is not replicated) and the AM is back on it.
        attempt = app_id.replace("application_", "appattempt_") + "_000001"
        wait_for("the RM, the NM and the AM on the new master",
                 lambda: {"rm", "nm", attempt} <= users_on(s, s.replica_port), timeout=20)
        # The NM's heartbeats reach the RM through the new master: its last heartbeat moves on.
        before = int(str(running_nodes()[0]["lastHealthUpdate"]))
        wait_for("a heartbeat after the failover", lambda: (n := running_nodes()) and
                 int(str(n[0]["lastHealthUpdate"])) > before, timeout=15)

        wait_for(f"{app_id} done", lambda: app_report(rm_url, app_id)["state"] in ("FINISHED", "FAILED", "KILLED")
                 and int(str(app_report(rm_url, app_id)["finishedTime"])) > 0, timeout=40)
        report = app_report(rm_url, app_id)
        wait_for("logs aggregated", lambda: logs_aggregated(admin, app_id), timeout=20)
        logs = {k.decode(): v.decode() for k, v in admin.hgetall(keys.app_logs(app_id)).items()}
        # The containers' own logs (the AM's above all) say why an application failed.
        assert (report["state"], report["finalStatus"]) == ("FINISHED", "SUCCEEDED"), (report, logs)
        assert any(k.endswith(" stdout") and v.startswith("hello from container_") for k, v in logs.items()), logs
    finally:
        admin.close()


def test_minicluster_with_a_sentinel_url_nobody_answers_says_so(tmp_path: Path) -> None:
    url = f"redis+sentinel://127.0.0.1:{free_port()}/{MASTER_NAME}/0"
    with pytest.raises(MiniClusterError, match=r"^No Redis master answers through the Sentinels of "
                                               r"redis\+sentinel://127\.0\.0\.1:\d+/miniyarn/0"):
        MiniCluster(nodemanagers=1, redis_url=url, port=0, work_dir=tmp_path).start()


def test_rm_ha_behind_a_sentinel_url_takes_the_lease(sentinel_setup: SentinelSetup, processes: Processes) -> None:
    """RM HA's lease client is made from the Sentinel URL too (Redis.from_url refused the scheme: no RM
    started)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    processes.start("rm1", ["-m", "resourcemanager", "--redis-url", sentinel_setup.url, "--port", str(port),
                            "--host", "127.0.0.1", "--rm-id", "rm1", "--credentials-dir",
                            str(sentinel_setup.creds.dir), *FAST_CONF,
                            "-D", "yarn.resourcemanager.ha.enabled=true",
                            "-D", "yarn.resourcemanager.ha.rm-ids=rm1,rm2",
                            "-D", f"yarn.resourcemanager.webapp.address.rm1=127.0.0.1:{port}",
                            "-D", f"yarn.resourcemanager.webapp.address.rm2=127.0.0.1:{free_port()}"])
    wait_for("rm1 active", lambda: httpx.get(f"{url}/isActive", timeout=1).status_code == 200, timeout=30)
    admin = sentinel_setup.admin()
    try:
        assert text(admin.get(keys.rm_ha_lease()) or b"").startswith("rm1 1 ")
    finally:
        admin.close()
