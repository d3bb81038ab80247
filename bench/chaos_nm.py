"""NodeManager faults, each N times, against a per-job word count over a file (issue 13's chaos bench, NM
side). A MiniCluster of 3 NMs (its own Redis, secure as always); per run one Flink per-job cluster
(`-p 2`, one slot per TaskManager, a fixed-delay restart strategy) counts a generated file in BATCH mode,
and once its TaskManagers run, after a random delay, the fault hits the NM of one TaskManager (never the
JobManager's):

- `nm-sigkill`: SIGKILL of that NM (recovery off, YARN's default); it is started again after the run so
  the next run has 3 nodes.
- `nm-restart`: SIGTERM of that NM and a restart under the same node id and dirs, with
  yarn.nodemanager.recovery.enabled=true on every NM.

Per run it checks: the application SUCCEEDED; the counts (the TaskManagers' stdout, aggregated) are exactly
the file's; no process of the application is left once it ended; no duplicate execution (sigkill: no
process of the killed NM's containers alive 3 s after the kill; restart: no TaskManager replaced, every
container registered once, the killed NM's TaskManagers kept their pids).

    python bench/chaos_nm.py [--runs 20] [--faults nm-sigkill,nm-restart] [--lines 400000]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from miniyarn import keys  # noqa: E402
from miniyarn.minicluster import Daemon, MiniCluster  # noqa: E402
from miniyarn.redisconn import text  # noqa: E402

WORDCOUNT = ROOT / "examples" / "wordcount.py"
COUNT = re.compile(r"\((.+),(\d+)\)\s*$")
FAST = ["yarn.nm.liveness-monitor.expiry-interval-ms=4000", "yarn.scheduler.minimum-allocation-mb=128",
        "yarn.resourcemanager.nodemanagers.heartbeat-interval-ms=500"]
JOB = ["-p", "2", "-D", "taskmanager.numberOfTaskSlots=1", "-D", "jobmanager.memory.process.size=256m",
       "-D", "taskmanager.memory.process.size=256m", "-D", "heartbeat.interval=500", "-D", "heartbeat.timeout=4000",
       "-D", "restart-strategy=fixed-delay", "-D", "restart-strategy.fixed-delay.attempts=10",
       "-D", "restart-strategy.fixed-delay.delay=500 ms"]


def generate(path: Path, lines: int) -> Counter[str]:
    rng = random.Random(13)
    vocab = [f"w{i}" for i in range(300)]
    counts: Counter[str] = Counter()
    with open(path, "w") as f:
        for _ in range(lines):
            words = rng.choices(vocab, k=8)
            counts.update(words)
            f.write(" ".join(words) + "\n")
    return counts


@dataclass
class Run:
    ok: bool = False
    succeeded: bool = False
    exact: bool = False
    nothing_left: bool = False
    no_duplicate: bool = False
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


class Chaos:
    def __init__(self, mc: MiniCluster) -> None:
        self.mc = mc
        self.http = httpx.Client(base_url=mc.rm_url, timeout=10, headers={"Authorization": f"Bearer {mc.token}"})
        self.redis = redis.Redis.from_url(mc.admin_redis_url)
        self.restarts = 0

    def app(self, app_id: str) -> dict[str, Any]:
        report: dict[str, Any] = self.http.get(f"/ws/v1/cluster/apps/{app_id}").json()["app"]
        return report

    def nm(self, node_id: str) -> Daemon:
        port = node_id.rsplit(":", 1)[1]
        return next(d for d in reversed(self.mc.daemons) if d.name.startswith("nm-") and d.proc.poll() is None
                    and f"--port {port} " in " ".join(d.proc.args) + " ")  # type: ignore[arg-type]

    def restart(self, d: Daemon) -> Daemon:
        """The NM again with the command line and dirs of `d` (so the same node id)."""
        self.restarts += 1
        log = self.mc.work_dir / f"{d.name}-r{self.restarts}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(list(d.proc.args), stdout=out, stderr=subprocess.STDOUT,  # type: ignore[arg-type]
                                    stdin=subprocess.DEVNULL, start_new_session=True, cwd=self.mc.work_dir)
        new = Daemon(d.name, proc, log)
        self.mc.daemons.append(new)
        deadline = time.monotonic() + 30
        while "started, http://" not in new.tail(100_000):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"{d.name} did not restart: {new.tail()}")
            time.sleep(0.05)
        return new

    def containers(self, app_id: str) -> dict[str, str]:
        """Container id -> node id of the app's running containers, from the NMs."""
        out: dict[str, str] = {}
        for node in self.http.get("/ws/v1/cluster/nodes").json()["nodes"]["node"]:
            if node["state"] != "RUNNING":
                continue
            r = self.http.get(f"http://{node['nodeHTTPAddress']}/ws/v1/node/apps/{app_id}")
            if r.status_code != 200:
                continue
            for cid in (r.json().get("app") or {}).get("containerids") or []:
                out[cid] = node["id"]
        return out

    def app_processes(self, app_id: str) -> dict[str, list[int]]:
        """Container id -> pids of live processes of the app (by the CONTAINER_ID in their environment)."""
        suffix = app_id.removeprefix("application_")
        out: dict[str, list[int]] = {}
        for p in psutil.process_iter():
            try:
                cid = p.environ().get("CONTAINER_ID", "")
                if cid.startswith(f"container_{suffix}_") and p.status() != psutil.STATUS_ZOMBIE:
                    out.setdefault(cid, []).append(p.pid)
            except psutil.Error:
                continue
        return out

    def counts(self, app_id: str) -> Counter[str]:
        deadline = time.monotonic() + 30
        while self.redis.scard(keys.app_log_nodes(app_id)) and time.monotonic() < deadline:
            time.sleep(0.2)
        out: Counter[str] = Counter()
        for name, body in self.redis.hgetall(keys.app_logs(app_id)).items():
            if not text(name).endswith("taskmanager.out"):
                continue
            for line in text(body).splitlines():
                m = COUNT.search(line)
                if m:
                    out[m.group(1)] = max(out[m.group(1)], int(m.group(2)))
        return out

    def one(self, fault: str, words: Path, expected: Counter[str], rng: random.Random) -> Run:
        run = Run()
        t0 = time.monotonic()
        res = subprocess.run([sys.executable, "-m", "flink_on_yarn.cli.main", "run", "-t", "yarn-per-job", "-d", *JOB,
                              "-py", str(WORDCOUNT), "--input", str(words), "--batch"], capture_output=True, text=True,
                             timeout=120, cwd=ROOT, env={**os.environ, **self.mc.env()})
        m = re.search(r"application_\d+_\d+", res.stdout + res.stderr)
        if res.returncode != 0 or m is None:
            run.notes.append(f"submit failed: {(res.stdout + res.stderr)[-300:]}")
            return run
        app_id = m.group(0)
        am = app_id.replace("application_", "container_") + "_01_000001"
        deadline = time.monotonic() + 60
        tms: dict[str, str] = {}
        while time.monotonic() < deadline:
            tms = {c: n for c, n in self.containers(app_id).items() if not c.endswith("_000001")}
            procs = self.app_processes(app_id)
            if len(tms) >= 2 and all(c in procs for c in tms):
                break
            time.sleep(0.2)
        am_node = self.containers(app_id).get(am, "")
        victims = [n for n in sorted(set(tms.values())) if n != am_node]
        if not victims:
            run.notes.append(f"no TaskManager off the JobManager's node ({tms}, AM on {am_node})")
            return run
        node = victims[0]
        time.sleep(rng.uniform(0.0, 1.5))
        d = self.nm(node)
        before = self.app_processes(app_id)
        victim_cids = [c for c, n in tms.items() if n == node]
        kept = True
        if fault == "nm-sigkill":
            d.proc.kill()
            d.proc.wait(10)
            time.sleep(3)
            after = self.app_processes(app_id)
            run.no_duplicate = not any(c in after for c in victim_cids)
            if not run.no_duplicate:
                run.notes.append(f"containers of the killed NM still run: {[c for c in victim_cids if c in after]}")
        else:
            d.proc.terminate()
            d.proc.wait(15)
            self.restart(d)
            after = self.app_processes(app_id)
            if self.app(app_id)["state"] != "RUNNING":
                run.notes.append("the job ended before the NM was back")
            # Taken back, not launched again: processes of each of its containers outlived the restart.
            kept = all(set(before.get(c, [])) & set(after.get(c, [])) for c in victim_cids)
        final = self.wait_final(app_id)
        run.succeeded = final.get("finalStatus") == "SUCCEEDED"
        if not run.succeeded:
            run.notes.append(f"{app_id} ended {final.get('state')}/{final.get('finalStatus')}: "
                             f"{str(final.get('diagnostics'))[:200]}")
        got = self.counts(app_id)
        run.exact = got == expected
        if not run.exact:
            run.notes.append(f"counts differ on {sum(1 for w in expected if got.get(w) != expected[w])} words")
        time.sleep(1)
        left = self.app_processes(app_id)
        run.nothing_left = not left
        if left:
            run.notes.append(f"left running: {left}")
        if fault == "nm-restart":
            history = self.registrations(app_id)
            replaced = [c for c in history if c not in tms]
            run.no_duplicate = kept and not replaced and all(n == 1 for n in history.values())
            if not run.no_duplicate:
                run.notes.append(f"TaskManagers registered {history}, first {sorted(tms)}")
        else:
            self.restart(d)  # so the next run has 3 nodes again
        run.seconds = time.monotonic() - t0
        run.ok = run.succeeded and run.exact and run.nothing_left and run.no_duplicate
        return run

    def registrations(self, app_id: str) -> Counter[str]:
        """TaskManager id (its container) -> times it registered, from the JobManager's log."""
        out: Counter[str] = Counter()
        for name, body in self.redis.hgetall(keys.app_logs(app_id)).items():
            if text(name).endswith("jobmanager.log"):
                for m in re.finditer(r"TaskManager (container_\S+) registered from", text(body)):
                    out[m.group(1)] += 1
        return out

    def wait_final(self, app_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            report = self.app(app_id)
            if report["state"] in ("FINISHED", "FAILED", "KILLED") and report["finishedTime"] > 0:
                return report
            time.sleep(0.3)
        return self.app(app_id)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--faults", default="nm-sigkill,nm-restart")
    p.add_argument("--lines", type=int, default=400_000)
    p.add_argument("--seed", type=int, default=13)
    ns = p.parse_args()
    rng = random.Random(ns.seed)
    with tempfile.TemporaryDirectory(prefix="miniyarn-chaos-nm-") as tmp:
        words = Path(tmp) / "words.txt"
        expected = generate(words, ns.lines)
        print(f"text: {sum(expected.values()):,} words, {len(expected)} distinct; {ns.runs} runs per fault")
        for fault in ns.faults.split(","):
            defines = [*FAST, *(["yarn.nodemanager.recovery.enabled=true"] if fault == "nm-restart" else [])]
            with MiniCluster(nodemanagers=3, redis_url=f"redis://127.0.0.1:{_free()}/0", port=0, memory_mb=1024,
                             work_dir=Path(tmp) / fault, defines=defines) as mc:
                chaos = Chaos(mc)
                runs = []
                for i in range(ns.runs):
                    r = chaos.one(fault, words, expected, rng)
                    runs.append(r)
                    print(f"  {fault} run {i + 1}: {'ok' if r.ok else 'FAILED'} in {r.seconds:.1f} s"
                          + ("" if r.ok else f" ({'; '.join(r.notes)})"), flush=True)
                n = len(runs)
                print(f"{fault}: {sum(r.ok for r in runs)}/{n} ok; SUCCEEDED {sum(r.succeeded for r in runs)}/{n}, "
                      f"exact output {sum(r.exact for r in runs)}/{n}, nothing left running "
                      f"{sum(r.nothing_left for r in runs)}/{n}, no duplicate execution "
                      f"{sum(r.no_duplicate for r in runs)}/{n}; median run "
                      f"{sorted(r.seconds for r in runs)[n // 2]:.1f} s", flush=True)
    return 0


def _free() -> int:
    from miniyarn.sockets import free_port

    return free_port()


if __name__ == "__main__":
    sys.exit(main())
