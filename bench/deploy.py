"""Per-job deployment latency: `miniflink run -t yarn-per-job -p 4` with 2 slots per TaskManager, from the
client's first request to the job RUNNING with both TaskManagers registered. Prints each phase, then the
median and max of the runs.

    python bench/deploy.py [--runs 10] [--rm-address URL]   # without --rm-address: its own MiniCluster

Phases (time since the client started deploying):
  submitted   new-application, the program's graph and flink-conf.yaml staged, application submitted
  am          the AM container allocated (as the client sees it in the attempt report)
  jobmanager  the JobManager's REST answers (the AM registered)
  taskmanagers  slots registered >= slots required (2 TaskManagers)
  running     the job RUNNING
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flink_on_yarn.client.executor import ExecutionContext  # noqa: E402
from flink_on_yarn.client.program import run_program  # noqa: E402
from flink_on_yarn.yarn.descriptor import YarnClusterDescriptor  # noqa: E402
from flink_on_yarn.yarn.executors import YarnPerJobExecutor  # noqa: E402
from miniyarn.minicluster import MiniCluster  # noqa: E402

PHASES = ("submitted", "am", "jobmanager", "taskmanagers", "running")
MARKS = {"Submitted application": "submitted", "AM container": "am",
         "YARN application has been deployed successfully.": "jobmanager"}
CONF = {"taskmanager.numberOfTaskSlots": "2", "jobmanager.memory.process.size": "512m",
        "taskmanager.memory.process.size": "512m"}


def line_server() -> int:
    """`nc -lk`: a few lines for every connection, then the connection stays open (the job keeps running)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()

    def serve() -> None:
        conns = []
        while True:
            conn, _ = sock.accept()
            conns.append(conn)
            conn.sendall(b"to be or not to be\nthat is the question\n")

    threading.Thread(target=serve, daemon=True).start()
    return int(sock.getsockname()[1])


def one_run(rm: str, port: int) -> dict[str, float]:
    t0 = time.monotonic()
    marks: dict[str, float] = {}

    def out(line: str) -> None:
        for prefix, phase in MARKS.items():
            if line.startswith(prefix) and phase not in marks:
                marks[phase] = time.monotonic() - t0

    descriptor = YarnClusterDescriptor(rm, out=out)
    executor = YarnPerJobExecutor(descriptor, dict(CONF))
    ctx = ExecutionContext(executor=executor, default_parallelism=4, detached=True, config=dict(CONF))
    run_program(str(ROOT / "examples/wordcount.py"), ["--hostname", "127.0.0.1", "--port", str(port)], ctx)
    marks["taskmanagers"] = time.monotonic() - t0
    [cluster] = executor.clusters
    [job_id] = ctx.submitted
    while httpx.get(f"{cluster.rest_url}/jobs/{job_id}", timeout=5).json()["state"] != "RUNNING":
        time.sleep(0.005)
    marks["running"] = time.monotonic() - t0
    httpx.patch(f"{cluster.rest_url}/jobs/{job_id}", params={"mode": "cancel"}, timeout=5)
    descriptor.wait_final(cluster.app_id)
    # Let the NMs reap the containers, so each run starts on an empty cluster.
    while descriptor.yarn.get_application(cluster.app_id)["runningContainers"]:
        time.sleep(0.05)
    return marks


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--rm-address", default=None)
    p.add_argument("--nodemanagers", type=int, default=2)
    ns = p.parse_args()
    port = line_server()
    cluster = None
    if ns.rm_address is None:
        cluster = MiniCluster(nodemanagers=ns.nodemanagers, port=0, memory_mb=4096, vcores=4,
                              defines=["yarn.scheduler.minimum-allocation-mb=128"]).start()
        print(f"MiniCluster (redis, RM, {ns.nodemanagers} NMs) up in {cluster.startup_s:.2f} s at {cluster.rm_url}")
    rm = ns.rm_address or (cluster.rm_url if cluster else "")
    try:
        runs = []
        print("run  " + "  ".join(f"{ph:>12}" for ph in PHASES))
        for i in range(ns.runs):
            marks = one_run(rm, port)
            runs.append(marks)
            print(f"{i + 1:>3}  " + "  ".join(f"{marks.get(ph, float('nan')):>11.3f}s" for ph in PHASES), flush=True)
        total = [r["running"] for r in runs]
        print(f"\nsubmit -> job RUNNING with all TaskManagers registered (p=4, 2 slots/TM, process executor): "
              f"median {statistics.median(total):.3f} s, max {max(total):.3f} s over {len(total)} runs")
        for ph in PHASES:
            print(f"  {ph:<13} median {statistics.median(r[ph] for r in runs):.3f} s")
    finally:
        if cluster is not None:
            cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
