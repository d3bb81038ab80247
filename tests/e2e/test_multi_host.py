"""miniyarn over three "machines": Redis and the ResourceManager on one network namespace, a NodeManager on
each of two others (tests/e2e/netns.py), every daemon binding and advertising its own host's address with
the security defaults (ACL users from a credentials dir, NMs holding only their export, token auth, YARN
ACLs). A per-job word count over a file runs its TaskManagers on both NM hosts and counts exactly; the
client, on a fourth address, reaches the JobManager only through the RM's proxy, and no daemon or
container of the NM hosts listens anywhere but its host's own address."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from miniyarn import keys
from miniyarn.security import credentials
from tests.conftest import Processes
from tests.e2e import netns
from tests.flink_yarn.conftest import final_counts
from tests.integration.conftest import pings, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(150)]

ROOT = Path(__file__).resolve().parents[2]
WORDCOUNT = str(ROOT / "examples/wordcount.py")
MINIYARN = str(Path(sys.executable).with_name("miniyarn"))
RM_PORT, NM_PORT, REDIS_PORT = 8088, 8042, 6379
USER, ADMIN = "e2e", "yarn"
# What the cluster's daemons run with beyond one machine (docs/deploy.md): token auth and YARN ACLs.
SECURE = ["-D", "hadoop.http.authentication.type=token", "-D", "yarn.acl.enable=true",
          "-D", f"yarn.admin.acl={ADMIN}"]
# Per NM: 640 MB holds the JobManager (256) next to one TaskManager (384) but never two TaskManagers, so
# the job's two TaskManagers land on different hosts whatever the scheduler prefers.
NM_MEMORY_MB = 640
FLINK = ["-p", "4", "-D", "taskmanager.numberOfTaskSlots=2", "-D", "jobmanager.memory.process.size=256m",
         "-D", "taskmanager.memory.process.size=384m", "-D", "heartbeat.interval=500",
         "-D", "heartbeat.timeout=4000"]
TEXT = ["the quick brown fox jumps over the lazy dog", "the dog sleeps", "a fox a dog a hen"] * 40


class HostProcesses(Processes):
    """Daemons started on a host (`ip netns exec`), each in its own process group, all ended at teardown
    together with anything else still running in those namespaces (their YARN containers)."""

    def __init__(self, hosts: netns.Hosts, workdir: Path) -> None:
        super().__init__(workdir)
        self.hosts = hosts

    def start_on(self, host: str, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        return self.popen(name, self.hosts.command(host, argv), env)

    def stop_all(self, grace_s: float = 15) -> None:
        super().stop_all(grace_s)
        # Whatever still runs in our namespaces is ours (a daemon that ignored SIGTERM, an orphaned container).
        for name in self.hosts.names:
            pids = subprocess.run(["ip", "netns", "pids", self.hosts.netns(name)], capture_output=True,
                                  text=True).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for _name, proc in self.procs:
            proc.wait(5)


def daemon_env(**extra: str) -> dict[str, str]:
    """This environment without anything that names the test machine's own cluster."""
    drop = {"MINIYARN_REDIS_URL", "MINIYARN_RM_ADDRESS", "MINIYARN_TOKEN", credentials.ENV}
    return {**{k: v for k, v in os.environ.items() if k not in drop}, **extra}


