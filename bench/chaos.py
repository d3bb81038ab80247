"""Issue 13's chaos bench: each fault N times (default 20) against a Flink per-job word count over a file,
and per fault the counts of runs that SUCCEEDED, with exact output, nothing left running and no duplicate
execution, with the time of each run.

Every fault runs on a fresh MiniCluster of 3 NMs (1024 MB each; its own Redis with AOF; secure as always;
NM expiry 4 s so a lost node is noticed quickly). A run is one `miniflink run -t yarn-per-job -d` of
examples/wordcount.py in BATCH mode (`-p 2`, one slot per TaskManager, fixed-delay restarts) over a generated
file, the fault injected while it runs:

- `nm-sigkill`: SIGKILL of the NM of one TaskManager (never the JobManager's), once both run, after 0-1.5 s;
  recovery off (YARN's default). The NM is started again after the run.
- `nm-restart`: SIGTERM of that NM and a restart under the same node id and dirs at once,
  yarn.nodemanager.recovery.enabled=true: its containers must be taken back, not replaced.
- `rm-kill`: SIGKILL of the RM and a restart at once, at a random moment 0.2-6 s after the client started,
  or (one run in three) right after the RM granted the TaskManagers' containers.
- `rm-failover`: two RMs (HA); SIGKILL of the active at a random moment; the failover time is the kill ->
  the other RM answers `/isActive` 200. The killed RM is started again (as the standby).
- `jm-kill`: SIGKILL of the JobManager container's process group once the TaskManagers run
  (yarn.application-attempts=2): attempt 2 reruns the BATCH job.
- `redis-kill`: SIGKILL of Redis at a random moment, restarted 2 s later from its AOF.
- `redis-pause`: SIGSTOP of Redis for --pause-s (20) at a random moment.
- `burst`: --burst (20) per-job jobs submitted at once; the AM limit queues them.

A run is ok when the client exited 0, the app ended FINISHED/SUCCEEDED, the counts in the TaskManagers'
aggregated stdout equal `collections.Counter` of the file, once the app ended no process of it is left, no
container grant is left in Redis and no node has memory in use, and there was no duplicate execution (every
TaskManager registered once; no TaskManager beyond the job's parallelism unless the fault took one; the
killed NM's or attempt's containers gone within seconds; `nm-restart`: the NM's containers kept their pids).
`--job dshell` runs a DistributedShell job of 3 containers writing their id once to a file instead (exact:
3 distinct ids).

    python bench/chaos.py [--runs 20] [--faults nm-sigkill,...] [--lines 100000] [--job wordcount|dshell]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from miniyarn import blobs, keys  # noqa: E402
from miniyarn.distributedshell.client import submission  # noqa: E402
from miniyarn.minicluster import Daemon, MiniCluster, redis_answers  # noqa: E402
from miniyarn.redisconn import text  # noqa: E402
from miniyarn.sockets import free_port  # noqa: E402

FAULTS = ("nm-sigkill", "nm-restart", "rm-kill", "rm-failover", "jm-kill", "redis-kill", "redis-pause", "burst")
FINAL = ("FINISHED", "FAILED", "KILLED")
WORDCOUNT = ROOT / "examples" / "wordcount.py"
COUNT = re.compile(r"\((.+),(\d+)\)\s*$")
PARALLELISM = 2
# NM expiry 4 s (YARN's 10 min) so a killed NM is LOST within the run; 128 MB containers so 3 x 1024 MB hold
# a few jobs of a 256 MB JobManager and two 256 MB TaskManagers.
FAST = ["yarn.nm.liveness-monitor.expiry-interval-ms=4000", "yarn.scheduler.minimum-allocation-mb=128",
        "yarn.resourcemanager.nodemanagers.heartbeat-interval-ms=500"]
JOB = ["-p", str(PARALLELISM), "-D", "taskmanager.numberOfTaskSlots=1", "-D", "jobmanager.memory.process.size=256m",
       "-D", "taskmanager.memory.process.size=256m", "-D", "heartbeat.interval=500", "-D", "heartbeat.timeout=4000",
       "-D", "restart-strategy=fixed-delay", "-D", "restart-strategy.fixed-delay.attempts=10",
       "-D", "restart-strategy.fixed-delay.delay=500 ms"]
# An NM restarted with recovery must be back before its expiry, or the RM declares it LOST and completes its
# containers (YARN's default expiry is 10 min); a restart takes 1-6 s on the loaded 2-core machine, so 20 s.
CLUSTER: dict[str, list[str]] = {"nm-restart": ["yarn.nodemanager.recovery.enabled=true",
                                                "yarn.nm.liveness-monitor.expiry-interval-ms=20000"]}
# After a fault, how long the bench waits for the app to end and for its processes and grants to go: far
# above a run (10-30 s) on the loaded 2-core machine, so a timeout means a hang, not slowness.
FINAL_TIMEOUT_S = 240.0
LEFT_TIMEOUT_S = 20.0


def generate(path: Path, lines: int) -> Counter[str]:
    """A file of `lines` lines of 8 words from a vocabulary of 300, and its exact word counts."""
    rng = random.Random(13)
    vocab = [f"w{i}" for i in range(300)]
    counts: Counter[str] = Counter()
    with open(path, "w") as f:
        for _ in range(lines):
            words = rng.choices(vocab, k=8)
            counts.update(words)
            f.write(" ".join(words) + "\n")
    return counts


def until(what: str, check: Callable[[], bool], timeout_s: float, poll_s: float = 0.1) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (httpx.HTTPError, redis.RedisError, KeyError, ValueError, TypeError):
            pass  # a daemon restarting: try again
        time.sleep(poll_s)
    raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {what}")


@dataclass
class Run:
    succeeded: bool = False
    exact: bool = False
    nothing_left: bool = False
    no_duplicate: bool = False
    seconds: float = 0.0
    failover_s: float | None = None
    failover_parts: tuple[float, float, float] | None = None
    injected: bool = True  # the fault hit the job while it ran
    moment: str = ""  # when a fault at a random moment hit
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.injected and self.succeeded and self.exact and self.nothing_left and self.no_duplicate


class Chaos:
    """One MiniCluster and what the faults need of it: the active RM's REST, the daemons to kill and
    restart, the processes of an application's containers, its aggregated logs."""

    def __init__(self, mc: MiniCluster, job: str, words: Path, expected: Counter[str], rng: random.Random) -> None:
        self.mc, self.job, self.words, self.expected, self.rng = mc, job, words, expected, rng
        self.http = httpx.Client(timeout=10, headers={"Authorization": f"Bearer {mc.token}"})
        self.redis = redis.Redis.from_url(mc.admin_redis_url, socket_timeout=5)
        self.rm_url = mc.rm_url
        self.restarts = 0
        self.seen_apps: set[str] = set()

    def close(self) -> None:
        self.http.close()
        self.redis.close()

    # ---- the active RM's REST --------------------------------------------------------------

    def get(self, path: str) -> dict[str, Any]:
        """GET from the active RM (a standby answers 307 to it, 503 while there is none): the last one that
        answered first, then the others."""
        for url in [self.rm_url, *(u for u in self.mc.rm_urls if u != self.rm_url)]:
            try:
                r = self.http.get(url + path)
            except httpx.HTTPError:
                continue
            if r.status_code == 200:
                self.rm_url = url
                body: dict[str, Any] = r.json()
                return body
        raise httpx.HTTPError(f"no active RM answered {path} at {self.mc.rm_urls}")

    def app(self, app_id: str) -> dict[str, Any]:
        report: dict[str, Any] = self.get(f"/ws/v1/cluster/apps/{app_id}")["app"]
        return report

    def wait_final(self, app_id: str) -> dict[str, Any]:
        found: dict[str, Any] = {}

        def final() -> bool:
            found.update(self.app(app_id))
            return found["state"] in FINAL and found["finishedTime"] > 0
        try:
            until(f"{app_id} to end", final, FINAL_TIMEOUT_S, 0.3)
        except TimeoutError:
            found["state"] = f"TIMEOUT ({found.get('state')})"
        return found

    def is_active(self, url: str) -> bool:
        try:
            return self.http.get(f"{url}/isActive", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def new_app(self, timeout_s: float = 60) -> str:
        """The id of the app submitted since the last call (this cluster runs only the bench's apps)."""
        got: list[str] = []

        def appeared() -> bool:
            apps = (self.get("/ws/v1/cluster/apps").get("apps") or {}).get("app") or []
            got[:] = sorted(a["id"] for a in apps if a["id"] not in self.seen_apps)
            return bool(got)
        until("the application to be submitted", appeared, timeout_s, 0.05)
        self.seen_apps.add(got[0])
        return got[0]

    # ---- daemons ---------------------------------------------------------------------------

    def daemon(self, name: str) -> Daemon:
        """The newest daemon of that name (a restarted one replaces the old)."""
        return next(d for d in reversed(self.mc.daemons) if d.name == name)

    def nm_of(self, node_id: str) -> Daemon:
        port = node_id.rsplit(":", 1)[1]
        return next(d for d in reversed(self.mc.daemons) if d.name.startswith("nm-")
                    and f"--port {port} " in " ".join(d.proc.args) + " ")  # type: ignore[arg-type]

    def rm_daemon(self, url: str) -> Daemon:
        i = self.mc.rm_urls.index(url)
        return self.daemon("rm" if len(self.mc.rm_urls) == 1 else f"rm{i + 1}")

    def restart(self, d: Daemon) -> Daemon:
        """`d` again with its command line and dirs (so an NM keeps its node id, Redis its AOF), once it serves."""
        self.restarts += 1
        log = self.mc.work_dir / f"{d.name}-r{self.restarts}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(list(d.proc.args), stdout=out, stderr=subprocess.STDOUT,  # type: ignore[arg-type]
                                    stdin=subprocess.DEVNULL, start_new_session=True, cwd=self.mc.work_dir)
        new = Daemon(d.name, proc, log)
        self.mc.daemons.append(new)
        if d.name == "redis":
            up: Callable[[], bool] = lambda: redis_answers(self.mc.admin_redis_url)  # noqa: E731
        elif d.name.startswith("rm"):
            url = self.mc.rm_urls[0 if d.name == "rm" else int(d.name[2:]) - 1]
            up = lambda: self.http.get(f"{url}/health", timeout=2).status_code == 200  # noqa: E731
        else:
            up = lambda: "started, http://" in new.tail(100_000)  # noqa: E731

        def serving() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"{d.name} exited {proc.returncode} on restart: {new.tail()}")
            return up()
        until(f"{d.name} to restart", serving, 30, 0.05)
        return new

    @staticmethod
    def signal(d: Daemon, sig: signal.Signals) -> None:
        os.killpg(d.proc.pid, sig)

    def kill(self, d: Daemon) -> None:
        self.signal(d, signal.SIGKILL)
        d.proc.wait(10)

    # ---- an application's containers --------------------------------------------------------

    def containers(self, app_id: str) -> dict[str, str]:
        """Container id -> node id of the app's running containers, from the NMs."""
        out: dict[str, str] = {}
        for node in (self.get("/ws/v1/cluster/nodes").get("nodes") or {}).get("node") or []:
            if node["state"] != "RUNNING":
                continue
            try:
                r = self.http.get(f"http://{node['nodeHTTPAddress']}/ws/v1/node/apps/{app_id}")
            except httpx.HTTPError:
                continue
            if r.status_code == 200:
                for cid in (r.json().get("app") or {}).get("containerids") or []:
                    out[cid] = node["id"]
        return out

    @staticmethod
    def processes(app_id: str) -> dict[str, list[int]]:
        """Container id -> pids of live processes of the app (by the CONTAINER_ID in their environment)."""
        prefix = "container_" + app_id.removeprefix("application_") + "_"
        out: dict[str, list[int]] = {}
        for p in psutil.process_iter():
            try:
                cid = p.environ().get("CONTAINER_ID", "")
                if cid.startswith(prefix) and p.status() != psutil.STATUS_ZOMBIE:
                    out.setdefault(cid, []).append(p.pid)
            except psutil.Error:
                continue
        return out

    def workers(self, app_id: str, timeout_s: float = 90) -> tuple[dict[str, str], str]:
        """Once the app's non-AM containers all run (processes up): container -> node, and the AM's node."""
        found: dict[str, str] = {}
        want = PARALLELISM if self.job == "wordcount" else 3

        def running() -> bool:
            found.clear()
            found.update({c: n for c, n in self.containers(app_id).items() if not c.endswith("_000001")})
            procs = self.processes(app_id)
            return len(found) >= want and all(c in procs for c in found)
        until(f"{app_id}'s workers to run", running, timeout_s, 0.2)
        am = next((n for c, n in self.containers(app_id).items() if c.endswith("_000001")), "")
        return found, am

    def logs(self, app_id: str, suffix: str) -> dict[str, str]:
        """Aggregated log files of the app ending in `suffix`: `<containerId> <nodeId> <file>` -> text."""
        try:
            until("log aggregation", lambda: not self.redis.scard(keys.app_log_nodes(app_id)), 30, 0.2)
        except TimeoutError:
            pass  # judged on what arrived
        return {text(k): text(v) for k, v in self.redis.hgetall(keys.app_logs(app_id)).items()
                if text(k).endswith(suffix)}

    def counts(self, app_id: str) -> Counter[str]:
        """The final count of each word in the TaskManagers' stdout (BATCH prints each word's total; a rerun
        prints it again, the same)."""
        out: Counter[str] = Counter()
        for body in self.logs(app_id, "taskmanager.out").values():
            for line in body.splitlines():
                m = COUNT.search(line)
                if m:
                    out[m.group(1)] = max(out[m.group(1)], int(m.group(2)))
        return out

    def registrations(self, app_id: str) -> Counter[str]:
        """TaskManager id (its container) -> times it registered, from the JobManagers' logs (every attempt)."""
        out: Counter[str] = Counter()
        for body in self.logs(app_id, "jobmanager.log").values():
            for m in re.finditer(r"TaskManager (container_\S+) registered from", body):
                out[m.group(1)] += 1
        return out

    def nothing_left(self, app_id: str, run: Run) -> None:
        state: dict[str, object] = {}

        def clear() -> bool:
            state["processes"] = self.processes(app_id)
            state["grants"] = [text(k) for k in self.redis.scan_iter(match=keys.container("*"))]
            nodes = (self.get("/ws/v1/cluster/nodes").get("nodes") or {}).get("node") or []
            state["used"] = {n["id"]: n["usedMemoryMB"] for n in nodes if n["usedMemoryMB"]}
            return not state["processes"] and not state["grants"] and not state["used"]
        try:
            until("nothing left", clear, LEFT_TIMEOUT_S, 0.3)
            run.nothing_left = True
        except TimeoutError:
            run.notes.append(f"left: {state}")

    # ---- one run -----------------------------------------------------------------------------

    def submit(self, defines: list[str]) -> tuple[subprocess.Popen[str], Path | None]:
        """The job's client, started (the app id comes from `new_app`); dshell: the file its containers write."""
        if self.job == "dshell":
            out = self.mc.work_dir / f"dshell-{len(self.seen_apps)}-{time.monotonic_ns()}.txt"
            script = blobs.put(self.redis, f"sleep 3; echo $CONTAINER_ID >> {out}\n".encode())
            code = ("import httpx,json,os,sys\n"
                    "h={'Authorization':'Bearer '+os.environ['T']}\n"
                    "u=os.environ['U']\n"
                    "a=httpx.post(u+'/ws/v1/cluster/apps/new-application',headers=h,timeout=30).json()\n"
                    "b=json.loads(sys.argv[1].replace('@APP@',a['application-id']))\n"
                    "httpx.post(u+'/ws/v1/cluster/apps',json=b,headers=h,timeout=30).raise_for_status()\n"
                    "print(a['application-id'])\n")
            body = json.dumps(submission("@APP@", script.resource, 3, name="chaos", container_memory=128))
            env = {**self._env(), "T": self.mc.token, "U": self.rm_url}
            return subprocess.Popen([sys.executable, "-c", code, body], stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True, env=env), out
        args = [sys.executable, "-m", "flink_on_yarn.cli.main", "run", "-t", "yarn-per-job", "-d", *JOB,
                *(a for d in defines for a in ("-D", d)), "-py", str(WORDCOUNT), "--input", str(self.words), "--batch"]
        return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
                                env=self._env()), None

    def _env(self) -> dict[str, str]:
        return {**os.environ, **self.mc.env()}

    def one(self, fault: str, pause_s: float) -> Run:
        run = Run()
        t0 = time.monotonic()
        client, out = self.submit(["yarn.application-attempts=2"] if fault == "jm-kill" else [])
        try:
            app_id = self.new_app()
            hurt = self.hit(fault, app_id, t0, pause_s, run)
            try:
                said, _ = client.communicate(timeout=120)
            except subprocess.TimeoutExpired:
                client.kill()
                said, _ = client.communicate()
                run.notes.append("the client hung")
            if client.returncode != 0 or app_id not in said:
                run.notes.append(f"client exited {client.returncode}: {said[-300:]!r}")
            self.judge(fault, app_id, out, hurt, run)
            run.succeeded = run.succeeded and client.returncode == 0
        finally:
            if client.poll() is None:
                client.kill()
                client.wait()
        run.seconds = time.monotonic() - t0
        return run

    def hit(self, fault: str, app_id: str, t0: float, pause_s: float, run: Run) -> dict[str, Any]:
        """The fault, injected while `app_id` runs; what the judge needs to know of it."""
        hurt: dict[str, Any] = {}
        if fault in ("nm-sigkill", "nm-restart", "jm-kill"):
            tms, am_node = self.workers(app_id)
            hurt["tms"] = tms
            time.sleep(self.rng.uniform(0.0, 1.5))
            if fault == "jm-kill":
                procs = self.processes(app_id)
                am = next(c for c in procs if c.endswith("_01_000001"))
                hurt["attempt1"] = list(procs)
                os.killpg(os.getpgid(procs[am][0]), signal.SIGKILL)
                hurt["killed_at"] = time.monotonic()
                return hurt
            victims = sorted({n for n in tms.values() if n != am_node})
            if not victims:
                raise RuntimeError(f"no TaskManager off the JobManager's node ({tms}, AM on {am_node})")
            d = self.nm_of(victims[0])
            hurt["node"], hurt["victims"] = victims[0], [c for c, n in tms.items() if n == victims[0]]
            before = self.processes(app_id)
            if fault == "nm-sigkill":
                self.kill(d)
                hurt["nm"] = d
                time.sleep(3)
                hurt["alive_after_3s"] = [c for c in hurt["victims"] if c in self.processes(app_id)]
            else:
                d.proc.terminate()
                d.proc.wait(15)
                self.restart(d)
                if self.app(app_id)["state"] != "RUNNING":
                    run.injected = False
                    run.notes.append("the job ended before the NM was back")
                after = self.processes(app_id)
                hurt["kept"] = all(set(before.get(c, [])) & set(after.get(c, [])) for c in hurt["victims"])
            return hurt
        if fault == "rm-kill" and self.rng.random() < 1 / 3:
            # Right after the grants: the moment the issue found ghost grants and double allocations.
            until("the TaskManagers' grants", lambda: self.app(app_id)["runningContainers"] >= PARALLELISM + 1,
                  90, 0.02)
            hurt["moment"] = "after grants"
        else:
            time.sleep(max(0.0, t0 + self.rng.uniform(0.2, 6.0) - time.monotonic()))
            hurt["moment"] = f"{time.monotonic() - t0:.1f} s after the client started"
            if self.app(app_id)["state"] in FINAL:  # a quick run on a quiet machine: the fault would prove nothing
                run.injected = False
                run.notes.append("the job ended before the fault")
        if fault == "rm-kill":
            self.kill(self.rm_daemon(self.mc.rm_url))
            self.restart(self.rm_daemon(self.mc.rm_url))
        elif fault == "rm-failover":
            active = next(u for u in self.mc.rm_urls if self.is_active(u))
            other = next(u for u in self.mc.rm_urls if u != active)
            hit, hit_wall = time.monotonic(), time.time()
            self.kill(self.rm_daemon(active))
            until(f"{other} active", lambda: self.is_active(other), 30, 0.02)
            run.failover_s = time.monotonic() - hit
            run.failover_parts = failover_parts(self.rm_daemon(other).tail(200_000), hit_wall, run.failover_s)
            self.rm_url = other
            self.restart(self.rm_daemon(active))
        elif fault == "redis-kill":
            self.kill(self.daemon("redis"))
            time.sleep(2)
            self.restart(self.daemon("redis"))
        elif fault == "redis-pause":
            self.signal(self.daemon("redis"), signal.SIGSTOP)
            time.sleep(pause_s)
            self.signal(self.daemon("redis"), signal.SIGCONT)
        return hurt

    def judge(self, fault: str, app_id: str, out: Path | None, hurt: dict[str, Any], run: Run) -> None:
        final = self.wait_final(app_id)
        run.succeeded = final.get("state") == "FINISHED" and final.get("finalStatus") == "SUCCEEDED"
        if not run.succeeded:
            run.notes.append(f"{app_id} ended {final.get('state')}/{final.get('finalStatus')}: "
                             f"{str(final.get('diagnostics'))[:300]}")
        run.moment = hurt.get("moment", "")
        self.nothing_left(app_id, run)
        if out is not None:  # dshell: each of the 3 containers wrote its id once
            got = out.read_text().split() if out.exists() else []
            run.exact = len(got) == 3 and len(set(got)) == 3
            run.no_duplicate = len(got) <= 3
            if not run.exact:
                run.notes.append(f"output {got}")
        else:
            got_counts = self.counts(app_id)
            run.exact = got_counts == self.expected
            if not run.exact:
                wrong = sum(1 for w in self.expected if got_counts[w] != self.expected[w])
                run.notes.append(f"counts differ on {wrong} of {len(self.expected)} words ({len(got_counts)} counted)")
            run.no_duplicate = self.no_duplicate(fault, app_id, hurt, run)
        if fault == "nm-sigkill":
            self.restart(hurt["nm"])  # so the next run has 3 nodes again
        if fault == "rm-failover":
            actives = [u for u in self.mc.rm_urls if self.is_active(u)]
            if len(actives) != 1:
                run.no_duplicate = False
                run.notes.append(f"active RMs afterwards: {actives}")

    def no_duplicate(self, fault: str, app_id: str, hurt: dict[str, Any], run: Run) -> bool:
        history = self.registrations(app_id)
        ok = all(n == 1 for n in history.values())
        # A TaskManager beyond the parallelism only where the fault took one (NM SIGKILL: its replacement;
        # jm-kill: attempt 2's own).
        allowed = {"nm-sigkill": 2 * PARALLELISM, "jm-kill": 2 * PARALLELISM}.get(fault, PARALLELISM)
        ok = ok and len(history) <= allowed
        if fault == "nm-sigkill" and hurt["alive_after_3s"]:
            ok = False
            run.notes.append(f"containers of the killed NM still ran 3 s later: {hurt['alive_after_3s']}")
        if fault == "nm-restart":
            replaced = [c for c in history if c not in hurt["tms"]]
            if replaced or not hurt["kept"]:
                ok = False
                run.notes.append(f"not taken back: kept pids {hurt['kept']}, replaced by {replaced}")
        if fault == "jm-kill":
            attempts = self.get(f"/ws/v1/cluster/apps/{app_id}/appattempts")["appAttempts"]["appAttempt"]
            if len(attempts) != 2:  # the JobManager was killed after the job ended: the run proves nothing
                run.injected = False
                run.notes.append(f"the kill missed the job: {len(attempts)} attempts")
            first = set(hurt["attempt1"])
            try:
                until("attempt 1's containers to go", lambda: not first & set(self.processes(app_id)), 10, 0.2)
            except TimeoutError:
                ok = False
                run.notes.append(f"attempt 1's containers ran beside attempt 2: {first & set(self.processes(app_id))}")
        if len(history) > allowed or not all(n == 1 for n in history.values()):
            run.notes.append(f"TaskManagers registered {dict(history)}")
        return ok

    def burst(self, n: int) -> Run:
        """`n` jobs submitted at once; ok when every one is."""
        run = Run()
        t0 = time.monotonic()
        clients = [self.submit([]) for _ in range(n)]
        try:
            said = [c.communicate(timeout=FINAL_TIMEOUT_S)[0] for c, _ in clients]
        finally:
            for c, _ in clients:
                if c.poll() is None:
                    c.kill()
                    c.wait()
        ids = [m.group(0) for s in said for m in [re.search(r"application_\d+_\d+", s)] if m]
        self.seen_apps.update(ids)
        bad_clients = [s[-200:] for (c, _), s in zip(clients, said, strict=True) if c.returncode != 0]
        if bad_clients or len(ids) != n:
            run.notes.append(f"{len(bad_clients)} clients failed, {len(ids)} app ids: {bad_clients[:2]}")
        parts = []
        for app_id, (_, out) in zip(ids, clients, strict=False):
            one = Run()
            self.judge("burst", app_id, out, {}, one)
            parts.append(one)
            run.notes += [f"{app_id}: {note}" for note in one.notes]
        for flag in ("succeeded", "exact", "nothing_left", "no_duplicate"):
            setattr(run, flag, len(parts) == n and not bad_clients and all(getattr(p, flag) for p in parts))
        run.notes.insert(0, f"{sum(p.ok for p in parts)}/{n} jobs ok")
        run.seconds = time.monotonic() - t0
        return run


LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) "
                      r".*?(Acquired the leader lease|Transitioned to active)", re.MULTILINE)


def failover_parts(standby_log: str, hit_wall: float, failover_s: float) -> tuple[float, float, float] | None:
    r"""A failover split by the new active's log: the kill -> it took the lease (the old lease running out plus
    its next try), -> it finished recovery ("Transitioned to active"), -> the bench saw `/isActive` 200.

    >>> log = ("2026-12-01 15:00:01,600 INFO x: Acquired the leader lease with epoch 2\n"
    ...        "2026-12-01 15:00:01,900 INFO x: Transitioned to active (epoch 2)\n")
    >>> import datetime
    >>> t0 = datetime.datetime(2026, 12, 1, 15, 0, 0).timestamp()
    >>> failover_parts(log, t0, 2.0)
    (1.6, 0.3, 0.1)
    """
    import datetime

    stamps: dict[str, float] = {}
    for m in LOG_TIME.finditer(standby_log):
        t = datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S").timestamp() + int(m.group(2)) / 1000
        if t >= hit_wall - 0.001:
            stamps.setdefault(m.group(3), t)
    if len(stamps) < 2:
        return None
    took = stamps["Acquired the leader lease"] - hit_wall
    recovered = stamps["Transitioned to active"] - stamps["Acquired the leader lease"]
    return round(took, 3), round(recovered, 3), round(failover_s - took - recovered, 3)


