"""Who is asking, before any RM route runs: Hadoop's AuthenticationFilter, RestCsrfPreventionFilter and a
Host check, as one ASGI middleware in front of the whole web app.

Every route but `/health`, `/login`, `/logout` and `/static/` needs a credential (`miniyarn.security.http_auth`:
a Bearer token, the `hadoop.auth` cookie, or in `simple` mode `?user.name=`); the user lands on
`request.state.user`. REST callers without one get 401 with YARN's RemoteException, browsers the login page.
State changes authenticated by something a browser sends on its own (the cookie, `simple` mode) must be
same-origin and must not be a "simple" cross-site request; Bearer requests cannot be forged by a page.
A Host the RM does not answer to is refused (DNS rebinding). Paths `/proxy/<appId>/~<capability>/…` are
authenticated by their capability (`resourcemanager.webapp.capability`) and answer CORS for `Origin: null`.
"""

from __future__ import annotations

import logging
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from miniyarn.security import tokens
from miniyarn.security.http_auth import HttpAuthConfig, authenticate, bearer
from resourcemanager.webapp import capability

log = logging.getLogger("resourcemanager.webapp.auth")

OPEN_PATHS = frozenset({"/health", "/login", "/logout"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# What a cross-site <form> or a fetch without a CORS preflight may send: never accepted on a state change.
SIMPLE_TYPES = frozenset({"text/plain", "application/x-www-form-urlencoded", "multipart/form-data"})
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1", "localhost.localdomain"})
_CAPABILITY_PATH = re.compile(r"^/proxy/([^/]+)/~([A-Za-z0-9_.=-]+)(/.*)?$")
# The RM's own pages: no framing (a proxied page cannot clickjack the kill button), no plugins, and
# scripts only from /static/ (the UI has no inline script).
RM_CSP = ("default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; "
          "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
AUTHN_CLASS = "org.apache.hadoop.security.authentication.client.AuthenticationException"


def remote_exception(status: int, exception: str, message: str, java_class: str,
                     headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, headers=headers, content={"RemoteException": {
        "exception": exception, "message": message, "javaClassName": java_class}})


def forbidden(message: str) -> JSONResponse:
    return remote_exception(403, "AccessControlException", message, "org.apache.hadoop.security.AccessControlException")


def host_name(host_header: str) -> str:
    """`[::1]:8088` -> `::1`, `Example:80` -> `example`."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def allowed_hosts(advertise: str, bind_host: str, extra: Iterable[str] = ()) -> frozenset[str]:
    names = set(LOOPBACK_NAMES) | {advertise.lower()} | {e.strip().lower() for e in extra if e.strip()}
    if bind_host in ("", "0.0.0.0", "::"):
        # Bound everywhere: the machine's own names are how others on the network reach it.
        names |= {socket.gethostname().lower(), socket.getfqdn().lower()}
    else:
        names.add(bind_host.lower())
    return frozenset(names)


def safe_next(target: str | None) -> str:
    """A local path to return to after login, never another site (`//evil`, `https://evil`)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/cluster"
    return target


@dataclass(frozen=True)
class WebAuth:
    conf: HttpAuthConfig
    hosts: frozenset[str]
    capability_key: bytes


def client_of(scope: Scope) -> str:
    client = scope.get("client")
    return f"{client[0]}:{client[1]}" if client else "?"


class AuthMiddleware:
    def __init__(self, app: ASGIApp, auth: WebAuth) -> None:
        self.app = app
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        path: str = scope["path"]
        method: str = scope["method"]
        headers = request.headers
        if host_name(headers.get("host", "")) not in self.auth.hosts:
            log.warning("Refused %s %s from %s: Host %r is not one of this ResourceManager's names", method, path,
                        client_of(scope), headers.get("host", ""))
            await remote_exception(400, "BadRequestException", "Invalid Host header",
                                   "org.apache.hadoop.yarn.webapp.BadRequestException")(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        state.setdefault("user", "")
        if path in OPEN_PATHS or path.startswith("/static/"):
            if method not in SAFE_METHODS and not self._same_origin(headers):
                await self._refuse_csrf(scope, receive, send, "cross-origin request")
                return
            await self.app(scope, receive, _with_rm_headers(send))
            return
        m = _CAPABILITY_PATH.match(path)
        if m is not None:
            await self._capability(scope, receive, send, request, m)
            return
        result = authenticate(self.auth.conf, headers.get("authorization"), request.cookies.get(tokens.COOKIE),
                              request.query_params.get("user.name"))
        if result.error:
            await self._unauthenticated(scope, receive, send, request, result.error)
            return
        by_bearer = self._verified_bearer(headers.get("authorization")) and not result.via_cookie
        if method not in SAFE_METHODS and not by_bearer:
            why = self._csrf_problem(headers)
            if why:
                await self._refuse_csrf(scope, receive, send, why, result.user)
                return
        state["user"] = result.user
        state["auth"] = "bearer" if by_bearer else "cookie" if result.via_cookie else "simple"
        await self.app(scope, receive, _with_rm_headers(send))

    # ---- pieces -----------------------------------------------------------------------------------------

    def _verified_bearer(self, authorization: str | None) -> bool:
        """A Bearer token that verifies (in `simple` mode an invalid one is ignored, not trusted)."""
        token = bearer(authorization)
        if token is None or self.auth.conf.secret is None:
            return False
        if self.auth.conf.kind == "token":
            return True  # authenticate() has verified it, or answered 401
        try:
            tokens.verify(self.auth.conf.secret, token)
        except tokens.InvalidTokenError:
            return False
        return True

    @staticmethod
    def _same_origin(headers: Headers) -> bool:
        origin = headers.get("origin")
        return origin is None or origin.lower() == f"http://{headers.get('host', '')}".lower()

    def _csrf_problem(self, headers: Headers) -> str:
        if not self._same_origin(headers):
            return f"cross-origin request from {headers.get('origin')}"
        ctype = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if ctype in SIMPLE_TYPES:
            return f"Content-Type {ctype} on a state change (send application/json)"
        return ""

    @staticmethod
    async def _refuse_csrf(scope: Scope, receive: Receive, send: Send, why: str, user: str = "") -> None:
        log.warning("Refused %s %s from %s (user %s): %s", scope["method"], scope["path"], client_of(scope),
                    user or "?", why)
        await forbidden(f"Request refused: {why}. Browser pages may change YARN state only from the "
                        "ResourceManager's own origin")(scope, receive, send)

    @staticmethod
    async def _unauthenticated(scope: Scope, receive: Receive, send: Send, request: Request, error: str) -> None:
        log.info("Unauthenticated %s %s from %s: %s", scope["method"], scope["path"], client_of(scope), error)
        response: Response
        if scope["method"] == "GET" and "text/html" in request.headers.get("accept", ""):
            here = scope["path"] + (f"?{request.url.query}" if request.url.query else "")
            # A navigation started by another site (or a sandboxed page: an opaque origin) arrives without
            # the SameSite=Strict cookie even when the browser has it; the login page then retries once
            # from the RM's own origin, which does carry it.
            cross_site = request.headers.get("sec-fetch-site") == "cross-site" and \
                request.headers.get("sec-fetch-mode") == "navigate"
            resume = "&resume=1" if cross_site else ""
            response = RedirectResponse(f"/login?next={quote(here, safe='')}{resume}", status_code=302)
        else:
            response = remote_exception(
                401, "AuthenticationException",
                f"{error}: send Authorization: Bearer TOKEN (miniyarn token -user NAME) or log in at /login",
                AUTHN_CLASS, headers={"WWW-Authenticate": "Bearer"})
        await response(scope, receive, _with_rm_headers(send))

    async def _capability(self, scope: Scope, receive: Receive, send: Send, request: Request,
                          m: re.Match[str]) -> None:
        app_id, cap, rest = m.group(1), m.group(2), m.group(3) or "/"
        if scope["method"] == "OPTIONS":  # the sandboxed page's CORS preflight (a PATCH to cancel a job)
            await Response(status_code=204, headers={
                "Access-Control-Allow-Origin": "*",
                "Access-Control-Allow-Methods": "GET, POST, PUT, PATCH, DELETE",
                "Access-Control-Allow-Headers": request.headers.get("access-control-request-headers", ""),
                "Access-Control-Max-Age": "600"})(scope, receive, send)
            return
        user = capability.verify(self.auth.capability_key, app_id, cap)
        if user is None:
            log.info("Refused %s %s from %s: invalid or expired proxy capability", scope["method"], scope["path"],
                     client_of(scope))
            if scope["method"] == "GET" and "text/html" in request.headers.get("accept", ""):
                query = f"?{request.url.query}" if request.url.query else ""
                await RedirectResponse(f"/proxy/{app_id}{rest}{query}", status_code=302)(scope, receive, send)
                return
            await remote_exception(401, "AuthenticationException", "Invalid or expired proxy capability: reload "
                                   f"/proxy/{app_id}/", AUTHN_CLASS,
                                   headers={"Access-Control-Allow-Origin": "*"})(scope, receive, send)
            return
        inner = dict(scope, path=f"/proxy/{app_id}{rest}", raw_path=f"/proxy/{app_id}{rest}".encode())
        state: dict[str, Any] = inner.setdefault("state", {})
        state.update(user=user, auth="capability", proxy_prefix=f"/proxy/{app_id}/{capability.MARK}{cap}")
        await self.app(inner, receive, _with_cors(send))


def _with_rm_headers(send: Send) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = MutableHeaders(scope=message)
            if "content-security-policy" not in headers:
                headers["Content-Security-Policy"] = RM_CSP
                headers["X-Frame-Options"] = "DENY"
            headers.setdefault("X-Content-Type-Options", "nosniff")
            # Not no-referrer: with it a browser sends `Origin: null` on the RM's own form posts (login).
            headers.setdefault("Referrer-Policy", "same-origin")
        await send(message)
    return wrapped


def _with_cors(send: Send) -> Send:
    """The capability is the credential, not the origin: a sandboxed page (origin `null`) may read."""
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = MutableHeaders(scope=message)
            headers["Access-Control-Allow-Origin"] = "*"
            headers.setdefault("X-Content-Type-Options", "nosniff")
            headers.setdefault("Referrer-Policy", "no-referrer")
        await send(message)
    return wrapped