class Cluster:
    def __init__(self, hosts: netns.Hosts, procs: HostProcesses, tmp: Path) -> None:
        self.hosts = hosts
        self.procs = procs
        self.tmp = tmp
        self.rm_host = hosts.address("rm")
        self.redis_url = f"redis://{self.rm_host}:{REDIS_PORT}/0"
        self.rm_url = f"http://{self.rm_host}:{RM_PORT}"
        self.cluster_dir, self.nm_dir = tmp / "credentials", tmp / "nm-credentials"

    def start(self) -> None:
        # The RM host makes the secrets; an NM host gets only the export (its Redis password, the HTTP secret).
        subprocess.run([MINIYARN, "credentials", "-init", str(self.cluster_dir), "-export-nm", str(self.nm_dir)],
                       check=True, capture_output=True, env=daemon_env())
        self.creds = credentials.Credentials(self.cluster_dir)
        env = daemon_env()
        self.procs.start_on("rm", "redis", ["redis-server", "--bind", self.rm_host, "--port", str(REDIS_PORT),
                                         "--save", "", "--appendonly", "no", "--dir", str(self.tmp),
                                         "--aclfile", str(self.creds.acl_file)], env)
        wait_for("Redis on the RM host", self.redis_answers, timeout=10)
        self.procs.start_on("rm", "rm", [sys.executable, "-m", "resourcemanager", "--redis-url", self.redis_url,
                                      "--host", self.rm_host, "--port", str(RM_PORT),
                                      "--credentials-dir", str(self.cluster_dir), *SECURE,
                                      "-D", "yarn.scheduler.minimum-allocation-mb=128",
                                      "-D", "yarn.nm.liveness-monitor.expiry-interval-ms=3000"], env)
        wait_for("the ResourceManager", lambda: httpx.get(f"{self.rm_url}/health", timeout=1).status_code == 200)
        for name in ("nm1", "nm2"):
            host = self.hosts.address(name)
            self.procs.start_on(name, name, [
                sys.executable, "-m", "nodemanager", "--redis-url", self.redis_url, "--hostname", host,
                "--bind-host", host, "--port", str(NM_PORT), "--memory-mb", str(NM_MEMORY_MB), "--vcores", "4",
                "--credentials-dir", str(self.nm_dir), "--local-dirs", str(self.tmp / name / "local"),
                "--log-dirs", str(self.tmp / name / "logs"), *SECURE],
                daemon_env(MINIYARN_RM_ADDRESS=self.rm_url))
        self.token = subprocess.run([MINIYARN, "token", "-user", USER, "--credentials-dir", str(self.cluster_dir)],
                                    check=True, capture_output=True, text=True).stdout.strip()
        self.http = httpx.Client(base_url=self.rm_url, headers={"Authorization": f"Bearer {self.token}"},
                                 timeout=10)
        wait_for("2 RUNNING NodeManagers", lambda: len(self.running_nodes()) == 2, timeout=20)

    def redis_answers(self) -> bool:
        return pings(self.admin())

    def admin(self) -> redis.Redis:
        return redis.Redis.from_url(self.creds.redis_url(self.redis_url, "rm"), socket_timeout=5)

    def get(self, path: str, **params: Any) -> Any:
        r = self.http.get(path, params=params or None)
        r.raise_for_status()
        return r.json()

    def running_nodes(self) -> list[dict[str, Any]]:
        nodes = self.get("/ws/v1/cluster/nodes", states="RUNNING")["nodes"]
        return list(nodes["node"]) if nodes else []

    def flink_app(self) -> dict[str, Any] | None:
        apps = (self.get("/ws/v1/cluster/apps")["apps"] or {}).get("app", [])
        return next((a for a in apps if a["applicationType"] == "Apache Flink"), None)

    def listeners(self, name: str) -> set[str]:
        """`address:port` of every TCP socket listening on host `name`."""
        out = subprocess.run(self.hosts.command(name, ["ss", "-Hltn"]), capture_output=True, text=True,
                             check=True).stdout
        return {line.split()[3] for line in out.splitlines() if line.strip()}


@pytest.fixture
def hosts() -> Iterator[netns.Hosts]:
    if (why := netns.unavailable()) is not None:
        pytest.skip(f"network namespaces: {why}")
    made = netns.Hosts.create(["rm", "nm1", "nm2"])
    try:
        yield made
    finally:
        made.close()
        assert not made.leftovers(), f"namespaces or links left behind: {made.leftovers()}"


@pytest.fixture
def cluster(hosts: netns.Hosts, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Cluster]:
    procs = HostProcesses(hosts, tmp_path)
    c = Cluster(hosts, procs, tmp_path)
    try:
        c.start()
        yield c
    finally:
        if "http" in c.__dict__:
            c.http.close()
        procs.stop_all()
        rep = getattr(request.node, "rep_call", None)
        if rep is None or rep.failed:
            procs.dump_logs()
            for f in sorted(tmp_path.glob("nm*/logs/application_*/container_*/*")):
                sys.stderr.write(f"\n===== {f.relative_to(tmp_path)} =====\n{f.read_text(errors='replace')[-3000:]}\n")


