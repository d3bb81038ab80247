"""An NM's command latency while it uploads an application's logs (issue 14): the upload used to run in the
command loop, so every command behind an ApplicationFinished waited for it; now it is an rq job of the NM's
background services (nodemanager.services) and the loop goes on.

One NM (a real process) on its own Redis (secure: ACL users, the nm user for the NM). Per round: an
application's log dir with --log-mb of container logs, its record FINISHED, then ApplicationFinished and, right
behind it, a probe command (ApplicationFinished for an app the RM never had: the NM refuses it after one GET).
The probe's latency is from its RPUSH to the NM taking it off its processing list; the upload's, until the
node leaves the app's pending-logs set. A baseline probe with no upload runs first.

    python bench/nm_commands.py [--rounds 5] [--log-mb 128] [--source DIR]

--source runs the NM from another tree (e.g. `git archive <commit> | tar -x -C DIR` of the commit before),
to measure the blocking command loop against the same harness.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from miniyarn import keys  # noqa: E402
from miniyarn.protocol import ApplicationFinished  # noqa: E402
from miniyarn.security import credentials  # noqa: E402

FILE_MB = 8  # the log is spread over files of this size (one HSET each)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait(what: str, check: object, timeout: float = 30.0, interval: float = 0.0005) -> float:
    """Seconds until check() is true."""
    t0 = time.perf_counter()
    while not check():  # type: ignore[operator]
        if time.perf_counter() - t0 > timeout:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(interval)
    return time.perf_counter() - t0


def handled(r: redis.Redis, node: str) -> bool:
    pipe = r.pipeline(transaction=False)
    pipe.llen(keys.nm_commands(node))
    pipe.llen(keys.nm_processing(node))
    return sum(pipe.execute()) == 0


def probe(r: redis.Redis, node: str, n: int) -> float:
    r.rpush(keys.nm_commands(node), ApplicationFinished(application_id=f"application_1_{9000 + n:04d}")
            .model_dump_json())
    return wait("the probe command", lambda: handled(r, node))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--log-mb", type=int, default=128)
    ap.add_argument("--source", default=str(ROOT), help="the tree whose nodemanager runs")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="nm-commands-"))
    creds = credentials.ensure(work / "credentials")
    port = free_port()
    server = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no", "--dir", str(work), "--aclfile", str(creds.acl_file)],
                              stdout=subprocess.DEVNULL)
    nm: subprocess.Popen[str] | None = None
    try:
        url = f"redis://127.0.0.1:{port}/0"
        admin = redis.Redis.from_url(creds.redis_url(url, "rm"))
        wait("redis", lambda: _pings(admin), timeout=10, interval=0.05)
        env = {**os.environ, credentials.ENV: str(creds.dir), "PYTHONPATH": args.source}
        logs, local = work / "logs", work / "local"
        nm = subprocess.Popen([sys.executable, "-m", "nodemanager", "--redis-url", url, "--port", "0",
                               "--memory-mb", "4096", "--vcores", "4", "--log-dirs", str(logs), "--local-dirs",
                               str(local), "-D", "yarn.resourcemanager.nodemanagers.heartbeat-interval-ms=1000"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd=work)
        assert nm.stdout is not None
        line = nm.stdout.readline()
        m = re.search(r"NodeManager (\S+) started", line)
        if m is None:
            raise SystemExit(f"the NodeManager did not start: {line!r}")
        node = m.group(1)
        baseline = [probe(admin, node, i) for i in range(20)]
        during, uploads = [], []
        chunk = os.urandom(1024 * 1024)
        for n in range(args.rounds):
            app = f"application_1_{n + 1:04d}"
            cdir = logs / app / f"container_1_{n + 1:04d}_01_000001"
            cdir.mkdir(parents=True)
            for i in range(max(1, args.log_mb // FILE_MB)):
                with open(cdir / f"taskmanager-{i}.log", "wb") as f:
                    for _ in range(FILE_MB):
                        f.write(chunk)
            admin.set(keys.app(app), json.dumps({"app_id": app, "state": "FINISHED"}))
            admin.sadd(keys.app_log_nodes(app), node)
            t0 = time.perf_counter()
            admin.rpush(keys.nm_commands(node), ApplicationFinished(application_id=app).model_dump_json())
            during.append(probe(admin, node, 100 + n))
            wait("the upload", lambda app=app: not admin.sismember(keys.app_log_nodes(app), node), timeout=300)
            uploads.append(time.perf_counter() - t0)
            admin.delete(keys.app_logs(app))
        ms = [x * 1000 for x in during]
        print(f"source {args.source}: {args.rounds} rounds, {args.log_mb} MB of logs each")
        print(f"  probe command, idle NM:       median {statistics.median(baseline) * 1000:.1f} ms, "
              f"max {max(baseline) * 1000:.1f} ms")
        print(f"  probe command, during upload: median {statistics.median(ms):.1f} ms, max {max(ms):.1f} ms")
        print(f"  upload (ApplicationFinished to logs in Redis): median {statistics.median(uploads) * 1000:.0f} ms")
    finally:
        if nm is not None:
            nm.terminate()
            nm.wait(30)
        server.terminate()
        server.wait(10)
        subprocess.run(["rm", "-rf", str(work)], check=False)


def _pings(r: redis.Redis) -> bool:
    try:
        return bool(r.ping())
    except redis.RedisError:
        return False


if __name__ == "__main__":
    main()
