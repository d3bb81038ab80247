"""User tokens: what replaces Kerberos/SPNEGO here. Hadoop's AuthenticationToken string
(`u=<user>&p=<principal>&t=<type>&e=<expiry ms>`) signed as Hadoop's Signer does (`&s=<signature>`,
HMAC-SHA256 under the cluster's signature secret). The same string is the `hadoop.auth` cookie; as a
Bearer token it travels base64url-encoded so it stays one HTTP token.

>>> t = sign(b"secret", "alice", ttl_s=60, now_s=1000.0)
>>> verify(b"secret", t, now_s=1001.0)
'alice'
>>> verify(b"other", t, now_s=1001.0)
Traceback (most recent call last):
...
miniyarn.security.tokens.InvalidTokenError: Invalid signature
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import time
from urllib.parse import parse_qsl

TYPE = "token"
COOKIE = "hadoop.auth"
# A day, as hadoop.http.authentication.token.validity (36000 s) is about; long enough for a laptop session.
DEFAULT_TTL_S = 24 * 3600
_USER = re.compile(r"[A-Za-z0-9._@-]{1,64}")


class InvalidTokenError(ValueError):
    """The token is malformed, its signature is wrong, or it expired; the message says which."""


def valid_user(user: str) -> bool:
    return _USER.fullmatch(user) is not None


def _signature(secret: bytes, text: str) -> str:
    mac = hmac.new(secret, text.encode(), hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


def cookie_value(secret: bytes, user: str, ttl_s: int = DEFAULT_TTL_S, now_s: float | None = None) -> str:
    """The signed AuthenticationToken string (the `hadoop.auth` cookie's value)."""
    if not valid_user(user):
        raise InvalidTokenError(f"Invalid user name {user!r}: letters, digits and . _ @ - only, at most 64")
    expiry_ms = int(((time.time() if now_s is None else now_s) + ttl_s) * 1000)
    text = f"u={user}&p={user}&t={TYPE}&e={expiry_ms}"
    return f"{text}&s={_signature(secret, text)}"


def sign(secret: bytes, user: str, ttl_s: int = DEFAULT_TTL_S, now_s: float | None = None) -> str:
    """A Bearer token for `user`: the signed string, base64url without padding."""
    raw = cookie_value(secret, user, ttl_s, now_s).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def verify_cookie(secret: bytes, value: str, now_s: float | None = None) -> str:
    """The user a signed AuthenticationToken string names, or InvalidTokenError."""
    text, sep, sig = value.strip('"').rpartition("&s=")
    if not sep:
        raise InvalidTokenError("Invalid signed text")
    if not hmac.compare_digest(_signature(secret, text).encode(), sig.encode()):
        raise InvalidTokenError("Invalid signature")
    fields = dict(parse_qsl(text, keep_blank_values=True))
    user, expiry = fields.get("u", ""), fields.get("e", "")
    if not valid_user(user) or not expiry.isdigit():
        raise InvalidTokenError("Invalid AuthToken")
    if int(expiry) < int((time.time() if now_s is None else now_s) * 1000):
        raise InvalidTokenError("AuthenticationToken expired")
    return user


def verify(secret: bytes, token: str, now_s: float | None = None) -> str:
    """The user a Bearer token names, or InvalidTokenError."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidTokenError("Invalid token encoding") from None
    return verify_cookie(secret, raw, now_s)