def test_per_job_wordcount_across_hosts(cluster: Cluster, tmp_path: Path) -> None:
    nm_hosts = {cluster.hosts.address("nm1"), cluster.hosts.address("nm2")}
    nodes = {n["id"]: n for n in cluster.running_nodes()}
    assert set(nodes) == {f"{h}:{NM_PORT}" for h in nm_hosts}, nodes
    assert {n["nodeHTTPAddress"] for n in nodes.values()} == set(nodes)
    # The healthchecks a deployment runs on each host find their daemon at the address it binds.
    checks = [("rm", ["-m", "resourcemanager", "--check", "--host", cluster.rm_host, "--port", str(RM_PORT)])] + [
        (name, ["-m", "nodemanager", "--check", "--bind-host", cluster.hosts.address(name), "--port", str(NM_PORT)])
        for name in ("nm1", "nm2")]
    for name, argv in checks:
        assert subprocess.run(cluster.hosts.command(name, [sys.executable, *argv]), env=daemon_env(),
                              timeout=20).returncode == 0, (name, argv)

    words = tmp_path / "words.txt"
    words.write_text("".join(line + "\n" for line in TEXT))
    env = {**daemon_env(MINIYARN_RM_ADDRESS=cluster.rm_url, MINIYARN_TOKEN=cluster.token), "TMPDIR": str(tmp_path)}
    client = subprocess.Popen([sys.executable, "-m", "flink_on_yarn.cli.main", "run", "-t", "yarn-per-job", *FLINK,
                               "-py", WORDCOUNT, "--input", str(words)], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, cwd=ROOT, env=env, start_new_session=True)
    try:
        # While the job runs: the RM's proxy reaches the JobManager on its NM host, and everything on the NM
        # hosts (NM, JobManager, TaskManagers, their tasks' input gates) listens on that host's address only.
        overview: dict[str, Any] = {}
        listening: dict[str, set[str]] = {name: set() for name in cluster.hosts.names}
        deadline = time.monotonic() + 60
        while client.poll() is None and time.monotonic() < deadline:
            for name in listening:
                listening[name] |= cluster.listeners(name)
            app = cluster.flink_app()
            if not overview and app is not None and app["state"] == "RUNNING":
                resp = cluster.http.get(f"/proxy/{app['id']}/overview")
                if resp.status_code == 200 and resp.json().get("taskmanagers", 0) == 2:
                    overview = resp.json()
            time.sleep(0.05)
        out, _ = client.communicate(timeout=90)
    finally:
        if client.poll() is None:
            os.killpg(client.pid, signal.SIGKILL)
            client.wait()
    assert client.returncode == 0, out
    assert "with final status SUCCEEDED" in out, out
    assert overview.get("slots-total") == 4, f"the proxy never showed the JobManager with 2 TaskManagers: {out}"
    for name, addrs in listening.items():
        host = cluster.hosts.address(name)
        assert addrs and all(a.rsplit(":", 1)[0] == host for a in addrs), (name, addrs)
    assert listening["rm"] == {f"{cluster.rm_host}:{REDIS_PORT}", f"{cluster.rm_host}:{RM_PORT}"}, listening
    # Beyond the two NMs' own ports: the JobManager's RPC and REST and the TaskManagers' sockets were seen.
    assert len(listening["nm1"] | listening["nm2"]) > 2 + 2, listening

    app = cluster.flink_app()
    assert app is not None and app["finalStatus"] == "SUCCEEDED", app
    r = cluster.admin()
    try:
        wait_for("the logs aggregated", lambda: r.exists(keys.app_logs(app["id"]))
                 and not r.scard(keys.app_log_nodes(app["id"])), timeout=30)
        logs = {k.decode(): v.decode(errors="replace") for k, v in r.hgetall(keys.app_logs(app["id"])).items()}
    finally:
        r.close()
    tm_outs = {k: v for k, v in logs.items() if k.endswith("taskmanager.out")}
    assert {k.split()[1] for k in tm_outs} == {f"{h}:{NM_PORT}" for h in nm_hosts}, sorted(logs)
    assert final_counts(list(tm_outs.values())) == Counter(w for line in TEXT for w in line.split())
