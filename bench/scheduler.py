"""SLS-style scheduler benchmark: a real RM process, 1,000 simulated NodeManagers heartbeating
through Redis, and many simulated ApplicationMasters asking for, receiving and finishing containers.

Prints allocations per second, allocate round-trip p50/p99, the RM's CPU share and RSS (idle and
under load). Everything talks to a redis-server this script starts on a free loopback port.

    python bench/scheduler.py [--nodes 1000] [--apps 20] [--seconds 20]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict

import httpx
import psutil
import redis

from miniyarn import keys
from miniyarn.client.amrm_client import AMRMClient, ContainerRequest
from miniyarn.protocol import NodeHeartbeat
from miniyarn.records import ContainerStatus, Resource
from miniyarn.security import credentials
from miniyarn.sockets import free_port
from miniyarn.states.application import FinalApplicationStatus
from miniyarn.states.container import ContainerState


class SimulatedNodes(threading.Thread):
    """N NodeManagers in one thread: a heartbeat per node per second, pipelined, reporting the
    containers whose simulated run time has passed as COMPLETE."""

    def __init__(self, client: redis.Redis, count: int, capability: Resource, interval_s: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.capability = capability
        self.redis = client
        self.ids = [f"sim-{i:04d}.local:{45454}" for i in range(count)]
        self.interval_s = interval_s
        self.lock = threading.Lock()
        self.running: dict[str, list[tuple[str, float]]] = defaultdict(list)  # node -> (cid, ends at)
        self.stop = threading.Event()
        self.heartbeats = 0

    def add(self, node_id: str, cid: str, ends_at: float) -> None:
        with self.lock:
            self.running[node_id].append((cid, ends_at))

    def beat(self, ids: list[str]) -> None:
        now = time.monotonic()
        pipe = self.redis.pipeline(transaction=False)
        for node_id in ids:
            with self.lock:
                live = self.running.get(node_id, [])
                done = [c for c, end in live if end <= now]
                self.running[node_id] = [(c, end) for c, end in live if end > now]
            statuses = [ContainerStatus(container_id=c, state=ContainerState.COMPLETE, exit_status=0) for c in done]
            hb = NodeHeartbeat(node_id=node_id, http_address=node_id, capability=self.capability,
                               container_statuses=statuses)
            pipe.rpush(keys.rm_inbox(), hb.model_dump_json())
            self.heartbeats += 1
        pipe.execute()

    def run(self) -> None:
        # Real NMs are not in step: spread each round of heartbeats over the interval in slices.
        slices = 20
        step = max(1, len(self.ids) // slices)
        while not self.stop.is_set():
            for i in range(0, len(self.ids), step):
                start = time.monotonic()
                self.beat(self.ids[i:i + step])
                self.stop.wait(max(0.0, self.interval_s / slices - (time.monotonic() - start)))


class SimulatedAM(threading.Thread):
    """An AM that keeps `target` containers asked for, each running `hold_s` seconds."""

    def __init__(self, url: str, attempt_id: str, nodes: SimulatedNodes, target: int, hold_s: float,
                 until: float) -> None:
        super().__init__(daemon=True)
        # As a real AM: its attempt's own Redis user (`url` carries it), the AMRM token its password.
        self.amrm = AMRMClient(client=redis.Redis.from_url(url), attempt_id=attempt_id)
        self.nodes = nodes
        self.target = target
        self.hold_s = hold_s
        self.until = until
        self.latencies: list[float] = []
        self.allocated = 0
        self.error = ""

    def run(self) -> None:
        try:
            self.amrm.register("sim-am", -1, "")
            outstanding = 0
            cap = Resource(memory=1024, vcores=1)
            while time.monotonic() < self.until:
                want = self.target - outstanding
                for _ in range(want):
                    self.amrm.add_container_request(ContainerRequest(capability=cap))
                outstanding += want
                t0 = time.perf_counter()
                resp = self.amrm.allocate(0.5)
                self.latencies.append(time.perf_counter() - t0)
                now = time.monotonic()
                for c in resp.allocated_containers:
                    self.nodes.add(c.node_id, c.id, now + self.hold_s)
                self.allocated += len(resp.allocated_containers)
                outstanding -= len(resp.completed_container_statuses)
                time.sleep(0.05)
            self.amrm.unregister(FinalApplicationStatus.SUCCEEDED)
        except Exception as e:  # report, don't hang the benchmark
            self.error = repr(e)


def submit_apps(rm: str, client: redis.Redis, count: int) -> list[str]:
    attempts = []
    for i in range(count):
        app_id = httpx.post(f"{rm}/ws/v1/cluster/apps/new-application").json()["application-id"]
        body = {"application-id": app_id, "application-name": f"sls-{i}", "application-type": "SLS",
                "resource": {"memory": 1024, "vCores": 1}, "am-container-spec": {"commands": ["true"]}}
        r = httpx.post(f"{rm}/ws/v1/cluster/apps", json=body)
        r.raise_for_status()
        attempts.append(app_id)
    out = []
    deadline = time.monotonic() + 30
    for app_id in attempts:
        while True:
            raw = client.get(keys.app(app_id))
            record = json.loads(raw) if raw else {}
            att = record.get("attempts", [])
            if att and att[-1]["state"] == "LAUNCHED":
                out.append(att[-1]["attempt_id"])
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{app_id} AM container never launched: {record.get('diagnostics')}")
            time.sleep(0.05)
    return out


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--nodes", type=int, default=1000)
    p.add_argument("--apps", type=int, default=20)
    p.add_argument("--containers-per-app", type=int, default=2000)
    p.add_argument("--hold", type=float, default=1.0, help="simulated container run time, seconds")
    p.add_argument("--seconds", type=float, default=15.0)
    p.add_argument("--node-memory", type=int, default=65536, help="MB per simulated node")
    p.add_argument("--node-vcores", type=int, default=64)
    args = p.parse_args()

    tmp = tempfile.mkdtemp(prefix="bench-sls-")
    rport, wport = free_port(), free_port()
    # Secured as the minicluster is: Redis with the cluster's ACL users, the RM as `rm`, each AM as its attempt.
    creds = credentials.ensure(os.path.join(tmp, "credentials"))
    redis_proc = subprocess.Popen(["redis-server", "--port", str(rport), "--bind", "127.0.0.1", "--save", "",
                                   "--appendonly", "no", "--dir", tmp, "--aclfile", str(creds.acl_file)],
                                  stdout=subprocess.DEVNULL, start_new_session=True)
    url = f"redis://127.0.0.1:{rport}/0"
    rm_proc: subprocess.Popen[bytes] | None = None
    try:
        client = redis.Redis.from_url(creds.redis_url(url, "rm"))
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        # AM liveness is irrelevant here; a long NM expiry keeps the simulated nodes alive under load.
        rm_proc = subprocess.Popen(
            [sys.executable, "-m", "resourcemanager", "--redis-url", url, "--port", str(wport),
             "--host", "127.0.0.1", "--credentials-dir", str(creds.dir),
             "-D", "yarn.nm.liveness-monitor.expiry-interval-ms=60000",
             "-D", "yarn.scheduler.capacity.maximum-am-resource-percent=1.0"],
            stdout=open(os.path.join(tmp, "rm.log"), "wb"), stderr=subprocess.STDOUT, start_new_session=True)
        rm = f"http://127.0.0.1:{wport}"
        for _ in range(200):
            try:
                httpx.get(f"{rm}/health", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        proc = psutil.Process(rm_proc.pid)
        time.sleep(1.0)
        idle_rss = proc.memory_info().rss

        # This process simulates 1,000 NMs and the AMs: its own full garbage collections would stall the
        # AM threads and count as RM latency. Measure the RM, not the harness.
        gc.freeze()
        gc.set_threshold(gc.get_threshold()[0], gc.get_threshold()[1], 1 << 30)
        nodes = SimulatedNodes(client, args.nodes, Resource(memory=args.node_memory, vcores=args.node_vcores))
        nodes.beat(nodes.ids)
        nodes.start()
        time.sleep(1.5)
        attempt_ids = submit_apps(rm, client, args.apps)
        proc.cpu_percent(None)
        t0 = time.monotonic()
        until = t0 + args.seconds
        master = creds.rm_master_key()
        ams = [SimulatedAM(credentials.with_user(url, a, credentials.derive(master, "amrm", a)), a, nodes,
                           args.containers_per_app, args.hold, until) for a in attempt_ids]
        for am in ams:
            am.start()
        peak_rss = idle_rss
        while any(am.is_alive() for am in ams):
            peak_rss = max(peak_rss, proc.memory_info().rss)
            time.sleep(0.5)
        elapsed = time.monotonic() - t0
        cpu = proc.cpu_percent(None)
        nodes.stop.set()
        errors = [am.error for am in ams if am.error]
        lat = sorted(x for am in ams for x in am.latencies)
        allocated = sum(am.allocated for am in ams)
        p50 = statistics.median(lat) * 1000 if lat else float("nan")
        p99 = lat[int(len(lat) * 0.99) - 1] * 1000 if lat else float("nan")
        print(f"nodes={args.nodes} apps={args.apps} containers/app={args.containers_per_app} hold={args.hold}s "
              f"seconds={elapsed:.1f}")
        print(f"allocations/s        {allocated / elapsed:,.0f}  ({allocated} containers)")
        print(f"allocate p50 / p99   {p50:.1f} ms / {p99:.1f} ms  ({len(lat)} calls)")
        print(f"node heartbeats/s    {nodes.heartbeats / elapsed:,.0f}")
        print(f"RM CPU share         {cpu:.0f}% of one core")
        print(f"RM RSS idle / peak   {idle_rss / 2**20:.0f} MB / {peak_rss / 2**20:.0f} MB")
        if errors:
            print(f"AM errors: {errors[:3]}")
            return 1
        return 0
    finally:
        for p_ in (rm_proc, redis_proc):
            if p_ is not None and p_.poll() is None:
                os.killpg(p_.pid, signal.SIGTERM)
                p_.wait(10)
        if os.environ.get("SHOWLOG"):
            print(open(os.path.join(tmp, "rm.log")).read()[-3000:])
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
