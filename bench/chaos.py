"""Chaos bench for the ResourceManager side: each fault N times against a DistributedShell job whose
containers each write their id once to a file, and counts of runs that ended SUCCEEDED with exactly that
output and nothing left holding resources.

Faults: `rm-kill` (RM SIGKILLed at a random moment of the job, restarted at once), `redis-kill` (Redis
SIGKILLed, restarted from its AOF 2 s later), `redis-pause` (Redis SIGSTOPped for --pause-s, default 20),
`burst` (--burst apps, default 20, submitted at once on a cluster whose AM limit admits a few at a time).
Everything runs on loopback: a redis-server, an RM and two NMs this script starts and stops.

    python bench/chaos.py [--runs 20] [--faults rm-kill,redis-kill,redis-pause,burst]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import httpx
import redis

from miniyarn import blobs, keys
from miniyarn.distributedshell.client import submission
from miniyarn.security import credentials
from miniyarn.sockets import free_port

FAULTS = ("rm-kill", "redis-kill", "redis-pause", "burst")
FINAL = ("FINISHED", "FAILED", "KILLED")
CONF = ["-D", "yarn.scheduler.minimum-allocation-mb=128"]


@dataclass
class Cluster:
    work: Path
    creds: credentials.Credentials
    redis_port: int = field(default_factory=free_port)
    rm_port: int = field(default_factory=free_port)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    @property
    def rm_url(self) -> str:
        return f"http://127.0.0.1:{self.rm_port}"

    def admin(self) -> redis.Redis:
        return redis.Redis.from_url(self.creds.redis_url(self.redis_url, "rm"), socket_timeout=5)

    def spawn(self, name: str, args: list[str]) -> None:
        with open(self.work / f"{name}.log", "ab") as log:
            env = {**os.environ, credentials.ENV: str(self.creds.dir)}
            self.procs[name] = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env,
                                                start_new_session=True, cwd=self.work)

    def start_redis(self) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            sys.exit("redis-server is not installed")
        (self.work / "redis").mkdir(exist_ok=True)
        self.spawn("redis", [exe, "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "yes", "--dir", str(self.work / "redis"),
                             "--aclfile", str(self.creds.acl_file)])
        until("redis", lambda: bool(self.admin().ping()), 20)

    def start_rm(self) -> None:
        self.spawn("rm", [sys.executable, "-m", "resourcemanager", "--redis-url", self.redis_url,
                          "--port", str(self.rm_port), *CONF])
        until("the RM", lambda: httpx.get(f"{self.rm_url}/health", timeout=2).status_code == 200, 30)

    def start(self, nm_memory: int, nm_vcores: int) -> None:
        self.start_redis()
        self.start_rm()
        for n in ("nm1", "nm2"):
            self.spawn(n, [sys.executable, "-m", "nodemanager", "--redis-url", self.redis_url, "--port", "0",
                           "--memory-mb", str(nm_memory), "--vcores", str(nm_vcores), *CONF])
        until("2 NMs", lambda: len(self.running_nodes()) == 2, 30)

    def running_nodes(self) -> list[dict[str, object]]:
        got = httpx.get(f"{self.rm_url}/ws/v1/cluster/nodes", params={"states": "RUNNING"}, timeout=5).json()
        return list(got["nodes"]["node"]) if got["nodes"] else []

    def kill(self, name: str) -> None:
        proc = self.procs[name]
        os.killpg(proc.pid, signal.SIGCONT)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)

    def signal(self, name: str, sig: signal.Signals) -> None:
        os.killpg(self.procs[name].pid, sig)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGCONT)
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for proc in self.procs.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)

    def submit(self, out: Path, containers: int, sleep_s: float) -> str:
        admin = self.admin()
        try:
            script = blobs.put(admin, f"sleep {sleep_s}; echo $CONTAINER_ID >> {out}\n".encode())
        finally:
            admin.close()
        app_id = str(httpx.post(f"{self.rm_url}/ws/v1/cluster/apps/new-application", timeout=30)
                     .json()["application-id"])
        body = submission(app_id, script.resource, containers, name="chaos", container_memory=128)
        r = httpx.post(f"{self.rm_url}/ws/v1/cluster/apps", json=body, timeout=30)
        r.raise_for_status()
        return app_id

    def final(self, app_id: str, timeout_s: float) -> tuple[str, str]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                a = httpx.get(f"{self.rm_url}/ws/v1/cluster/apps/{app_id}", timeout=5).json()["app"]
                if a["state"] in FINAL and a["finishedTime"]:
                    return a["state"], a["finalStatus"]
            except (httpx.HTTPError, KeyError, ValueError):
                pass  # the RM is restarting
            time.sleep(0.3)
        return "TIMEOUT", ""

    def nothing_left(self) -> bool:
        def clear() -> bool:
            admin = self.admin()
            try:
                return not list(admin.scan_iter(match=keys.container("*"))) and \
                    all(n["usedMemoryMB"] == 0 for n in self.running_nodes())
            finally:
                admin.close()
        try:
            until("every container released", clear, 30)
            return True
        except TimeoutError:
            return False


def until(what: str, check: object, timeout_s: float) -> None:
    assert callable(check)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (httpx.HTTPError, redis.RedisError, KeyError, ValueError):
            pass
        time.sleep(0.1)
    raise TimeoutError(f"timed out waiting for {what}")


def exact(out: Path, n: int) -> bool:
    got = out.read_text().split() if out.exists() else []
    return len(got) == n and len(set(got)) == n


def one_run(c: Cluster, fault: str, run: int, args: argparse.Namespace) -> tuple[bool, float, str]:
    started = time.monotonic()
    if fault == "burst":
        outs = [c.work / f"burst-{run}-{i}.txt" for i in range(args.burst)]
        apps = [c.submit(o, 1, 0) for o in outs]
        results = [c.final(a, 600) for a in apps]
        ok = all(r == ("FINISHED", "SUCCEEDED") for r in results) and all(exact(o, 1) for o in outs)
        why = "" if ok else f"{sum(r == ('FINISHED', 'SUCCEEDED') for r in results)}/{len(apps)} SUCCEEDED"
        return ok and c.nothing_left(), time.monotonic() - started, why
    out = c.work / f"{fault}-{run}.txt"
    app_id = c.submit(out, 3, 3)
    time.sleep(random.uniform(0.3, 5.0))  # a random moment: before, during or after the grants
    if fault == "rm-kill":
        c.kill("rm")
        c.start_rm()
    elif fault == "redis-kill":
        c.kill("redis")
        time.sleep(2)
        c.start_redis()
    elif fault == "redis-pause":
        c.signal("redis", signal.SIGSTOP)
        time.sleep(args.pause_s)
        c.signal("redis", signal.SIGCONT)
    state = c.final(app_id, 240)
    ok = state == ("FINISHED", "SUCCEEDED") and exact(out, 3)
    why = "" if ok else f"{app_id} {state}, output {out.read_text().split() if out.exists() else []}"
    return ok and c.nothing_left(), time.monotonic() - started, why


Row = tuple[str, int, int, list[float]]
C = TypeVar("C", bound="Cluster")


def run_faults(faults: list[str], runs: int, cluster_for: Callable[[str], C], nm_vcores: Callable[[str], int],
               one: Callable[[C, str, int], tuple[bool, float, str]], took: str) -> list[Row]:
    """`runs` runs of each fault, each fault on a fresh cluster (NMs of 2048 MB): (fault, exact runs,
    runs, seconds of each run) a fault, with a line a run (`took` formats its seconds)."""
    rows = []
    for fault in faults:
        c = cluster_for(fault)
        c.work.mkdir()
        try:
            c.start(2048, nm_vcores(fault))
            good, times = 0, []
            for run in range(runs):
                ok, seconds, why = one(c, fault, run)
                good += ok
                times.append(seconds)
                print(f"{fault} run {run + 1}/{runs}: {'ok' if ok else 'FAILED ' + why} ({took.format(seconds)})",
                      flush=True)
            rows.append((fault, good, runs, times))
        finally:
            c.stop()
    return rows


def finish(work: Path, keep: bool, rows: list[Row]) -> int:
    """The work directory kept (logs) or removed; exit 0 only if every run of every fault was exact."""
    if keep:
        print(f"logs in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if all(g == r for _, g, r, _ in rows) else 1


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--faults", default=",".join(FAULTS))
    p.add_argument("--pause-s", type=float, default=20.0)
    p.add_argument("--burst", type=int, default=20)
    p.add_argument("--keep", action="store_true", help="keep the work directory (logs) at the end")
    args = p.parse_args()
    faults = [f for f in args.faults.split(",") if f]
    unknown = set(faults) - set(FAULTS)
    if unknown:
        p.error(f"unknown faults {sorted(unknown)}; choose from {', '.join(FAULTS)}")
    work = Path(tempfile.mkdtemp(prefix="miniyarn-chaos-"))
    creds = credentials.ensure(work / "credentials")
    # The burst runs on 2 x (2048 MB, 2 vcores): an AM limit of half admits 2 AMs at a time.
    rows = run_faults(faults, args.runs, lambda fault: Cluster(work / fault, creds),
                      lambda fault: 2 if fault == "burst" else 4,
                      lambda c, fault, run: one_run(c, fault, run, args), "{:.1f}s")
    print(f"\n{'fault':<12} {'exact SUCCEEDED':>16} {'mean s':>7}")
    for fault, good, runs, times in rows:
        print(f"{fault:<12} {f'{good}/{runs}':>16} {sum(times) / len(times):>7.1f}")
    return finish(work, args.keep, rows)


if __name__ == "__main__":
    sys.exit(main())
