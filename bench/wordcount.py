"""Word-count throughput: words/s per slot at p=1 and p=2 on a real JobManager + TaskManager, beside a bare
Python `Counter` loop measured in the same run.

    python bench/wordcount.py [--lines 400000] [--mode BATCH|STREAMING] [--windowed]

`--windowed`: the windowed word count instead (flat_map -> key_by -> 1 s tumbling processing-time window ->
reduce -> file sink), STREAMING; its throughput per slot is the window operator's cost per record.

Text: 10 words per line from a 1,000-word vocabulary. One TaskManager with 2 slots; every subtask runs in a
process of its own, so the two slots do not share an interpreter lock. The job time is the JobManager's
(`/jobs/<id>` duration: scheduling, task start-up, reading, shuffling, counting, writing).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flink_on_yarn.client.executor import ExecutionContext, set_context  # noqa: E402
from flink_on_yarn.client.local_executor import LocalExecutor  # noqa: E402
from flink_on_yarn.client.rest_client import RestClient  # noqa: E402
from flink_on_yarn.common import Encoder, Time  # noqa: E402
from flink_on_yarn.datastream import (  # noqa: E402
    RuntimeExecutionMode,
    StreamExecutionEnvironment,
    TumblingProcessingTimeWindows,
)
from flink_on_yarn.datastream.connectors.file_system import FileSink  # noqa: E402


def generate(path: Path, lines: int) -> int:
    rng = random.Random(42)
    vocab = [f"{rng.choice('abcdefghij')}word{i}" for i in range(1000)]
    with open(path, "w") as f:
        for _ in range(lines // 1000):
            f.write("\n".join(" ".join(rng.choices(vocab, k=10)) for _ in range(1000)) + "\n")
    return (lines // 1000) * 1000 * 10


def counter_loop(path: Path) -> float:
    start = time.perf_counter()
    counts: Counter[str] = Counter()
    with open(path) as f:
        for line in f:
            counts.update(line.split())
    return sum(counts.values()) / (time.perf_counter() - start)


def jm_address(addr: Path, timeout_s: float = 20) -> dict[str, str]:
    """The JobManager's `--address-file` once it has written it: its "rest" URL and "rpc" address."""
    deadline = time.monotonic() + timeout_s
    while not addr.exists():
        if time.monotonic() > deadline:
            raise RuntimeError("the JobManager did not start")
        time.sleep(0.05)
    return dict(json.loads(addr.read_text()))


def start_cluster(workdir: Path) -> tuple[list[subprocess.Popen[bytes]], str]:
    addr = workdir / "jm.json"
    # The cluster's secret in the bench's own directory: JM, TM and this client share it.
    secret = workdir / "cluster.secret"
    common = ["-D", "jobmanager.rpc.address=127.0.0.1", "-D", f"security.cluster.secret.file={secret}"]
    jm = subprocess.Popen([sys.executable, "-m", "flink_on_yarn.runtime.jobmanager", *common, "-D", "rest.port=0",
                           "-D", "jobmanager.rpc.port=0", "--address-file", str(addr)], cwd=ROOT,
                          stdout=subprocess.DEVNULL, stderr=open(workdir / "jm.log", "wb"), start_new_session=True)
    info = jm_address(addr)
    tm = subprocess.Popen([sys.executable, "-m", "flink_on_yarn.runtime.taskmanager", *common, "-D",
                           f"jobmanager.rpc.port={info['rpc'].rsplit(':', 1)[1]}", "-D",
                           "taskmanager.numberOfTaskSlots=2"], cwd=ROOT, stdout=subprocess.DEVNULL,
                          stderr=open(workdir / "tm.log", "wb"), start_new_session=True)
    rest = RestClient(info["rest"], token=secret.read_text().strip())
    while rest.get("/overview")["taskmanagers"] < 1:
        time.sleep(0.05)
    return [jm, tm], info["rest"]


