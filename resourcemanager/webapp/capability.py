"""Proxy capabilities: what lets an ApplicationMaster's own page call back through `/proxy/<appId>/`.

Proxied pages are served with `Content-Security-Policy: sandbox` (no `allow-same-origin`), so their origin
is opaque: their fetches carry `Origin: null` and, being cross-site to the RM, no `hadoop.auth` cookie
(SameSite=Strict). A browser's first page load of `/proxy/<appId>/…` is authenticated by the cookie and
redirected to `/proxy/<appId>/~<capability>/…`; the page's relative URLs then carry the capability, which
names the user and the application and authorizes that one application's proxy and nothing else.

>>> cap = issue(b"k", "application_1_0001", "alice", now_s=100.0)
>>> verify(b"k", "application_1_0001", cap, now_s=101.0)
'alice'
>>> verify(b"k", "application_1_0002", cap, now_s=101.0) is None
True
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time

from miniyarn.security import tokens

# A working day: a dashboard left open keeps polling with the capability it was loaded with, and a page
# reload (cookie-authenticated) gets a fresh one. It authorizes one application's proxy for one user only.
TTL_S = 8 * 3600
MARK = "~"


def _mac(key: bytes, app_id: str, payload: str) -> str:
    digest = hmac.new(key, f"{app_id}\n{payload}".encode(), hashlib.sha256).digest()[:18]
    return base64.urlsafe_b64encode(digest).decode()


def issue(key: bytes, app_id: str, user: str, ttl_s: int = TTL_S, now_s: float | None = None) -> str:
    expiry = int((time.time() if now_s is None else now_s) + ttl_s)
    payload = f"{user}:{expiry}"
    encoded = base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")
    return f"{encoded}.{_mac(key, app_id, payload)}"


def verify(key: bytes, app_id: str, capability: str, now_s: float | None = None) -> str | None:
    """The user the capability names for `app_id`, or None (forged, another app's, or expired)."""
    encoded, _, mac = capability.partition(".")
    try:
        payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    if not hmac.compare_digest(_mac(key, app_id, payload).encode(), mac.encode()):
        return None
    user, _, expiry = payload.rpartition(":")
    if not tokens.valid_user(user) or not expiry.isdigit():
        return None
    if int(expiry) < (time.time() if now_s is None else now_s):
        return None
    return user
