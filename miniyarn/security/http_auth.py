"""Who is asking, for every daemon's HTTP: Hadoop's `hadoop.http.authentication.*` settings, pure.

`simple`: the caller says who it is (`?user.name=`), anonymous callers are `dr.who` while
`hadoop.http.authentication.simple.anonymous.allowed` is true. `token`: a signed token is required,
as `Authorization: Bearer TOKEN` or the `hadoop.auth` cookie (`miniyarn.security.tokens`). A valid
token is honoured in both modes; an invalid one is refused in `token` mode and ignored in `simple`.

>>> conf = HttpAuthConfig(kind="token", secret=b"k")
>>> authenticate(conf, authorization=None, cookie=None, user_name=None).error
'Authentication required'
>>> from miniyarn.security import tokens
>>> authenticate(conf, f"Bearer {tokens.sign(b'k', 'alice')}", None, None).user
'alice'
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from miniyarn.config import YarnConfiguration
from miniyarn.security import tokens
from miniyarn.security.credentials import Credentials

TYPE_KEY = "hadoop.http.authentication.type"
SECRET_FILE_KEY = "hadoop.http.authentication.signature.secret.file"
ANONYMOUS_KEY = "hadoop.http.authentication.simple.anonymous.allowed"
VALIDITY_KEY = "hadoop.http.authentication.token.validity"
ANONYMOUS = "dr.who"  # hadoop.http.staticuser.user's default

AuthType = Literal["simple", "token"]


class HttpAuthError(ValueError):
    """The settings cannot work (token auth with no secret, an unknown type); the message names the key."""


@dataclass(frozen=True)
class HttpAuthConfig:
    kind: AuthType = "simple"
    secret: bytes | None = None
    anonymous_allowed: bool = True
    validity_s: int = tokens.DEFAULT_TTL_S

    @classmethod
    def from_conf(cls, conf: YarnConfiguration, credentials: Credentials | None) -> HttpAuthConfig:
        kind = conf.get_str(TYPE_KEY, "simple").strip().lower()
        if kind not in ("simple", "token"):
            raise HttpAuthError(f"{TYPE_KEY}={kind!r} is not supported here: use simple or token")
        secret_file = conf.get_str(SECRET_FILE_KEY)
        secret: bytes | None = None
        if secret_file:
            try:
                secret = Path(secret_file).read_bytes().strip()
            except OSError as e:
                raise HttpAuthError(f"Cannot read {SECRET_FILE_KEY} {secret_file}: {e.strerror}") from None
        elif credentials is not None:
            secret = credentials.http_secret()
        if kind == "token" and not secret:
            raise HttpAuthError(f"{TYPE_KEY}=token needs a signature secret: set {SECRET_FILE_KEY} or give "
                                "--credentials-dir")
        return cls(kind=kind,  # type: ignore[arg-type]  # checked against the literal's values above
                   secret=secret, anonymous_allowed=conf.get_bool(ANONYMOUS_KEY, True),
                   validity_s=conf.get_int(VALIDITY_KEY, tokens.DEFAULT_TTL_S))


@dataclass(frozen=True)
class AuthResult:
    user: str = ""
    error: str = ""  # set when the request must be answered 401
    via_cookie: bool = False  # a browser's ambient credential: state changes need a same-origin check


def bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def authenticate(conf: HttpAuthConfig, authorization: str | None, cookie: str | None,
                 user_name: str | None) -> AuthResult:
    token = bearer(authorization)
    if (token or cookie) and conf.secret:
        try:
            if token:
                return AuthResult(user=tokens.verify(conf.secret, token))
            assert cookie is not None
            return AuthResult(user=tokens.verify_cookie(conf.secret, cookie), via_cookie=True)
        except tokens.InvalidTokenError as e:
            if conf.kind == "token":
                return AuthResult(error=f"Invalid token: {e}")
            # simple: a stale token (another cluster's, in ~/.miniyarn/token) must not lock a user out of a
            # cluster where anyone may say who they are anyway.
    if conf.kind == "token":
        return AuthResult(error="Authentication required")
    if user_name:
        if not tokens.valid_user(user_name):
            return AuthResult(error=f"Invalid user.name {user_name!r}")
        return AuthResult(user=user_name)
    if conf.anonymous_allowed:
        return AuthResult(user=ANONYMOUS)
    return AuthResult(error="Anonymous requests are disallowed")


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return host == "localhost"
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def refuse_insecure_bind(host: str, conf: HttpAuthConfig, insecure: bool) -> str | None:
    """Why a daemon must not start (None if it may): listening beyond loopback with `simple` auth lets
    anyone on the network act as anyone, so it needs `--insecure` said out loud."""
    if conf.kind == "simple" and not is_loopback(host) and not insecure:
        return (f"refusing to listen on {host or '0.0.0.0'} with {TYPE_KEY}=simple: anyone who reaches it can "
                f"run commands as any user. Use -D {TYPE_KEY}=token (see docs/security.md), bind 127.0.0.1, "
                "or pass --insecure")
    return None
