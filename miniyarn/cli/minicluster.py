"""`miniyarn minicluster`: Redis (if none answers), a ResourceManager and N NodeManagers in the
foreground until Ctrl-C or SIGTERM, which stop everything it started."""

from __future__ import annotations

import signal
import sys
import time
from dataclasses import dataclass
from types import FrameType

import click

from miniyarn import config
from miniyarn.cli.options import CONTEXT, credentials_dir_option, define_option, redis_url_option
from miniyarn.minicluster import MiniCluster, MiniClusterError


@dataclass(frozen=True)
class MiniClusterRequest:
    nodemanagers: int
    redis_url: str | None
    port: int
    memory_mb: int
    vcores: int
    work_dir: str | None
    defines: tuple[str, ...]
    rms: int
    credentials_dir: str | None


@click.command("minicluster", context_settings=CONTEXT)
@click.option("--nodemanagers", "-n", "nodemanagers", type=int, default=1, help="number of NodeManagers (default 1)")
@redis_url_option("Redis to meet in; started here if none answers (default $MINIYARN_REDIS_URL or "
                  "redis://127.0.0.1:6379/0)")
@click.option("--port", "port", type=int, default=8088, help="ResourceManager web/REST port (default 8088; 0 = free)")
@click.option("--memory-mb", "memory_mb", type=int, default=4096, help="memory per NodeManager (default 4096)")
@click.option("--vcores", "vcores", type=int, default=4, help="vcores per NodeManager (default 4)")
@click.option("--work-dir", "work_dir", default=None,
              help="daemon logs and NM dirs (default a temp dir, removed on exit)")
@define_option
@click.option("--rms", "rms", type=click.Choice(["1", "2"]), default="1",
              help="ResourceManagers: 1, or 2 for RM HA (rm1 on --port, rm2 on a free port; one active, "
                   "one standby that takes over)")
@credentials_dir_option("the cluster's secrets, made at first start (default <work-dir>/credentials); a "
                        "Redis started here loads its ACL users (see docs/security.md)")
def command(nodemanagers: int, redis_url: str | None, port: int, memory_mb: int, vcores: int, work_dir: str | None,
            defines: tuple[str, ...], rms: str, credentials_dir: str | None) -> int:
    """Redis + ResourceManager + N NodeManagers in the foreground"""
    return run(MiniClusterRequest(nodemanagers, redis_url, port, memory_mb, vcores, work_dir, defines, int(rms),
                                  credentials_dir))


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run(args: MiniClusterRequest) -> int:
    # SIGINT too: a shell starts `miniyarn minicluster &` with SIGINT ignored, and `kill -INT` must still stop it.
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        cluster = MiniCluster(args.nodemanagers, config.redis_url(args.redis_url), args.port, args.memory_mb,
                              args.vcores, args.work_dir, list(args.defines), credentials_dir=args.credentials_dir,
                              rms=args.rms)
    except ValueError as e:
        print(f"miniyarn minicluster: {e}", file=sys.stderr)
        return 2
    try:
        with cluster:
            if cluster.started_redis:
                print(f"Started redis-server at {cluster.redis_url} (no Redis answered there), users from "
                      f"{cluster.credentials_dir}/redis.acl")
            print(f"miniyarn minicluster up in {cluster.startup_s:.2f} s: ResourceManager and "
                  f"{args.nodemanagers} NodeManager(s) of {args.memory_mb} MB, {args.vcores} vcores; "
                  f"logs in {cluster.work_dir}")
            print(f"ResourceManager web UI: {cluster.rm_url}/cluster")
            if args.rms > 1:
                print(f"RM HA on: rm1 {cluster.rm_urls[0]}, rm2 {cluster.rm_urls[1]}; see who is active with "
                      f"miniyarn rmadmin -getAllServiceState {' '.join(cluster.ha_defines())}")
            print(f"Log in to it with: {cluster.login_url}")
            print(f"Your token ({cluster.user}, the cluster's admin) is in {cluster.token_file}")
            for key, value in cluster.env().items():
                print(f"export {key}={value}")
            print("Press Ctrl-C to stop.", flush=True)
            while (dead := cluster.dead()) is None:
                time.sleep(0.5)
            print(f"miniyarn minicluster: {dead.name} exited with code {dead.proc.returncode}; stopping. "
                  f"Its log:\n{dead.tail()}", file=sys.stderr)
            return 1
    except MiniClusterError as e:
        print(f"miniyarn minicluster: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("Stopped the minicluster.", file=sys.stderr)
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
