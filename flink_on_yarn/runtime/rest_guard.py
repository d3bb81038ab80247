"""What every JobManager REST request passes before a handler sees it (an ASGI middleware):

- **Cross-site requests are refused** (403): a state-changing request (POST, PUT, PATCH, DELETE) whose
  `Origin` is present and is neither the request's own origin nor a trusted one (the RM's, whose proxy
  serves the dashboard), or which carries a body that is not `application/json` (what a "simple"
  cross-site `text/plain` form or fetch sends). Checked before the credential: through the RM's proxy a
  browser's request arrives with the proxy's credential added.
- **A credential is required**: `Authorization: Bearer <cluster secret>` (what the RM's `/proxy/<appId>/`
  adds, and what `miniflink` sends), or the `flink.auth` cookie `/login` sets for a browser that was given
  the secret (a standalone dashboard); 401 without one, 403 with a wrong one, reads included: job configs,
  exceptions and TaskManager stdout can hold the application's secrets. Open without it: `/health`,
  `/metrics` (counts and job names, for scrapers, as Flink's metric reporters are), `/login` and the
  dashboard's static page, which holds no data.
- **Bodies are capped** at `rest.server.max-content-length` (Flink's key, 100 MB by default): 413.
- **Flink's two state-changing GETs** (`/jobs/<jid>/yarn-cancel`, `/yarn-stop`, what Flink's own dashboard's
  Cancel button calls) are refused through the RM's proxy, which authorizes a GET with VIEW_APP only (a
  viewer must not cancel: PATCH `/jobs/<jid>` needs MODIFY_APP there), and, from a browser holding the
  `flink.auth` cookie, unless the browser says the request is same-origin (`Sec-Fetch-Site`): SameSite
  does not stop another port of the same host from embedding the URL.
- **A Java job graph** (the multipart `POST /jobs` of Flink's own `bin/flink run`) is refused with 400
  naming what runs here instead (`miniflink run -py`).

Errors are Flink's `{"errors": [...]}`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("flink_on_yarn.rest")

WRITES = {"POST", "PUT", "PATCH", "DELETE"}
OPEN_PATHS = {"/health", "/metrics", "/", "/dashboard", "/login"}
OPEN_PREFIXES = ("/dashboard/",)
DEFAULT_MAX_BODY = 104_857_600
COOKIE = "flink.auth"
# The login form is the one write a browser sends as a form: it only ever proves the secret it carries.
FORM_PATHS = {"/login"}
# GETs that change state, kept for Flink's dashboard (its Cancel button) and old YARN-era clients.
GET_WRITE_SUFFIXES = ("/yarn-cancel", "/yarn-stop")
# The RM's proxy always sets it (resourcemanager/webapp/proxy.py); a direct caller that sets it only
# refuses itself the GETs above.
PROXY_HEADER = "x-forwarded-prefix"
JAVA_JOB_SUBMIT = ("Flink's Java job submission (a serialized JobGraph and jars in a multipart POST /jobs) is not "
                   "supported by miniflink, which runs Python DataStream programs: submit with miniflink run -py "
                   "<program.py> (or miniflink run -m <host:port> -py <program.py>)")


def session_cookie(secret: bytes) -> str:
    """The `flink.auth` cookie's value: derived from the secret, so the cookie never holds the secret."""
    return hmac.new(secret, b"flink-dashboard-session", hashlib.sha256).hexdigest()


def cookie_of(header: str) -> str:
    for part in header.split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE:
            return value
    return ""


def origin_of(url: str) -> str:
    """`scheme://host:port` of a URL, lower-cased, or "" for nothing usable."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.netloc else ""


def is_json(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() == "application/json"


class RestGuard:
    def __init__(self, app: ASGIApp, secret: bytes, trusted_origins: list[str] | None = None,
                 max_body: int = DEFAULT_MAX_BODY) -> None:
        self.app = app
        self.expected = b"Bearer " + secret
        self.cookie = session_cookie(secret).encode()
        self.trusted = {o for o in (origin_of(u) for u in trusted_origins or []) if o}
        self.max_body = max_body

    def _refusal(self, scope: Scope, headers: dict[str, str]) -> tuple[int, str] | None:
        method, path = scope["method"], scope["path"]
        if method in WRITES:
            origin = headers.get("origin", "")
            own = f"{scope.get('scheme', 'http')}://{headers.get('host', '')}".lower()
            if origin and origin.lower() not in (own, *self.trusted):
                return 403, f"Cross-origin request refused: {method} {path} from origin {origin}"
            has_body = headers.get("content-length", "0") != "0" or "transfer-encoding" in headers
            ctype = headers.get("content-type", "")
            if method == "POST" and path == "/jobs" and ctype.lower().startswith("multipart/"):
                return 400, JAVA_JOB_SUBMIT
            if (method == "POST" or has_body) and not is_json(ctype) and path not in FORM_PATHS:
                return 403, (f"Refused {method} {path}: the request body must be application/json "
                             f"(got {headers.get('content-type') or 'no Content-Type'})")
        get_write = method == "GET" and path.endswith(GET_WRITE_SUFFIXES)
        if get_write and PROXY_HEADER in headers:
            return 403, (f"Refused GET {path} through the ResourceManager's proxy, which lets viewers GET: "
                         "cancel with PATCH /jobs/<jobId>?mode=cancel (flink cancel, miniflink cancel)")
        if path in OPEN_PATHS or path.startswith(OPEN_PREFIXES):
            return None
        given = headers.get("authorization", "")
        cookie = cookie_of(headers.get("cookie", ""))
        if not given and cookie:
            if not hmac.compare_digest(cookie.encode(), self.cookie):
                return 403, "Invalid flink.auth cookie for this Flink cluster: log in again at /login"
            if get_write and headers.get("sec-fetch-site") != "same-origin":
                return 403, (f"Refused GET {path}: a browser's state-changing GET must be same-origin "
                             f"(Sec-Fetch-Site: {headers.get('sec-fetch-site') or 'missing'})")
            return None
        if not given:
            return 401, ("Authentication required: send this Flink cluster's secret as Authorization: Bearer "
                         "(miniflink sends the one in security.cluster.secret.file, else the standalone "
                         "cluster's flink-<user>-cluster.secret next to its pid files)")
        if not hmac.compare_digest(given.encode(), self.expected):
            return 403, "Invalid credentials for this Flink cluster"
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        refusal = self._refusal(scope, headers)
        if refusal is not None:
            client = scope.get("client") or ("?", "?")
            log.warning("Refused %s %s from %s:%s: %s", scope["method"], scope["path"], client[0], client[1],
                        refusal[1])
            await error(send, *refusal)
            return
        if scope["method"] not in WRITES:
            await self.app(scope, receive, send)
            return
        body = await self._body(headers, receive)
        if body is None:
            await error(send, 413, f"Request body larger than rest.server.max-content-length ({self.max_body} "
                                   "bytes)")
            return
        sent = False

        async def replay() -> MutableMapping[str, Any]:
            nonlocal sent
            if sent:
                return await receive()  # what follows the body: the client's disconnect
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _body(self, headers: dict[str, str], receive: Receive) -> bytes | None:
        """The whole body, or None once it passes the cap (before reading it all, when it says its length)."""
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body:
            return None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


async def error(send: Send, status: int, message: str) -> None:
    body = json.dumps({"errors": [message]}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
