"""`miniyarn resourcemanager`: the RM daemon in the foreground."""

from __future__ import annotations

import argparse
import logging
import sys

from miniyarn import config as cfg
from miniyarn.config import YarnConfiguration, parse_define
from miniyarn.healthcheck import loopback_if_wildcard, probe


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--redis-url", help="Redis to meet in (default $MINIYARN_REDIS_URL or redis://127.0.0.1:6379/0)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default 127.0.0.1; beyond loopback needs token auth or --insecure)")
    parser.add_argument("--port", type=int, default=None,
                        help="REST/web port (default from yarn.resourcemanager.webapp.address, 8088; 0 = free port)")
    parser.add_argument("--advertise-host", default=None,
                        help="host name put in tracking URLs (default 127.0.0.1, or the bind host)")
    parser.add_argument("-D", dest="defines", action="append", default=[], metavar="KEY=VALUE",
                        help="override a yarn-site.xml key")
    parser.add_argument("--credentials-dir", default=None,
                        help="the cluster's secrets (default $MINIYARN_CREDENTIALS_DIR; see docs/security.md)")
    parser.add_argument("--insecure", action="store_true",
                        help="listen beyond loopback with hadoop.http.authentication.type=simple (anyone who "
                             "reaches the port can run commands as any user)")
    parser.add_argument("--rm-id", default=None,
                        help="this ResourceManager's id with RM HA (default yarn.resourcemanager.ha.id; one of "
                             "yarn.resourcemanager.ha.rm-ids)")
    parser.add_argument("--check", action="store_true",
                        help="exit 0 if a ResourceManager answers /health at --host:--port, else 1 (for healthchecks)")


def run(args: argparse.Namespace) -> int:
    try:
        overrides = dict(parse_define(d) for d in args.defines)
        conf = YarnConfiguration(overrides)
    except ValueError as e:
        print(f"miniyarn resourcemanager: {e}", file=sys.stderr)
        return 2
    rm_id = ""
    if cfg.ha_enabled(conf):
        from resourcemanager.daemon import HAConfigError, ha_rm_id
        try:
            rm_id = ha_rm_id(conf, args.rm_id)
        except HAConfigError as e:
            print(f"miniyarn resourcemanager: {e}", file=sys.stderr)
            return 2
    port = args.port
    if port is None:
        # With HA, this RM's own yarn.resourcemanager.webapp.address.<rm-id>, as YARN reads it.
        address = conf.get_str(f"yarn.resourcemanager.webapp.address.{rm_id}") if rm_id else ""
        address = address or conf.get_str("yarn.resourcemanager.webapp.address", "0.0.0.0:8088")
        port = int(address.rsplit(":", 1)[-1])
    if args.check:
        return probe(f"{loopback_if_wildcard(args.host)}:{port}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # httpx logs every request at INFO: through the proxy, that is a line per dashboard poll (a Flink dashboard
    # polls every few seconds per open tab), which drowned the RM's own log. The proxy logs them at DEBUG.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    advertise = args.advertise_host or ("127.0.0.1" if args.host in ("0.0.0.0", "") else args.host)
    from miniyarn.security.credentials import CredentialsError, from_env
    from miniyarn.security.http_auth import HttpAuthConfig, HttpAuthError, refuse_insecure_bind
    from resourcemanager.daemon import serve

    try:
        credentials = from_env(args.credentials_dir)
        refusal = refuse_insecure_bind(args.host, HttpAuthConfig.from_conf(conf, credentials), args.insecure)
    except (CredentialsError, HttpAuthError) as e:
        print(f"miniyarn resourcemanager: {e}", file=sys.stderr)
        return 2
    if refusal:
        print(f"miniyarn resourcemanager: {refusal}", file=sys.stderr)
        return 2
    if rm_id and credentials is None:
        # Tokens (AMRM, container, HTTP) derive from the master key in the credentials dir: two RMs with
        # keys of their own would refuse each other's AMs and NMs after a failover.
        print("miniyarn resourcemanager: RM HA needs --credentials-dir (or $MINIYARN_CREDENTIALS_DIR) shared "
              "by every ResourceManager: their tokens must be the same", file=sys.stderr)
        return 2
    try:
        return serve(conf, cfg.redis_url(args.redis_url), args.host, port, advertise, credentials, rm_id)
    except OSError as e:
        print(f"miniyarn resourcemanager: cannot listen on {args.host}:{port}: {e}; pick another --port",
              file=sys.stderr)
        return 1
    except ConnectionError as e:
        print(f"miniyarn resourcemanager: {e}", file=sys.stderr)
        return 1
    except ValueError as e:  # a configuration value read while starting (`-D key=abc` for a number)
        print(f"miniyarn resourcemanager: {e}", file=sys.stderr)
        return 2
