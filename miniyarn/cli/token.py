"""`miniyarn token -user NAME [-validity SECONDS]`: print a signed token for NAME (what replaces a
Kerberos ticket here), signed with the cluster's HTTP signature secret, for `Authorization: Bearer` or
`$MINIYARN_TOKEN`. Only someone who can read the secret can make one."""

from __future__ import annotations

import sys

import click

from miniyarn.cli.options import CONTEXT, credentials_dir_option, define_option
from miniyarn.config import YarnConfiguration, parse_define
from miniyarn.security import tokens
from miniyarn.security.credentials import CredentialsError, from_env
from miniyarn.security.http_auth import SECRET_FILE_KEY, HttpAuthConfig, HttpAuthError


@click.command("token", context_settings=CONTEXT)
@click.option("-user", "user", required=True, help="the user the token names")
@click.option("-validity", "validity", type=int, default=tokens.DEFAULT_TTL_S,
              help=f"seconds until it expires (default {tokens.DEFAULT_TTL_S})")
@credentials_dir_option(f"the cluster's secrets (default $MINIYARN_CREDENTIALS_DIR, else {SECRET_FILE_KEY})")
@define_option
def command(user: str, validity: int, credentials_dir: str | None, defines: tuple[str, ...]) -> int:
    """print a signed token for a user (Authorization: Bearer, $MINIYARN_TOKEN)"""
    return run(user, validity, credentials_dir, defines)


def run(user: str, validity: int, credentials_dir: str | None, defines: tuple[str, ...]) -> int:
    if validity <= 0:
        print(f"miniyarn token: -validity must be a positive number of seconds, got {validity}",
              file=sys.stderr)
        return 2
    try:
        conf = YarnConfiguration(dict(parse_define(d) for d in defines))
        secret = HttpAuthConfig.from_conf(conf, from_env(credentials_dir)).secret
    except (ValueError, CredentialsError, HttpAuthError) as e:
        print(f"miniyarn token: {e}", file=sys.stderr)
        return 2
    if not secret:
        print(f"miniyarn token: no signature secret: give --credentials-dir (or $MINIYARN_CREDENTIALS_DIR) or set "
              f"{SECRET_FILE_KEY}", file=sys.stderr)
        return 2
    try:
        print(tokens.sign(secret, user, ttl_s=validity))
    except tokens.InvalidTokenError as e:
        print(f"miniyarn token: {e}", file=sys.stderr)
        return 2
    return 0