def stop_cluster(procs: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM to each process group of `start_cluster`'s, SIGKILL to one not gone within 10 s."""
    for proc in procs:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


class TaskCpu(threading.Thread):
    """CPU seconds (user + system) of each task process, the TaskManager's children, while a job runs.
    Sampled every 50 ms, so a process's last 50 ms before it exits may be missed."""

    def __init__(self, tm_pid: int) -> None:
        super().__init__(daemon=True)
        self.tm = psutil.Process(tm_pid)
        self.seen: dict[int, float] = {}
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.05):
            for child in self.tm.children():
                try:
                    times = child.cpu_times()
                except psutil.NoSuchProcess:
                    continue
                self.seen[child.pid] = times.user + times.system

    def stop(self) -> list[float]:
        self.done.set()
        self.join()
        return sorted(self.seen.values(), reverse=True)


def run_job(rest: RestClient, text: Path, out: Path, parallelism: int, mode: str,
            tm_pid: int, windowed: bool = False) -> tuple[float, list[float]]:
    """The job's time and the CPU seconds of each of its task processes (busiest first)."""
    set_context(ExecutionContext(executor=LocalExecutor(), default_parallelism=parallelism))
    env = StreamExecutionEnvironment.get_execution_environment()
    if mode == "BATCH":
        env.set_runtime_mode(RuntimeExecutionMode.BATCH)
    pairs = env.read_text_file(str(text)).flat_map(lambda line: [(w, 1) for w in line.split()]) \
        .key_by(lambda pair: pair[0])
    counts = pairs.window(TumblingProcessingTimeWindows.of(Time.seconds(1))) \
        .reduce(lambda a, b: (a[0], a[1] + b[1])) if windowed else pairs.sum(1)
    counts.sink_to(FileSink.for_row_format(str(out), Encoder.simple_string_encoder()).build())
    graph = env.get_job_graph(f"bench p={parallelism}")
    set_context(None)
    cpu = TaskCpu(tm_pid)
    cpu.start()
    job_id = rest.submit(graph)
    info = rest.wait(job_id, poll_s=0.05)
    task_cpu = cpu.stop()
    if info["state"] != "FINISHED":
        raise RuntimeError(f"bench job ended {info['state']}: {rest.exceptions(job_id)}")
    return float(info["duration"]) / 1000, task_cpu


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lines", type=int, default=400_000)
    p.add_argument("--mode", choices=["BATCH", "STREAMING"], default="BATCH")
    p.add_argument("--repeat", type=int, default=2, help="runs per parallelism; the best is reported")
    p.add_argument("--windowed", action="store_true", help="a 1 s tumbling processing-time window per word")
    ns = p.parse_args()
    if ns.windowed:
        ns.mode = "STREAMING"
    with tempfile.TemporaryDirectory(prefix="miniflink-bench-") as tmp:
        work = Path(tmp)
        text = work / "text.txt"
        words = generate(text, ns.lines)
        print(f"text: {words:,} words ({ns.lines:,} lines of 10 words, 1,000-word vocabulary), {os.cpu_count()} "
              f"cores, mode {ns.mode}{', windowed' if ns.windowed else ''}")
        base = max(counter_loop(text) for _ in range(ns.repeat))
        print(f"bare Python Counter loop (1 core):  {base / 1e6:6.2f} M words/s")
        procs, url = start_cluster(work)
        try:
            rest = RestClient(url, token=(work / "cluster.secret").read_text().strip())
            per_slot: dict[int, float] = {}
            for par in (1, 2):
                best, task_cpu = min(run_job(rest, text, work / f"out-{par}-{i}", par, ns.mode, procs[1].pid,
                                             ns.windowed) for i in range(ns.repeat))
                per_slot[par] = words / best / par
                print(f"miniflink p={par}: job {best:6.2f} s  {words / best / 1e6:6.2f} M words/s total  "
                      f"{per_slot[par] / 1e6:6.2f} M words/s per slot")
                # Where the cores went: a process near the job time kept a core busy the whole job.
                print("  task processes' CPU: " + ", ".join(f"{c:.1f} s ({c / best:.0%})" for c in task_cpu))
            print(f"speed-up p=1 → p=2: {2 * per_slot[2] / per_slot[1]:.2f}x; per slot vs Counter loop: "
                  f"{per_slot[1] / base:.2f}x")
        finally:
            stop_cluster(procs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
