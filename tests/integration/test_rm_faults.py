"""Faults injected on real daemons: a Redis paused or killed mid-job, an RM killed right after it granted
containers, a burst of ApplicationMasters. Each job must end SUCCEEDED with its exact output (every
container's line once), and nothing may be left holding resources.

These tests run on a Redis of their own (AOF on, in the test's directory), since they stop and kill it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
import redis

from miniyarn import keys
from miniyarn.redisconn import text
from miniyarn.sockets import free_ports
from tests.conftest import Processes, RedisServer, admin_url, free_port
from tests.integration.conftest import FAST_CONF, Cluster, launch_rm, rm_up, submit_ds, wait_for
from tests.integration.conftest import start_rm as start_shared_rm


class OwnRedis:
    """A redis-server for one test, with the session's ACL users (a copy of its aclfile, so the RM's ACL SAVE
    stays here) and AOF persistence in `dir`, as the minicluster should run it: a restart loses nothing."""

    def __init__(self, session: RedisServer, workdir: Path) -> None:
        self.dir = workdir / "redis"
        self.dir.mkdir()
        self.acl = self.dir / "users.acl"
        shutil.copy(session.credentials.acl_file, self.acl)
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        exe = shutil.which("redis-server")
        assert exe is not None
        self.proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
             "--dir", str(self.dir), "--aclfile", str(self.acl)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        admin = redis.Redis.from_url(admin_url(self.url))
        deadline = time.monotonic() + 20
        try:
            while True:
                try:
                    admin.ping()
                    return
                except redis.ConnectionError:  # not listening yet, or still loading its AOF
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
        finally:
            admin.close()

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, sig)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def own_redis(redis_server: RedisServer, tmp_path: Path) -> Iterator[OwnRedis]:
    r = OwnRedis(redis_server, tmp_path)
    try:
        yield r
    finally:
        r.stop()


def start_rm(processes: Processes, redis_url: str, name: str, extra: list[str] | None = None) -> str:
    return start_shared_rm(processes, redis_url, extra, name)


def cluster_on(own: OwnRedis, processes: Processes, nms: int = 2, memory_mb: int = 2048, vcores: int = 4,
               rm_conf: list[str] | None = None) -> Cluster:
    """The RM and its NMs on `own`, the NMs started beside the RM (see two_node_cluster)."""
    rm_port, *nm_ports = free_ports(nms + 1)
    c = Cluster(own.url, launch_rm(processes, own.url, rm_conf, port=rm_port), processes)
    for i in range(nms):
        c.start_nm(f"nm{i + 1}", memory_mb=memory_mb, vcores=vcores, port=nm_ports[i])
    rm_up(c.rm_url)
    wait_for(f"{nms} running NodeManagers", lambda: len(c.running_nodes()) == nms)
    return c


def job(out: Path, sleep_s: float) -> str:
    """Each container writes its id once, after `sleep_s`: the exact output of N containers is N lines."""
    return f"sleep {sleep_s}; echo $CONTAINER_ID >> {out}"


def lines(out: Path) -> list[str]:
    return out.read_text().split() if out.exists() else []


def assert_exact(out: Path, n: int) -> None:
    got = lines(out)
    assert len(got) == n and len(set(got)) == n, f"expected {n} distinct container lines, got {got}"


def succeeded(c: Cluster, app_id: str, timeout: float = 120.0) -> None:
    report = c.wait_app_state(app_id, "FINISHED", "FAILED", "KILLED", timeout=timeout)
    assert (report["state"], report["finalStatus"]) == ("FINISHED", "SUCCEEDED"), report


def nothing_left(c: Cluster) -> None:
    """No container is held anywhere: no grant in Redis, no memory used on any node."""
    admin = redis.Redis.from_url(admin_url(c.redis_url))
    try:
        wait_for("every container released", lambda: not list(admin.scan_iter(match=keys.container("*")))
                 and all(n["usedMemoryMB"] == 0 for n in c.running_nodes()), timeout=30)
    finally:
        admin.close()


# The paused-Redis test's AM expiry: under its 12 s pause, and still 20 of the DistributedShell AM's 0.5 s
# heartbeats (allocate calls).
PAUSED_AM_EXPIRY = ["-D", "yarn.am.liveness-monitor.expiry-interval-ms=10000"]


@pytest.mark.parametrize("pause_s", [12])
def test_a_job_survives_redis_paused(own_redis: OwnRedis, processes: Processes, tmp_path: Path,
                                     pause_s: int) -> None:
    """Redis SIGSTOPped for 12 s mid-job: longer, by a second or more, than every window a pause must outlast
    here (it was 20 s to outlast FAST_CONF's 20 s AM expiry; this RM's is PAUSED_AM_EXPIRY's 10 s). The NM
    expiry (FAST_CONF's 3 s) and the AM expiry (10 s): the RM, blind, must not expire the nodes and AMs that
    could not heartbeat meanwhile; the AMRM reply wait (10 s: an allocate whose BLPOP Redis had taken when it
    stopped times out as it resumes, and is retried); /health's STALLED (the inbox loop stuck for 10 s,
    resourcemanager/health.py: asked at 11 s); the old 5 s socket timeout. It stays under the 30 s socket
    timeout of every Redis client, as the 20 s did."""
    c = cluster_on(own_redis, processes, rm_conf=PAUSED_AM_EXPIRY)
    out = tmp_path / "out.txt"
    app_id = submit_ds(c.rm_url, c.redis_url, job(out, 3), containers=3)
    c.wait_app_state(app_id, "RUNNING", timeout=60)
    time.sleep(1)
    own_redis.signal(signal.SIGSTOP)
    try:
        # The RM's loop is stuck in a Redis call: /health says so (nothing else answers for it).
        time.sleep(11)
        health = httpx.get(f"{c.rm_url}/health", timeout=5)
        assert health.status_code == 503, health.text
        assert health.json()["inboxLoop"] == "STALLED"
        time.sleep(pause_s - 11)
    finally:
        own_redis.signal(signal.SIGCONT)
    succeeded(c, app_id)
    assert_exact(out, 3)
    wait_for("/health UP again", lambda: httpx.get(f"{c.rm_url}/health", timeout=5).status_code == 200)
    nothing_left(c)


def test_a_job_survives_redis_killed_and_restarted_from_its_aof(own_redis: OwnRedis, processes: Processes,
                                                                 tmp_path: Path) -> None:
    c = cluster_on(own_redis, processes)
    out = tmp_path / "out.txt"
    app_id = submit_ds(c.rm_url, c.redis_url, job(out, 4), containers=3)
    c.wait_app_state(app_id, "RUNNING", timeout=60)
    time.sleep(1)
    own_redis.kill()
    time.sleep(2)
    health = httpx.get(f"{c.rm_url}/health", timeout=5)
    assert health.status_code == 503 and "Redis unreachable" in health.json()["reason"], health.text
    time.sleep(3)
    own_redis.start()
    succeeded(c, app_id)
    assert_exact(out, 3)
    assert "Redis reachable again" in processes.log("rm")
    # Nothing was forgotten: the next application gets a new id and runs.
    out2 = tmp_path / "out2.txt"
    app2 = submit_ds(c.rm_url, c.redis_url, job(out2, 0), containers=1)
    assert app2 != app_id
    succeeded(c, app2)
    assert_exact(out2, 1)
    nothing_left(c)


def am_processes(app_id: str) -> list[psutil.Process]:
    """Every process of the app's AM container (the launch shell and the Python AM under it)."""
    am_container = f"container_{app_id[len('application_'):]}_01_000001"
    found = []
    for p in psutil.process_iter():
        try:
            if p.environ().get("CONTAINER_ID") == am_container:
                found.append(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    if not any("miniyarn.distributedshell.appmaster" in " ".join(p.cmdline()) and "python" in p.name()
               for p in found):
        raise KeyError(f"no AM process of {app_id} among {found}")
    return found


def test_rm_killed_right_after_granting_containers_neither_keeps_ghosts_nor_allocates_twice(
        own_redis: OwnRedis, processes: Processes, tmp_path: Path) -> None:
    # nm1 holds the AM and nothing else; the work waits for nm2.
    c = Cluster(own_redis.url, start_rm(processes, own_redis.url, "rm"), processes)
    c.start_nm("nm1", memory_mb=256, vcores=1)
    wait_for("nm1", lambda: len(c.running_nodes()) == 1)
    out = tmp_path / "out.txt"
    app_id = submit_ds(c.rm_url, c.redis_url, job(out, 1), containers=3)
    c.wait_app_state(app_id, "RUNNING", timeout=60)
    wait_for("the AM's asks pending", lambda: "wants 3" in processes.log("rm") or
             "wants 3" in str(c.app(app_id)), timeout=30)
    am = wait_for("the AM's processes", lambda: am_processes(app_id))
    admin = redis.Redis.from_url(admin_url(c.redis_url))
    suffix = app_id[len("application_"):]

    def granted() -> list[str]:
        return [text(k) for k in admin.scan_iter(match=keys.container(f"*{suffix}*"))]

    for p in am:
        p.suspend()  # the AM cannot acquire what the RM grants now
    try:
        # A call it had sent is answered (its reply waits in its list, without containers) before any grant.
        time.sleep(1)
        c.start_nm("nm2", memory_mb=4096, vcores=4)
        wait_for("3 grants besides the AM", lambda: len(granted()) == 4, timeout=30)
        rm = processes.procs[0][1]
        os.killpg(rm.pid, signal.SIGKILL)
        rm.wait(10)
        c.rm_url = start_rm(processes, own_redis.url, "rm2")
    finally:
        for p in am:
            p.resume()
    assert processes.log("rm2").count("never acquired by its AM") == 3
    most = 0
    deadline = time.monotonic() + 120
    while c.app(app_id)["state"] not in ("FINISHED", "FAILED", "KILLED") and time.monotonic() < deadline:
        most = max(most, len(granted()))
        time.sleep(0.05)
    succeeded(c, app_id)
    assert most <= 4, f"{most} live containers for 1 AM + 3 asked: a second allocation"
    assert_exact(out, 3)
    admin.close()
    nothing_left(c)


def test_a_burst_of_ams_queues_behind_the_am_limit_instead_of_deadlocking(redis_url: str, processes: Processes,
                                                                           tmp_path: Path) -> None:
    c = Cluster(redis_url, start_shared_rm(processes, redis_url), processes)
    # 4 vcores in all, an AM limit of half: 2 AMs at a time, each leaving room for its container.
    c.start_nm("nm1", memory_mb=2048, vcores=2)
    c.start_nm("nm2", memory_mb=2048, vcores=2)
    wait_for("2 NodeManagers", lambda: len(c.running_nodes()) == 2)
    outs = [tmp_path / f"out{i}.txt" for i in range(10)]
    apps = [submit_ds(c.rm_url, c.redis_url, job(o, 0), containers=1, name=f"burst{i}") for i, o in enumerate(outs)]
    reasons: set[str] = set()
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        states = [c.app(a) for a in apps]
        reasons.update(a["diagnostics"] for a in states if a["state"] == "ACCEPTED")
        if all(a["state"] in ("FINISHED", "FAILED", "KILLED") and a["finishedTime"] for a in states):
            break
        time.sleep(0.2)
    for a in apps:
        succeeded(c, a, timeout=5)
    for o in outs:
        assert_exact(o, 1)
    assert any("Queue's AM resource limit exceeded" in r for r in reasons), reasons


def test_a_watching_client_waits_through_an_rm_restart_and_a_fresh_one_fails_at_once(
        own_redis: OwnRedis, processes: Processes, tmp_path: Path) -> None:
    from miniyarn.client.yarn_client import YarnClient, YarnClientError
    c = cluster_on(own_redis, processes, nms=1)
    out = tmp_path / "out.txt"
    app_id = submit_ds(c.rm_url, c.redis_url, job(out, 6), containers=1)
    port = int(c.rm_url.rsplit(":", 1)[1])
    with YarnClient(c.rm_url) as watcher:
        assert watcher.get_application(app_id)["state"] in ("ACCEPTED", "RUNNING")
        rm = processes.procs[0][1]
        os.killpg(rm.pid, signal.SIGKILL)
        rm.wait(10)
        with YarnClient(c.rm_url) as fresh:
            started = time.monotonic()
            with pytest.raises(YarnClientError, match="Cannot reach the ResourceManager"):
                fresh.get_application(app_id)
            assert time.monotonic() - started < 5
        processes.start("rm2", ["-m", "resourcemanager", "--redis-url", c.redis_url, "--port", str(port),
                                "--host", "127.0.0.1", *FAST_CONF])
        # The watcher, which had reached the RM before, waits for the restarted one instead of failing.
        assert watcher.get_application(app_id)["id"] == app_id
        wait_for("the job", lambda: watcher.get_application(app_id)["finalStatus"] == "SUCCEEDED", timeout=60)
    assert_exact(out, 1)


def test_an_unregister_during_a_redis_outage_past_the_am_expiry_still_ends_succeeded(own_redis: OwnRedis,
                                                                                      processes: Processes) -> None:
    """Redis killed for 10 s while the AM unregisters: past the AM expiry of this RM (8 s, where FAST_CONF's
    20 s needed a 20 s outage) and the NM expiry (FAST_CONF's 3 s), from the AM's allocate and the node's beat
    just before the kill, so the RM must not expire either for its own blindness; the AM's client retries
    within yarn.resourcemanager.connect.max-wait.ms (120 s). 8 s still leaves the unregister, retried every
    second, several seconds after Redis is back before the refreshed AM window would end."""
    import threading

    from miniyarn.client.amrm_client import AMRMClient
    from miniyarn.protocol import NodeHeartbeat
    from miniyarn.records import ContainerStatus, Resource
    from miniyarn.states.application import FinalApplicationStatus
    from miniyarn.states.container import ContainerState

    # The test plays the NodeManager and the ApplicationMaster, so the unregister falls in the outage.
    c = Cluster(own_redis.url, start_rm(processes, own_redis.url, "rm",
                                        ["-D", "yarn.am.liveness-monitor.expiry-interval-ms=8000"]), processes)
    node = "fake-nm.local:1"
    admin = redis.Redis.from_url(admin_url(c.redis_url))

    def heartbeat(*statuses: ContainerStatus) -> None:
        admin.rpush(keys.rm_inbox(), NodeHeartbeat(node_id=node, http_address=node,
                                                   capability=Resource(memory=4096, vcores=4),
                                                   container_statuses=list(statuses)).model_dump_json())
    heartbeat()
    wait_for("the node", lambda: c.running_nodes())
    app_id = str(httpx.post(f"{c.rm_url}/ws/v1/cluster/apps/new-application").json()["application-id"])
    body = {"application-id": app_id, "resource": {"memory": 512, "vCores": 1},
            "am-container-spec": {"commands": ["true"]}, "max-app-attempts": 1}
    assert httpx.post(f"{c.rm_url}/ws/v1/cluster/apps", json=body).status_code == 202

    def grants() -> list[str]:
        # Beating on as a real NM does (every second): on a loaded machine the submission can come more than
        # FAST_CONF's 3 s NM expiry after one lone beat, and a LOST node gets no AM container.
        heartbeat()
        return [text(k)[len(keys.container("")):] for k in admin.scan_iter(match=keys.container("*"))]
    am_cid = wait_for("the AM grant", grants)[0]
    heartbeat(ContainerStatus(container_id=am_cid, state=ContainerState.RUNNING))
    attempt_id = app_id.replace("application_", "appattempt_") + "_000001"
    amrm = AMRMClient(c.attempt_url(attempt_id), attempt_id=attempt_id)
    amrm.register("am-host", 0, "")
    amrm.allocate(1.0)
    own_redis.kill()
    errors: list[BaseException] = []

    def unregister() -> None:
        try:
            amrm.unregister(FinalApplicationStatus.SUCCEEDED)
        except BaseException as e:  # reported by the assertion below
            errors.append(e)
    t = threading.Thread(target=unregister)
    t.start()
    time.sleep(10)
    own_redis.start()
    t.join(60)
    assert not t.is_alive() and errors == []
    assert "unregistered with final status SUCCEEDED" in processes.log("rm")
    admin.close()
    admin = redis.Redis.from_url(admin_url(c.redis_url))
    heartbeat(ContainerStatus(container_id=am_cid, state=ContainerState.COMPLETE, exit_status=0))
    report = c.wait_app_state(app_id, "FINISHED", "FAILED", "KILLED", timeout=30)
    assert (report["state"], report["finalStatus"]) == ("FINISHED", "SUCCEEDED")
    amrm.close()
    admin.close()
