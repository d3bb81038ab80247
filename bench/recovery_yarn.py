"""Recovery time from a JobManager SIGKILL on YARN (issue 10 goal: <= 5 s), per-job mode.

    python bench/recovery_yarn.py [--runs 3] [--fork-server]

A MiniCluster (its own redis-server, an RM, 2 NMs of 2048 MB on loopback) runs bench/recovery.py's
checkpointed (200 ms) socket word count per-job at p=2 (one slot per TaskManager), fed 2,000 lines/s, with
`yarn.application-attempts` above the runs. Each run waits for a checkpoint, SIGKILLs the AM's process (the
JobManager) and times until the next attempt's JobManager, reached through the RM's proxy as a client does,
reports the job RUNNING with all 5 subtasks RUNNING and restored from a checkpoint (it finds the latest
through its pointer in Redis, as Flink's does in ZooKeeper). In between: the NM sees the container exit and
tells the RM (its heartbeat), the RM starts attempt 2 in a new container, the JobManager starts, asks for
TaskManager containers (a new attempt's, as Flink's: the old attempt's end with their JobManager), they start
and register, and the job is deployed and restored.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import recovery  # noqa: E402  # bench/recovery.py: its program and feeder

from miniyarn.minicluster import MiniCluster  # noqa: E402
from miniyarn.sockets import free_port  # noqa: E402

FAST = ["yarn.nm.liveness-monitor.expiry-interval-ms=4000", "yarn.scheduler.minimum-allocation-mb=128",
        "yarn.resourcemanager.nodemanagers.heartbeat-interval-ms=200", "yarn.resourcemanager.am.max-attempts=20"]


def submit(mc: MiniCluster, program: Path, port: int, ckpt: Path, attempts: int, *extra: str) -> tuple[str, str]:
    res = subprocess.run(
        [sys.executable, "-m", "flink_on_yarn.cli.main", "run", "-t", "yarn-per-job", "-d", "-p", "2",
         "-D", "taskmanager.numberOfTaskSlots=1", "-D", "jobmanager.memory.process.size=256m",
         "-D", "taskmanager.memory.process.size=256m", "-D", "heartbeat.interval=500", "-D", "heartbeat.timeout=4000",
         "-D", f"state.checkpoints.dir={ckpt}", "-D", f"yarn.application-attempts={attempts}",
         *extra, "-py", str(program), str(port)], capture_output=True, text=True, timeout=120, cwd=ROOT,
        env={**os.environ, **mc.env()})
    m = re.search(r"application_\d+_\d+", res.stdout + res.stderr)
    if res.returncode != 0 or m is None or "JobID " not in res.stdout:
        raise RuntimeError(f"submission failed: {(res.stdout + res.stderr)[-600:]}")
    return m.group(0), res.stdout.split("JobID ")[1].split()[0]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--timeline", action="store_true", help="print the new JobManager's log of each restart")
    p.add_argument("--fork-server", action="store_true",
                   help="TaskManagers fork their task processes (taskmanager.task-fork-server; off in YARN by default)")
    ns = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="miniflink-recovery-yarn-") as tmp:
        work = Path(tmp)
        program = work / "job.py"
        program.write_text(recovery.PROGRAM)
        feeder = recovery.Feeder(2000)
        try:
            with MiniCluster(nodemanagers=2, redis_url=f"redis://127.0.0.1:{free_port()}/0", port=0, memory_mb=2048,
                             work_dir=work / "mc", defines=FAST) as mc:
                http = httpx.Client(timeout=5, headers={"Authorization": f"Bearer {mc.token}"})
                extra = ["-D", "taskmanager.task-fork-server=true"] if ns.fork_server else []
                app_id, job_id = submit(mc, program, feeder.port, work / "checkpoints", ns.runs + 1, *extra)
                url = f"{mc.rm_url}/proxy/{app_id}"

                def get(path: str) -> Any:
                    try:
                        r = http.get(url + path)
                    except httpx.HTTPError:
                        return None
                    return r.json() if r.status_code == 200 else None

                def completed() -> int:
                    c = get(f"/jobs/{job_id}/checkpoints")
                    return int(c["counts"]["completed"]) if c else -1

                recovery.wait(lambda: completed() > 0, 120, "the first checkpoint", 0.1)
                times: list[float] = []
                for run in range(ns.runs):
                    done = completed()
                    recovery.wait(lambda d=done: completed() > d, 60, "a new checkpoint", 0.05)
                    [am] = [q for q in psutil.process_iter(["cmdline", "cwd"])
                            if "flink_on_yarn.yarn.appmaster" in (q.info["cmdline"] or [])
                            and app_id in (q.info["cwd"] or "")]
                    killed_at = time.time()
                    start = time.monotonic()
                    am.kill()

                    def recovered() -> bool:
                        # The killed JobManager answers nothing more: what answers is the next attempt's.
                        j = get(f"/jobs/{job_id}")
                        c = get(f"/jobs/{job_id}/checkpoints")
                        return bool(j and c and j["state"] == "RUNNING" and j["status-counts"]["RUNNING"] == 5
                                    and c["latest"]["restored"] is not None and c["counts"]["restored"] >= 1)

                    recovery.wait(recovered, 120, "attempt's JobManager RUNNING the restored job", 0.05)
                    took = time.monotonic() - start
                    restored = get(f"/jobs/{job_id}/checkpoints")["latest"]["restored"]
                    times.append(took)
                    print(f"run {run + 1}: JobManager (AM) SIGKILLed -> attempt {run + 2}'s JobManager RUNNING the "
                          f"job, all 5 subtasks RUNNING, restored from checkpoint {restored['id']}, in {took:.3f} s "
                          f"(load {os.getloadavg()[0]:.1f})", flush=True)
                    if ns.timeline:
                        logs = sorted((work / "mc").rglob("jobmanager.log"), key=lambda f: f.stat().st_mtime)
                        recovery.print_timeline(logs[-1], killed_at, (*recovery.TIMELINE_KEYS, "registered from"),
                                                first=True)
                print(f"JobManager SIGKILL recovery on YARN: median {statistics.median(times):.3f} s, "
                      f"max {max(times):.3f} s over {len(times)} runs")
                subprocess.run([sys.executable, "-m", "flink_on_yarn.cli.main", "cancel", "-yid", app_id, job_id],
                               capture_output=True, timeout=60, cwd=ROOT, env={**os.environ, **mc.env()})
        finally:
            feeder.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
