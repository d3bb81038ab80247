"""Per-job deployment latency: `miniflink run -t yarn-per-job -p 4` with 2 slots per TaskManager, from the
client's first request to the job RUNNING with both TaskManagers registered. Prints each phase, then the
median and max of the runs.

    python bench/deploy.py [--runs 10] [--rm-address URL]   # without --rm-address: its own MiniCluster
    python bench/deploy.py --executor docker                # JobManager and TaskManagers in Docker containers
    python bench/deploy.py --executor docker --host-network # the same on compose.host.yaml

--executor docker brings up compose.yaml (Redis, the RM, --nodemanagers NMs of 4096 MB / 4 vcores like the
MiniCluster's, each with the docker executor) under a project of its own, on its own bridge network (or with
--host-network the host's), runs the same measurement with the client on the host against its RM (with a
token signed in the RM's container), and takes it down (`down -v`). Needs a Docker engine, docker-compose or
the compose plugin, and the image (bash images/build.sh). YARN's minimum allocation there is 256 MB (compose's
default), so the 512 MB JobManager and TaskManagers get 512 MB containers. The socket source listens where the
TaskManagers' containers reach this host: the bridge network's gateway (loopback on the host network).

Phases (time since the client started deploying):
  submitted   new-application, the program's graph and flink-conf.yaml staged, application submitted
  am          the AM container allocated (as the client sees it in the attempt report)
  jobmanager  the JobManager's REST answers (the AM registered)
  taskmanagers  slots registered >= slots required (2 TaskManagers)
  running     the job RUNNING
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Shared with the compose benchmark (this folder is on sys.path when a script here runs).
from compose_up import compose_cmd, free_port, port_free  # noqa: E402

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


def line_server(host: str = "127.0.0.1") -> int:
    """`nc -lk`: a few lines for every connection, then the connection stays open (the job keeps running)."""
    sock = socket.socket()
    sock.bind((host, 0))
    sock.listen()

    def serve() -> None:
        conns = []
        while True:
            conn, _ = sock.accept()
            conns.append(conn)
            conn.sendall(b"to be or not to be\nthat is the question\n")

    threading.Thread(target=serve, daemon=True).start()
    return int(sock.getsockname()[1])


def one_run(rm: str, port: int, docker: bool = False, source_host: str = "127.0.0.1") -> dict[str, float]:
    t0 = time.monotonic()
    marks: dict[str, float] = {}

    def out(line: str) -> None:
        for prefix, phase in MARKS.items():
            if line.startswith(prefix) and phase not in marks:
                marks[phase] = time.monotonic() - t0

    descriptor = YarnClusterDescriptor(rm, out=out)
    executor = YarnPerJobExecutor(descriptor, dict(CONF))
    ctx = ExecutionContext(executor=executor, default_parallelism=4, detached=True, config=dict(CONF))
    run_program(str(ROOT / "examples/wordcount.py"), ["--hostname", source_host, "--port", str(port)], ctx)
    marks["taskmanagers"] = time.monotonic() - t0
    [cluster] = executor.clusters
    [job_id] = ctx.submitted
    while descriptor.http.get(f"{cluster.rest_url}/jobs/{job_id}").json()["state"] != "RUNNING":
        time.sleep(0.005)
    marks["running"] = time.monotonic() - t0
    descriptor.http.patch(f"{cluster.rest_url}/jobs/{job_id}", params={"mode": "cancel"})
    descriptor.wait_final(cluster.app_id)
    # Let the NMs reap the containers, so each run starts on an empty cluster.
    while descriptor.yarn.get_application(cluster.app_id)["runningContainers"]:
        time.sleep(0.05)
    while docker and docker_containers_of(cluster.app_id):
        time.sleep(0.05)
    return marks


# ---- --executor docker: the compose cluster ------------------------------------------------------

def docker_containers_of(app_id: str) -> bool:
    """Whether a Docker container of the application is still there (the NMs remove them once ended)."""
    out = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=miniyarn.application-id={app_id}"],
                         capture_output=True, text=True, check=True).stdout
    return bool(out.strip())


@contextlib.contextmanager
def compose_cluster(nodemanagers: int, host_network: bool = False) -> Iterator[tuple[str, str]]:
    """compose.yaml up with `nodemanagers` docker-executor NMs, until they are RUNNING at the RM; yields
    the RM's URL and the address containers reach this host at; `down -v` after, whatever happened. Sets
    $MINIYARN_TOKEN (the client's credential) to a token for $USER signed in the RM's container."""
    image = os.environ.get("MINIYARN_IMAGE", "miniyarn:latest")
    if subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode != 0:
        sys.exit(f"image {image} is not built (or no Docker engine answers): run `bash images/build.sh` first")
    command = compose_cmd()
    host_dir = tempfile.mkdtemp(prefix="miniyarn-bench-")
    rm_port = 8088 if port_free(8088) else free_port()
    project = f"miniyarn-bench-{os.getpid()}"
    env = {**os.environ, "MINIYARN_IMAGE": image, "MINIYARN_REDIS_PORT": str(free_port()),
           "MINIYARN_RM_PORT": str(rm_port), "MINIYARN_HOST_DIR": host_dir, "MINIYARN_NETWORK": project,
           "MINIYARN_NM_MEMORY_MB": "4096", "MINIYARN_NM_VCORES": "4"}
    files = ["compose.host.yaml" if host_network else "compose.yaml"]
    base = [*command, *(a for f in files for a in ("-f", str(ROOT / f))), "-p", project]
    rm = f"http://127.0.0.1:{rm_port}"
    t0 = time.monotonic()
    try:
        subprocess.run([*base, "up", "-d", "--scale", f"nodemanager={nodemanagers}"], env=env, check=True,
                       capture_output=True, cwd=ROOT)
        token = subprocess.run([*base, "exec", "-T", "resourcemanager", "miniyarn", "token", "-user",
                                os.environ.get("USER") or "bench"], env=env, check=True, capture_output=True,
                               text=True, cwd=ROOT).stdout.strip()
        os.environ["MINIYARN_TOKEN"] = token
        auth = {"Authorization": f"Bearer {token}"}
        deadline = time.monotonic() + 90
        while True:
            try:
                nodes = httpx.get(f"{rm}/ws/v1/cluster/nodes", params={"states": "RUNNING"}, headers=auth,
                                  timeout=2).json()
                if len((nodes.get("nodes") or {}).get("node") or []) == nodemanagers:
                    break
            except (httpx.HTTPError, ValueError):
                pass
            if time.monotonic() > deadline:
                sys.exit(f"the compose cluster's {nodemanagers} NodeManagers did not register within 90 s")
            time.sleep(0.2)
        print(f"compose cluster (redis, RM, {nodemanagers} NMs with --executor docker, "
              f"{'host network' if host_network else 'bridge network ' + project}) up in "
              f"{time.monotonic() - t0:.2f} s at {rm}")
        gateway = "127.0.0.1" if host_network else subprocess.run(
            ["docker", "network", "inspect", "-f", "{{(index .IPAM.Config 0).Gateway}}", project],
            capture_output=True, text=True, check=True).stdout.strip()
        yield rm, gateway
    finally:
        subprocess.run([*base, "down", "-v", "--timeout", "20"], env=env, capture_output=True, cwd=ROOT)
        shutil.rmtree(host_dir, ignore_errors=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--rm-address", default=None)
    p.add_argument("--nodemanagers", type=int, default=2)
    p.add_argument("--executor", choices=("process", "docker"), default="process",
                   help="docker: the compose cluster, JobManager and TaskManagers in Docker containers")
    p.add_argument("--host-network", action="store_true",
                   help="with --executor docker: compose.host.yaml's host network instead of the bridge")
    ns = p.parse_args()
    if ns.executor == "docker" and ns.rm_address is not None:
        p.error("--executor docker brings up its own compose cluster; without it, --rm-address measures any cluster")
    docker = ns.executor == "docker"
    source_host = "127.0.0.1"
    with contextlib.ExitStack() as stack:
        if docker:
            rm, source_host = stack.enter_context(compose_cluster(ns.nodemanagers, ns.host_network))
        elif ns.rm_address is None:
            cluster = MiniCluster(nodemanagers=ns.nodemanagers, port=0, memory_mb=4096, vcores=4,
                                  defines=["yarn.scheduler.minimum-allocation-mb=128"]).start()
            stack.callback(cluster.stop)
            print(f"MiniCluster (redis, RM, {ns.nodemanagers} NMs) up in {cluster.startup_s:.2f} s at "
                  f"{cluster.rm_url}")
            time.sleep(1.0)  # settled, before any application: the daemons' idle memory
            print("idle RSS: " + ", ".join(f"{d.name} {psutil.Process(d.proc.pid).memory_info().rss / 2**20:.0f} MB"
                                           for d in cluster.daemons if d.name != "redis"))
            rm = cluster.rm_url
        else:
            rm = ns.rm_address
        port = line_server(source_host)
        where = "host network" if ns.host_network else "bridge network"
        measure(rm, port, ns.runs, docker, f"docker executor, {where}" if docker else
                "process executor" if ns.rm_address is None else f"the cluster at {rm}", source_host)
    return 0


def measure(rm: str, port: int, n: int, docker: bool, what: str, source_host: str = "127.0.0.1") -> None:
    runs = []
    print("run  " + "  ".join(f"{ph:>12}" for ph in PHASES))
    for i in range(n):
        marks = one_run(rm, port, docker, source_host)
        runs.append(marks)
        print(f"{i + 1:>3}  " + "  ".join(f"{marks.get(ph, float('nan')):>11.3f}s" for ph in PHASES), flush=True)
    total = [r["running"] for r in runs]
    print(f"\nsubmit -> job RUNNING with all TaskManagers registered (p=4, 2 slots/TM, {what}): "
          f"median {statistics.median(total):.3f} s, max {max(total):.3f} s over {len(total)} runs")
    for ph in PHASES:
        print(f"  {ph:<13} median {statistics.median(r[ph] for r in runs):.3f} s")


if __name__ == "__main__":
    sys.exit(main())
