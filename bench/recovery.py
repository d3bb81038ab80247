"""Recovery time and checkpoint overhead on the process executor (a standalone JobManager and TaskManagers,
every subtask a process of its own).

    python bench/recovery.py [--runs 5] [--delay-ms 1000]     # TaskManager SIGKILL -> job RUNNING, restored
    python bench/recovery.py --overhead [--lines 200000]      # throughput, checkpoints every 1 s vs none
    python bench/recovery.py --keys 1000000                   # checkpoint duration and size, 1 M keys

Recovery: a checkpointed (200 ms) socket word count at p=2 (socket -> flat_map -> key_by -> sum -> print) runs on
three TaskManagers of 2 slots, fed 2,000 lines/s. Each run waits for a checkpoint, SIGKILLs (the process group
of) a TaskManager running the job's subtasks, and measures the time until every subtask of the restarted job
is RUNNING again (a task reports RUNNING only after it restored its state from the checkpoint), then starts a
replacement TaskManager. The restart strategy is fixed-delay with `--delay-ms` between attempts (Flink's
default with checkpointing: 1 s); the TaskManager's loss is seen when its RPC connection drops.

Overhead: bench/wordcount.py's STREAMING word count (file -> flat_map -> key_by -> sum -> file sink, one
TaskManager with 2 slots, p=1) with `execution.checkpointing.interval` 1 s and without; best of `--repeat`.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import wordcount as wc  # noqa: E402  # bench/wordcount.py: its cluster, text and job

from flink_on_yarn.client.rest_client import RestClient  # noqa: E402
from flink_on_yarn.security import secret as cluster_secret  # noqa: E402

PROGRAM = '''
import sys
from flink_on_yarn.datastream import StreamExecutionEnvironment
env = StreamExecutionEnvironment.get_execution_environment()
env.enable_checkpointing(200)
(env.socket_text_stream("127.0.0.1", int(sys.argv[1])).flat_map(lambda l: [(w, 1) for w in l.split()])
    .key_by(lambda p: p[0]).sum(1).print())
env.execute("recovery bench")
'''


class Feeder:
    """A TCP server writing `rate` lines/s of 10 words to whoever connects (the job's socket source)."""

    def __init__(self, rate: int) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        self.rate = rate
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._feed, args=(conn,), daemon=True).start()

    def _feed(self, conn: socket.socket) -> None:
        line = " ".join(f"w{i}" for i in range(10)) + "\n"
        chunk = (line * (self.rate // 20)).encode()
        try:
            while not self.stop.wait(0.05):
                conn.sendall(chunk)
        except OSError:
            pass

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


class Cluster:
    def __init__(self, work: Path, delay_ms: int) -> None:
        self.work = work
        self.secret = work / "cluster.secret"
        cluster_secret.ensure_file(self.secret)
        self.common = ["-D", "jobmanager.rpc.address=127.0.0.1", "-D", f"security.cluster.secret.file={self.secret}",
                       "-D", "heartbeat.interval=500", "-D", "heartbeat.timeout=3000"]
        addr = work / "jm.json"
        self.procs: list[subprocess.Popen[bytes]] = []
        self.procs.append(self._start("jobmanager", [
            "-D", "rest.port=0", "-D", "jobmanager.rpc.port=0", "-D", f"state.checkpoints.dir={work / 'ckpt'}",
            "-D", "restart-strategy.type=fixed-delay", "-D", "restart-strategy.fixed-delay.attempts=1000",
            "-D", f"restart-strategy.fixed-delay.delay={delay_ms} ms", "--address-file", str(addr)], "jm"))
        info = wc.jm_address(addr)
        self.rest_url = info["rest"]
        self.rpc_port = info["rpc"].rsplit(":", 1)[1]
        self.rest = RestClient(self.rest_url, token=self.secret.read_text().strip())
        self.tms: dict[str, subprocess.Popen[bytes]] = {}
        self.next_tm = 0

    def _start(self, role: str, args: list[str], log: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen([sys.executable, "-m", f"flink_on_yarn.runtime.{role}", *self.common, *args],
                                cwd=self.work, stdout=subprocess.DEVNULL, stderr=open(self.work / f"{log}.log", "ab"),
                                start_new_session=True)
        self.procs.append(proc)
        return proc

    def add_tm(self) -> None:
        tm_id = f"tm-{self.next_tm}"
        self.next_tm += 1
        self.tms[tm_id] = self._start("taskmanager", ["-D", f"jobmanager.rpc.port={self.rpc_port}", "-D",
                                                      "taskmanager.numberOfTaskSlots=2", "-D",
                                                      f"taskmanager.resource-id={tm_id}"], tm_id)

    def get(self, path: str) -> Any:
        return self.rest.get(path)

    def close(self) -> None:
        wc.stop_cluster(self.procs)


def wait(pred: Any, timeout: float, what: str, poll: float = 0.01) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(poll)


TIMELINE_KEYS = ("no longer reachable", "switched from", "Restoring job")


def print_timeline(log_file: Path, since: float, keys: tuple[str, ...] = TIMELINE_KEYS, first: bool = False) -> None:
    """The JobManager's log lines about the restart, each with its time after the kill (the log's own
    timestamps: what the seconds of a recovery went to); `first`: its first line too (the process started)."""
    for n, line in enumerate(log_file.read_text(errors="replace").splitlines()):
        if first and n == 0:
            keys = (line[24:], *keys)
        try:
            at = datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()
        except ValueError:
            continue
        if at >= since - 0.001 and any(k in line for k in keys):
            text = re.sub(r" \([0-9a-f]{32}_[0-9a-f_]+\)", "", line[24:].split(" - ", 1)[-1])
            print(f"  +{at - since:6.3f} s  {text[:120]}")


def recovery(ns: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="miniflink-recovery-", dir=ns.workdir) as tmp:
        work = Path(tmp)
        feeder = Feeder(2000)
        cluster = Cluster(work, ns.delay_ms)
        try:
            for _ in range(3):
                cluster.add_tm()
            wait(lambda: cluster.get("/overview")["taskmanagers"] == 3, 30, "3 TaskManagers")
            program = work / "job.py"
            program.write_text(PROGRAM)
            conf = work / "client-conf"
            conf.mkdir()
            (conf / "flink-conf.yaml").write_text(f"{cluster_secret.FILE_KEY}: {cluster.secret}\n")
            res = subprocess.run([str(Path(sys.executable).parent / "miniflink"), "run", "-m", cluster.rest_url,
                                  "-p", "2", "-d", "-py", str(program), str(feeder.port)], capture_output=True,
                                 text=True, env=dict(os.environ, FLINK_CONF_DIR=str(conf)), timeout=60)
            if res.returncode != 0:
                raise RuntimeError(res.stderr)
            job_id = res.stdout.split("JobID ")[1].split()[0]
            times: list[float] = []
            for run in range(ns.runs):
                job = cluster.get(f"/jobs/{job_id}")
                subtasks = sum(v["parallelism"] for v in job["vertices"])
                restarts = job["restarts"]
                done = cluster.get(f"/jobs/{job_id}/checkpoints")["counts"]["completed"]
                wait(lambda d=done: cluster.get(f"/jobs/{job_id}/checkpoints")["counts"]["completed"] > d, 30,
                     "a new checkpoint", 0.05)
                victim = next(t["id"] for t in cluster.get("/taskmanagers")["taskmanagers"]
                              if t["freeSlots"] < t["slotsNumber"])
                killed_at = time.time()
                start = time.monotonic()
                os.killpg(cluster.tms[victim].pid, signal.SIGKILL)

                def recovered(r: int = restarts, n: int = subtasks) -> bool:
                    j = cluster.get(f"/jobs/{job_id}")
                    return bool(j["restarts"] > r and j["state"] == "RUNNING" and j["status-counts"]["RUNNING"] == n)

                wait(recovered, 60, "the job RUNNING again")
                took = time.monotonic() - start
                restored = cluster.get(f"/jobs/{job_id}/checkpoints")["latest"]["restored"]
                times.append(took)
                print(f"run {run + 1}: TaskManager {victim} SIGKILLed -> all {subtasks} subtasks RUNNING, restored "
                      f"from checkpoint {restored['id']}, in {took:.3f} s (load {os.getloadavg()[0]:.1f})", flush=True)
                if ns.timeline:
                    print_timeline(work / "jm.log", killed_at)
                cluster.tms.pop(victim)
                cluster.add_tm()
                wait(lambda: cluster.get("/overview")["taskmanagers"] == 3, 30, "the replacement TaskManager")
            print(f"recovery (restart delay {ns.delay_ms} ms): median {statistics.median(times):.3f} s, "
                  f"max {max(times):.3f} s over {len(times)} runs")
        finally:
            cluster.close()
            feeder.close()


KEYED_PROGRAM = '''
import sys
from flink_on_yarn.datastream import StreamExecutionEnvironment
env = StreamExecutionEnvironment.get_execution_environment()
env.enable_checkpointing(int(sys.argv[2]))
(env.socket_text_stream("127.0.0.1", int(sys.argv[1])).flat_map(lambda l: [(w, 1) for w in l.split()])
    .key_by(lambda p: p[0]).sum(1).filter(lambda p: False).print())
env.execute("keyed state bench")
'''


class KeysFeeder:
    """A TCP server that writes `keys` distinct words once (100 a line) to whoever connects, then idles."""

    def __init__(self, keys: int) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        words = [f"key{i}" for i in range(keys)]
        self.data = "".join(" ".join(words[i:i + 100]) + "\n" for i in range(0, keys, 100)).encode()
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            try:
                conn.sendall(self.data)
            except OSError:
                pass

    def close(self) -> None:
        self.sock.close()
        for c in self.conns:
            c.close()


def keyed_state(ns: argparse.Namespace) -> None:
    """Checkpoint duration and size with `--keys` distinct keys in a keyed count's state."""
    with tempfile.TemporaryDirectory(prefix="miniflink-keyed-", dir=ns.workdir) as tmp:
        work = Path(tmp)
        feeder = KeysFeeder(ns.keys)
        cluster = Cluster(work, 1000)
        try:
            cluster.add_tm()
            wait(lambda: cluster.get("/overview")["taskmanagers"] == 1, 30, "the TaskManager")
            program = work / "job.py"
            program.write_text(KEYED_PROGRAM)
            conf = work / "client-conf"
            conf.mkdir()
            (conf / "flink-conf.yaml").write_text(f"{cluster_secret.FILE_KEY}: {cluster.secret}\n")
            res = subprocess.run([str(Path(sys.executable).parent / "miniflink"), "run", "-m", cluster.rest_url,
                                  "-p", str(ns.parallelism), "-d", "-py", str(program), str(feeder.port),
                                  str(ns.interval_ms)], capture_output=True, text=True,
                                 env=dict(os.environ, FLINK_CONF_DIR=str(conf)), timeout=60)
            if res.returncode != 0:
                raise RuntimeError(res.stderr)
            job_id = res.stdout.split("JobID ")[1].split()[0]
            # Every key is in the state once two completed checkpoints in a row have the same size.
            sizes: list[int] = []
            seen: set[int] = set()
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                latest = cluster.get(f"/jobs/{job_id}/checkpoints")["latest"]["completed"]
                if latest is not None and latest["id"] not in seen:
                    seen.add(latest["id"])
                    sizes.append(int(latest["state_size"]))
                    if len(sizes) >= 2 and sizes[-1] == sizes[-2]:
                        break
                time.sleep(0.1)
            else:
                raise RuntimeError("the state did not settle")
            settled = sizes[-1]
            durations: list[int] = []
            while len(durations) < ns.checkpoints:
                latest = cluster.get(f"/jobs/{job_id}/checkpoints")["latest"]["completed"]
                if latest["id"] not in seen:
                    seen.add(latest["id"])
                    durations.append(int(latest["end_to_end_duration"]))
                    print(f"checkpoint {latest['id']}: {latest['end_to_end_duration']} ms, "
                          f"{latest['state_size'] / 1e6:.1f} MB", flush=True)
                time.sleep(0.1)
            print(f"{ns.keys:,} keys at p={ns.parallelism}: checkpoint median {statistics.median(durations):.0f} ms, "
                  f"max {max(durations)} ms over {len(durations)}; state {settled / 1e6:.1f} MB "
                  f"(load {os.getloadavg()[0]:.1f})")
        finally:
            cluster.close()
            feeder.close()


def overhead(ns: argparse.Namespace) -> None:
    import psutil

    with tempfile.TemporaryDirectory(prefix="miniflink-ckpt-overhead-") as tmp:
        work = Path(tmp)
        text = work / "text.txt"
        words = wc.generate(text, ns.lines)
        procs, url = wc.start_cluster(work)
        try:
            rest = RestClient(url, token=(work / "cluster.secret").read_text().strip())
            tm = psutil.Process(procs[1].pid)
            wait(lambda: any("task_forkserver" in " ".join(c.cmdline()) for c in tm.children()), 30, "the fork server")
            [forkserver] = [c for c in tm.children() if "task_forkserver" in " ".join(c.cmdline())]

            def task_cpu() -> float:
                # The CPU of the task processes the fork server forked and reaped (a job's, once it ended).
                t = forkserver.cpu_times()
                return float(t.children_user + t.children_system)

            runs: dict[str, list[tuple[float, float]]] = {"none": [], "every 1 s": []}
            # Alternated, so that both see the same minutes of a shared machine.
            for i in range(ns.repeat):
                for label, interval in (("none", None), ("every 1 s", 1000)):
                    cpu0 = task_cpu()
                    took = _timed_job(wc, rest, text, work / f"out-{label}-{i}", procs[1].pid, interval)
                    # Until the server has reaped them: a child's CPU reaches its parent's figures only then.
                    wait(lambda: not forkserver.children(), 10, "the job's task processes to be reaped")
                    cpu = task_cpu() - cpu0
                    runs[label].append((took, cpu))
                    print(f"checkpoints {label:>9}: job {took:6.2f} s  {words / took / 1e6:6.2f} M words/s (p=1), "
                          f"tasks' CPU {cpu:5.2f} s (load {os.getloadavg()[0]:.1f})", flush=True)
            best = {k: min(t for t, _ in v) for k, v in runs.items()}
            cpu_best = {k: min(c for _, c in v) for k, v in runs.items()}
            print(f"throughput kept with checkpoints every 1 s (best of {ns.repeat}): "
                  f"{best['none'] / best['every 1 s']:.1%} by wall time, "
                  f"{cpu_best['none'] / cpu_best['every 1 s']:.1%} by the tasks' CPU time")
        finally:
            wc.stop_cluster(procs)


def _timed_job(wc: Any, rest: RestClient, text: Path, out: Path, tm_pid: int, interval: int | None) -> float:
    from flink_on_yarn.client.executor import ExecutionContext, set_context
    from flink_on_yarn.client.local_executor import LocalExecutor
    from flink_on_yarn.common import Encoder
    from flink_on_yarn.datastream import StreamExecutionEnvironment
    from flink_on_yarn.datastream.connectors.file_system import FileSink

    set_context(ExecutionContext(executor=LocalExecutor(), default_parallelism=1))
    env = StreamExecutionEnvironment.get_execution_environment()
    if interval is not None:
        env.enable_checkpointing(interval)
    env.read_text_file(str(text)).flat_map(lambda line: [(w, 1) for w in line.split()]) \
        .key_by(lambda pair: pair[0]).sum(1) \
        .sink_to(FileSink.for_row_format(str(out), Encoder.simple_string_encoder()).build())
    graph = env.get_job_graph("checkpoint overhead")
    graph.config["state.checkpoints.dir"] = str(out.parent / "checkpoints")  # not the JobManager's cwd (the repo)
    set_context(None)
    job_id = rest.submit(graph)
    info = rest.wait(job_id, poll_s=0.05)
    if info["state"] != "FINISHED":
        raise RuntimeError(f"bench job ended {info['state']}: {rest.exceptions(job_id)}")
    if interval is not None:
        counts = rest.get(f"/jobs/{job_id}/checkpoints")["counts"]
        print(f"  ({counts['completed']} checkpoints completed, {counts['failed']} failed)", flush=True)
    return float(info["duration"]) / 1000


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--delay-ms", type=int, default=1000, help="restart-strategy.fixed-delay.delay")
    p.add_argument("--overhead", action="store_true", help="throughput with checkpoints every 1 s vs none")
    p.add_argument("--lines", type=int, default=200_000)
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--keys", type=int, default=0, help="checkpoint duration and size with this many keys")
    p.add_argument("--parallelism", type=int, default=1, help="with --keys")
    p.add_argument("--interval-ms", type=int, default=2000, help="with --keys: the checkpoint interval")
    p.add_argument("--checkpoints", type=int, default=3, help="with --keys: checkpoints measured")
    p.add_argument("--timeline", action="store_true", help="print the JobManager's log of each restart")
    p.add_argument("--workdir", default=None, help="where the temporary directory goes (its logs)")
    ns = p.parse_args()
    if ns.keys:
        keyed_state(ns)
    elif ns.overhead:
        overhead(ns)
    else:
        recovery(ns)
    return 0


if __name__ == "__main__":
    sys.exit(main())
