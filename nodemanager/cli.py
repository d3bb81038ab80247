"""`miniyarn nodemanager` / `python -m nodemanager`: the NM daemon in the foreground."""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

from miniyarn import config as cfg
from miniyarn.config import YarnConfiguration, parse_define
from miniyarn.healthcheck import nm_address, probe
from miniyarn.records import Resource


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--redis-url", help="Redis to meet in (default $MINIYARN_REDIS_URL or redis://127.0.0.1:6379/0)")
    parser.add_argument("--port", type=int, default=0,
                        help="HTTP port, also the node id's port (default 0 = a free port)")
    parser.add_argument("--hostname", default=None,
                        help="host name in the node id (default yarn.nodemanager.hostname, else 127.0.0.1)")
    parser.add_argument("--bind-host", default="127.0.0.1", help="address the HTTP server binds (default 127.0.0.1)")
    parser.add_argument("--insecure", action="store_true",
                        help="allow --bind-host beyond loopback with hadoop.http.authentication.type=simple")
    parser.add_argument("--memory-mb", type=int, default=None,
                        help="memory for containers (default yarn.nodemanager.resource.memory-mb, 8192)")
    parser.add_argument("--vcores", type=int, default=None,
                        help="vcores for containers (default yarn.nodemanager.resource.cpu-vcores, 8)")
    parser.add_argument("--local-dirs", default=None,
                        help="comma-separated work dirs (default yarn.nodemanager.local-dirs, else a temp dir)")
    parser.add_argument("--log-dirs", default=None,
                        help="comma-separated container log dirs (default yarn.nodemanager.log-dirs, else a temp dir)")
    parser.add_argument("--executor", default="process",
                        help="container executor: process or docker (default: process)")
    parser.add_argument("-D", dest="defines", action="append", default=[], metavar="KEY=VALUE",
                        help="override a yarn-site.xml key")
    parser.add_argument("--credentials-dir", default=None,
                        help="the cluster's secrets; the NM reads its Redis password there (default "
                             "$MINIYARN_CREDENTIALS_DIR; see docs/security.md)")
    parser.add_argument("--check", action="store_true",
                        help="exit 0 if this NodeManager answers /health (at --bind-host:--port, or at the address it "
                             "wrote in --local-dirs when --port is 0), else 1")


def _dirs(text: str) -> list[Path]:
    return [Path(p.strip()) for p in text.split(",") if p.strip()]


def check(port: int, local_dirs: str, bind_host: str = "127.0.0.1") -> int:
    address = nm_address(port, local_dirs, bind_host)
    if not address and not local_dirs:
        print("miniyarn nodemanager --check: give --port, or --local-dirs of an NM started with --port 0",
              file=sys.stderr)
        return 1
    return probe(address) if address else 1


def run(args: argparse.Namespace) -> int:
    try:
        conf = YarnConfiguration(dict(parse_define(d) for d in args.defines))
        memory = args.memory_mb if args.memory_mb is not None else conf.get_int("yarn.nodemanager.resource.memory-mb")
        vcores = args.vcores if args.vcores is not None else conf.get_int("yarn.nodemanager.resource.cpu-vcores")
    except ValueError as e:
        print(f"miniyarn nodemanager: {e}", file=sys.stderr)
        return 2
    local_spec = args.local_dirs or conf.get_str("yarn.nodemanager.local-dirs")
    if args.check:
        return check(args.port, local_spec, args.bind_host)
    if memory <= 0 or vcores <= 0:
        print(f"miniyarn nodemanager: --memory-mb and --vcores must be positive, got {memory} and {vcores}",
              file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from nodemanager.web_access import bind_refusal

    if (why := bind_refusal(args.bind_host, conf, args.insecure, args.credentials_dir)) is not None:
        print(f"miniyarn nodemanager: {why}", file=sys.stderr)
        return 2
    from miniyarn.redisconn import connect, role_url
    from miniyarn.security.credentials import CredentialsError, from_env
    from miniyarn.security.http_auth import HttpAuthConfig

    try:
        credentials = from_env(args.credentials_dir)
        redis_url = role_url(cfg.redis_url(args.redis_url), credentials, "nm")
        auth = HttpAuthConfig.from_conf(conf, credentials)  # bind_refusal has read it once already
    except CredentialsError as e:
        print(f"miniyarn nodemanager: {e}", file=sys.stderr)
        return 2
    from nodemanager.context import NMContext
    from nodemanager.daemon import NodeManager
    from nodemanager.executor import create_executor
    from nodemanager.web import make_server

    try:
        executor = create_executor(args.executor)
    except ValueError as e:
        print(f"miniyarn nodemanager: {e}", file=sys.stderr)
        return 2
    try:
        server = make_server(args.bind_host, args.port)
    except OSError as e:
        print(f"miniyarn nodemanager: cannot listen on {args.bind_host}:{args.port}: {e}; pick another --port",
              file=sys.stderr)
        return 1
    port = int(server.server_address[1])
    host = args.hostname or conf.get_str("yarn.nodemanager.hostname") or "127.0.0.1"
    owned: Path | None = None
    log_spec = args.log_dirs or conf.get_str("yarn.nodemanager.log-dirs")
    if not local_spec or not log_spec:
        owned = Path(tempfile.mkdtemp(prefix=f"miniyarn-nm-{port}-"))
    if conf.get_bool("yarn.nodemanager.recovery.enabled", False) and (owned is not None or args.port == 0):
        # Recovery finds its containers by node id and in its dirs: a temp dir or a random port is new each run.
        print("miniyarn nodemanager: yarn.nodemanager.recovery.enabled needs a stable node id and dirs: give "
              "--port (not 0), --local-dirs and --log-dirs", file=sys.stderr)
        server.server_close()
        if owned is not None:
            owned.rmdir()
        return 2
    local_dirs = _dirs(local_spec) if local_spec else [owned / "local" if owned else Path()]
    log_dirs = _dirs(log_spec) if log_spec else [owned / "logs" if owned else Path()]
    for d in (*local_dirs, *log_dirs):
        d.mkdir(parents=True, exist_ok=True)
    try:
        client = connect(redis_url)
    except ConnectionError as e:
        print(f"miniyarn nodemanager: {e}", file=sys.stderr)
        server.server_close()
        return 1
    ctx = NMContext(host=host, port=port, capability=Resource(memory=memory, vcores=vcores), local_dirs=local_dirs,
                    log_dirs=log_dirs, redis_url=redis_url, conf=conf)
    return NodeManager(ctx, client, executor, server, owned_root=owned, auth=auth).run()
