"""Docker figures: how long `docker compose up -d` takes until every service is healthy (target
<= 20 s once the image exists), how long the engine takes to start one YARN container as the docker
executor creates it (on the host network, on a bridge network with its own address, and in a node's
network sandbox there), and a DistributedShell app's wall time on the compose cluster.

Needs a Docker engine, docker-compose (v1) or the compose plugin (v2), and miniyarn:latest
(`bash images/build.sh`). Each round is a project of its own on its own bridge network (with
--host-network: compose.host.yaml, the host's network, free ports for Redis), the RM on 8088 or a free
port; the DistributedShell client gets a token signed in the RM's container and stages through the RM.
Removes every container, network and volume it made.

    python bench/compose_up.py [--nodemanagers 2] [--rounds 3] [--launches 10] [--host-network]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import docker
import httpx

from miniyarn.distributedshell.client import submission
from miniyarn.records import Resource
from miniyarn.sockets import free_port
from nodemanager.executor.base import LaunchSpec
from nodemanager.executor.docker_spec import LABEL_NODE, run_spec, sandbox_spec

ROOT = Path(__file__).resolve().parents[1]
IMAGE = os.environ.get("MINIYARN_IMAGE", "miniyarn:latest")


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def compose_cmd() -> list[str]:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return ["docker", "compose"]


def compose(project: str, env: dict[str, str], *args: str, host_network: bool = False) -> str:
    files = ["compose.host.yaml" if host_network else "compose.yaml"]
    return subprocess.run([*compose_cmd(), *(a for f in files for a in ("-f", str(ROOT / f))), "-p", project, *args],
                          env={**os.environ, **env}, check=True, capture_output=True, text=True, cwd=ROOT).stdout


def all_healthy(engine: docker.DockerClient, project: str, expected: int) -> bool:
    """`expected` containers, each healthy, but the one-shot credentials service: exited 0."""
    found = engine.containers.list(all=True, filters={"label": f"com.docker.compose.project={project}"})
    if len(found) != expected:
        return False
    for c in found:
        c.reload()
        state = c.attrs["State"]
        if c.labels.get("com.docker.compose.service") == "credentials":
            if state.get("Running") or state.get("ExitCode") != 0:
                return False
        elif state.get("Health", {}).get("Status") != "healthy":
            return False
    return True


def ds_app(rm: str, token: str, containers: int) -> float:
    http = httpx.Client(base_url=rm, headers={"Authorization": f"Bearer {token}"}, timeout=5)
    script = b"echo hello from $CONTAINER_ID\n"
    staged = http.put(f"/ws/v1/cluster/staging/{hashlib.sha256(script).hexdigest()}", content=script)
    staged.raise_for_status()
    app_id = http.post("/ws/v1/cluster/apps/new-application").json()["application-id"]
    body = submission(app_id, str(staged.json()["resource"]), containers, name="bench", container_memory=128)
    t0 = time.monotonic()
    http.post("/ws/v1/cluster/apps", json=body).raise_for_status()
    while True:
        app: dict[str, Any] = http.get(f"/ws/v1/cluster/apps/{app_id}").json()["app"]
        if app["state"] in ("FINISHED", "FAILED", "KILLED"):
            break
        time.sleep(0.05)
    if app["finalStatus"] != "SUCCEEDED":
        raise SystemExit(f"DistributedShell {app_id} ended {app['state']}/{app['finalStatus']}: {app['diagnostics']}")
    return time.monotonic() - t0


def compose_rounds(engine: docker.DockerClient, nms: int, rounds: int, ds_containers: int,
                   host_network: bool = False) -> None:
    ups: list[float] = []
    for i in range(rounds):
        project = f"miniyarn-bench-{os.getpid()}-{i}"
        host_dir = tempfile.mkdtemp(prefix="miniyarn-bench-")
        env = {"MINIYARN_REDIS_PORT": str(free_port()),
               "MINIYARN_RM_PORT": "8088" if port_free(8088) else str(free_port()),
               "MINIYARN_HOST_DIR": host_dir, "MINIYARN_IMAGE": IMAGE, "MINIYARN_NETWORK": project}
        try:
            t0 = time.monotonic()
            compose(project, env, "up", "-d", "--scale", f"nodemanager={nms}", host_network=host_network)
            returned = time.monotonic() - t0
            while not all_healthy(engine, project, 3 + nms):
                if time.monotonic() - t0 > 120:
                    raise SystemExit(f"round {i}: not healthy after 120 s")
                time.sleep(0.1)
            ups.append(time.monotonic() - t0)
            print(f"round {i}: `up -d` returned after {returned:.1f} s, all {3 + nms} ready after {ups[-1]:.1f} s",
                  flush=True)
            if i == rounds - 1 and ds_containers:
                rm = f"http://127.0.0.1:{env['MINIYARN_RM_PORT']}"
                token = compose(project, env, "exec", "-T", "resourcemanager", "miniyarn", "token", "-user", "bench",
                                host_network=host_network).strip()
                walls = [ds_app(rm, token, ds_containers) for _ in range(3)]
                each = ", ".join(f"{w:.2f}" for w in walls)
                print(f"DistributedShell, AM + {ds_containers} shell containers as Docker containers: "
                      f"submit -> FINISHED median {statistics.median(walls):.2f} s ({each})")
        finally:
            compose(project, env, "down", "-v", "--timeout", "20", host_network=host_network)
            shutil.rmtree(host_dir, ignore_errors=True)
    where = "host network" if host_network else "bridge network"
    print(f"compose up -d -> all healthy ({nms} NMs, {where}): median {statistics.median(ups):.1f} s, "
          f"max {max(ups):.1f} s over {rounds} rounds (target <= 20 s)")


def launch_latency(engine: docker.DockerClient, n: int) -> None:
    """Create + start a container exactly as the docker executor does, time to running and to exit, on each
    network a node may give it: the host's, a bridge network with an address of its own, and the node's
    network sandbox on that bridge (the executor's default there). Interleaved, so load hits all three alike."""
    root = Path(tempfile.mkdtemp(prefix="miniyarn-bench-launch-"))
    node = f"bench-{os.getpid()}"
    net = engine.networks.create(f"miniyarn-bench-launch-{os.getpid()}", driver="bridge")
    modes = ("host network", "bridge, own address", "bridge, node sandbox")
    to_running: dict[str, list[float]] = {m: [] for m in modes}
    to_exit: dict[str, list[float]] = {m: [] for m in modes}
    try:
        sandbox = engine.containers.run(**sandbox_spec(node, node, net.name, IMAGE, "1000:1000").kwargs())
        for i in range(n):
            for j, mode in enumerate(modes):
                cid = f"container_1_0001_01_{i * len(modes) + j:06d}"
                work, logs = root / "work" / cid, root / "logs" / cid
                work.mkdir(parents=True)
                logs.mkdir(parents=True)
                (work / "launch_container.sh").write_text("#!/bin/bash\nexec /bin/bash -c true\n")
                os.chmod(work, 0o777)
                os.chmod(logs, 0o777)
                spec = LaunchSpec(container_id=cid, app_id="application_1_0001", user="bench", work_dir=work,
                                  log_dir=logs, script=work / "launch_container.sh", env={},
                                  resource=Resource(memory=256, vcores=1))
                network = "host" if j == 0 else net.name
                kw = run_spec(spec, IMAGE, node, "1000:1000", 1, network=network,
                              sandbox=sandbox.id if j == 2 else "").kwargs()
                kw["name"] = f"miniyarn-bench-{os.getpid()}-{i}-{j}"
                t0 = time.monotonic()
                c = engine.containers.create(**kw)
                c.start()
                to_running[mode].append(time.monotonic() - t0)
                c.wait()
                to_exit[mode].append(time.monotonic() - t0)
                c.remove(force=True)
    finally:
        for c in engine.containers.list(all=True, filters={"label": f"{LABEL_NODE}={node}"}):
            c.remove(force=True)
        net.remove()
        shutil.rmtree(root, ignore_errors=True)

    def ms(xs: list[float], q: float) -> str:
        return f"{sorted(xs)[min(len(xs) - 1, int(q * len(xs)))] * 1000:.0f} ms"

    for mode in modes:
        print(f"docker container launch ({n}x, 256 MB, {mode}, init): create+start returned "
              f"p50 {ms(to_running[mode], 0.5)}, p90 {ms(to_running[mode], 0.9)}; `true` exited "
              f"p50 {ms(to_exit[mode], 0.5)}, p90 {ms(to_exit[mode], 0.9)}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nodemanagers", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--launches", type=int, default=10)
    p.add_argument("--ds-containers", type=int, default=3, help="DistributedShell containers (0 = skip)")
    p.add_argument("--host-network", action="store_true", help="compose.host.yaml: the host's network")
    args = p.parse_args()
    try:
        engine = docker.from_env(timeout=60)
        engine.images.get(IMAGE)
    except docker.errors.ImageNotFound:
        print(f"bench: {IMAGE} is not built; run `bash images/build.sh`", file=sys.stderr)
        return 1
    except docker.errors.DockerException as e:
        print(f"bench: no Docker engine answers ({e})", file=sys.stderr)
        return 1
    launch_latency(engine, args.launches)
    compose_rounds(engine, args.nodemanagers, args.rounds, args.ds_containers, args.host_network)
    return 0


if __name__ == "__main__":
    sys.exit(main())
