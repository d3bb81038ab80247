"""`miniyarn token -user NAME [-validity SECONDS]`: print a signed token for NAME (what replaces a
Kerberos ticket here), signed with the cluster's HTTP signature secret, for `Authorization: Bearer` or
`$MINIYARN_TOKEN`. Only someone who can read the secret can make one."""

from __future__ import annotations

import argparse
import sys

from miniyarn.config import YarnConfiguration, parse_define
from miniyarn.security import tokens
from miniyarn.security.credentials import CredentialsError, from_env
from miniyarn.security.http_auth import SECRET_FILE_KEY, HttpAuthConfig, HttpAuthError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-user", dest="user", required=True, help="the user the token names")
    parser.add_argument("-validity", dest="validity", type=int, default=tokens.DEFAULT_TTL_S,
                        help=f"seconds until it expires (default {tokens.DEFAULT_TTL_S})")
    parser.add_argument("--credentials-dir", default=None,
                        help=f"the cluster's secrets (default $MINIYARN_CREDENTIALS_DIR, else {SECRET_FILE_KEY})")
    parser.add_argument("-D", dest="defines", action="append", default=[], metavar="KEY=VALUE",
                        help="override a yarn-site.xml key")


def run(args: argparse.Namespace) -> int:
    if args.validity <= 0:
        print(f"miniyarn token: -validity must be a positive number of seconds, got {args.validity}",
              file=sys.stderr)
        return 2
    try:
        conf = YarnConfiguration(dict(parse_define(d) for d in args.defines))
        secret = HttpAuthConfig.from_conf(conf, from_env(args.credentials_dir)).secret
    except (ValueError, CredentialsError, HttpAuthError) as e:
        print(f"miniyarn token: {e}", file=sys.stderr)
        return 2
    if not secret:
        print(f"miniyarn token: no signature secret: give --credentials-dir (or $MINIYARN_CREDENTIALS_DIR) or set "
              f"{SECRET_FILE_KEY}", file=sys.stderr)
        return 2
    try:
        print(tokens.sign(secret, args.user, ttl_s=args.validity))
    except tokens.InvalidTokenError as e:
        print(f"miniyarn token: {e}", file=sys.stderr)
        return 2
    return 0