def report(fault: str, runs: list[Run]) -> str:
    n = len(runs)
    times = sorted(r.seconds for r in runs)
    line = (f"{fault}: {sum(r.ok for r in runs)}/{n} ok; SUCCEEDED {sum(r.succeeded for r in runs)}/{n}, exact output "
            f"{sum(r.exact for r in runs)}/{n}, nothing left {sum(r.nothing_left for r in runs)}/{n}, no duplicate "
            f"execution {sum(r.no_duplicate for r in runs)}/{n}; run median {statistics.median(times):.1f} s, "
            f"max {times[-1]:.1f} s")
    failovers = sorted(r.failover_s for r in runs if r.failover_s is not None)
    if failovers:
        line += f"; failover median {statistics.median(failovers):.2f} s, max {failovers[-1]:.2f} s"
        parts = [r.failover_parts for r in runs if r.failover_parts is not None]
        if parts:
            lease, recovery, seen = (statistics.median(p[i] for p in parts) for i in range(3))
            line += (f" (medians: the lease running out + the standby's try {lease:.2f} s, recovery {recovery:.2f} s, "
                     f"until /isActive answered {seen:.2f} s)")
    return line


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--faults", default=",".join(FAULTS))
    p.add_argument("--job", choices=("wordcount", "dshell"), default="wordcount")
    p.add_argument("--lines", type=int, default=100_000, help="lines of 8 words in the counted file")
    p.add_argument("--pause-s", type=float, default=20.0, help="how long redis-pause stops Redis")
    p.add_argument("--burst", type=int, default=20, help="jobs submitted at once by the burst")
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("-D", "--define", action="append", default=[], metavar="KEY=VALUE",
                   help="a configuration key for every daemon (e.g. yarn.resourcemanager.ha.lease-ms=1000)")
    p.add_argument("--keep", action="store_true", help="keep the work directory (logs) at the end")
    ns = p.parse_args()
    faults = [f for f in ns.faults.split(",") if f]
    if set(faults) - set(FAULTS):
        p.error(f"unknown faults {sorted(set(faults) - set(FAULTS))}; choose from {', '.join(FAULTS)}")
    rng = random.Random(ns.seed)
    tmp = Path(tempfile.mkdtemp(prefix="miniyarn-chaos-"))
    words = tmp / "words.txt"
    expected = generate(words, ns.lines)
    print(f"{ns.job}; text: {sum(expected.values()):,} words, {len(expected)} distinct; {ns.runs} runs per fault; "
          f"work dir {tmp}", flush=True)
    lines, good = [], True
    for fault in faults:
        with MiniCluster(nodemanagers=3, redis_url=f"redis://127.0.0.1:{free_port()}/0", port=0, memory_mb=1024,
                         work_dir=tmp / fault, defines=[*FAST, *CLUSTER.get(fault, []), *ns.define],
                         rms=2 if fault == "rm-failover" else 1) as mc:
            chaos = Chaos(mc, ns.job, words, expected, rng)
            runs = []
            try:
                for i in range(ns.runs):
                    try:
                        r = chaos.burst(ns.burst) if fault == "burst" else chaos.one(fault, ns.pause_s)
                    except (RuntimeError, TimeoutError, httpx.HTTPError, redis.RedisError) as e:
                        r = Run(notes=[f"the bench could not inject the fault: {e}"])
                    runs.append(r)
                    print(f"  {fault} run {i + 1}: {'ok' if r.ok else 'FAILED'} in {r.seconds:.1f} s"
                          + (f", hit {r.moment}" if r.moment else "")
                          + (f", failover {r.failover_s:.2f} s" if r.failover_s is not None else "")
                          + (f" (lease {r.failover_parts[0]:.2f} + recovery {r.failover_parts[1]:.2f} + seen "
                             f"{r.failover_parts[2]:.2f})" if r.failover_parts is not None else "")
                          + ("" if r.ok else f" ({'; '.join(r.notes)})"), flush=True)
            finally:
                chaos.close()
        lines.append(report(fault, runs))
        print(lines[-1], flush=True)
        good = good and all(r.ok for r in runs)
    print("\n" + "\n".join(lines))
    if ns.keep:
        print(f"logs in {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
