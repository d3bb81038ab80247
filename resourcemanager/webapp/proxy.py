"""YARN's web proxy, so only the RM's port needs to be reachable from the user's browser:

- `/proxy/<appId>/…` forwards to the AM's own tracking URL (the Flink dashboard, say);
- `/node/<nodeId>/…` forwards to that NodeManager's `/node/…` pages (container logs).

Responses stream through as they arrive (a growing log, server-sent events); HTML pages are buffered so
that absolute links (`href="/x"`, `src=`, `action=`, the upstream's own `http://host:port/x`) and redirects
point back through the proxy. Scripts are not rewritten: UIs behind the proxy use relative URLs.

An application whose AM has unregistered keeps its tracking URL, but its UI goes away with the AM (a Flink
per-job cluster's JobManager exits right after its job ends). There is no history server here, so once the
AM's container has exited (the app is FINISHED, FAILED or KILLED), or the unregistered AM no longer answers,
the proxy says so instead of failing: a page load is redirected to the RM's `/cluster/app/<appId>`, as
YARN's proxy does for an application with no UI left, and any other request (a UI's own REST polling) gets
`410 Gone` with a JSON body naming the application's state, final status and diagnostics.

As YARN's WebAppProxy should be (docs/security.md, "The web proxy"): it forwards only to `http://` on the
AM container's own node host, never to the RM's, an NM's or Redis's port there (`target`); it never
forwards the browser's Cookie or Authorization (the AM gets the application's client-to-AM secret, an NM a
short token for the user) and keeps no cookie jar; upstreams get connect and read timeouts, and each
application (and node) at most `PER_TARGET_CONCURRENCY` requests at once, so one silent AM cannot starve
the others. Proxied AM pages are served `Content-Security-Policy: sandbox …` without `allow-same-origin`
(their origin is opaque, so they cannot act on the RM's origin; see `capability`), NM pages without
scripts; VIEW_APP guards GETs and MODIFY_APP the rest.
"""

from __future__ import annotations

import http.cookiejar
import logging
import re
from collections.abc import AsyncIterator, Callable
from urllib.parse import quote, urlsplit

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from miniyarn.ids import ApplicationId, ContainerId, InvalidIdError, container_hostname, sandbox_hostname
from miniyarn.security import tokens
from miniyarn.security.acls import ApplicationAccessType
from miniyarn.security.http_auth import is_loopback
from miniyarn.states.application import APP_MACHINE, FinalApplicationStatus, YarnApplicationState
from resourcemanager.errors import AccessControlError, BadRequestError, NotFoundError
from resourcemanager.rm import ResourceManager
from resourcemanager.rmstate import RMApp
from resourcemanager.webapp import capability, views
from resourcemanager.webapp.access import Access, user_of
from resourcemanager.webapp.auth import WebAuth, client_of

log = logging.getLogger("resourcemanager.webapp.proxy")

# Hop-by-hop headers and the ones recomputed on our side must not be copied across the proxy.
_DROP = {"host", "connection", "keep-alive", "transfer-encoding", "content-length", "upgrade",
         "proxy-connection", "te", "trailer"}
# The browser's credentials for the RM are not the upstream's business (an AM could replay them).
_DROP_REQUEST = _DROP | {"cookie", "authorization", "proxy-authorization", "origin", "referer"}
# An upstream must not set cookies on the RM's origin, nor choose its own security policy or CORS.
_DROP_RESPONSE = _DROP | {"set-cookie", "set-cookie2", "content-security-policy", "x-frame-options",
                          "access-control-allow-origin", "access-control-allow-credentials",
                          "access-control-allow-methods", "access-control-allow-headers", "clear-site-data"}
# AM pages run their own scripts (the Flink dashboard) in an opaque origin: they cannot read the RM's
# cookie or call the RM as the user. NM pages need no script at all, so they keep the origin (their
# links stay logged in) and run none.
AM_CSP = "sandbox allow-scripts allow-forms allow-popups allow-modals allow-downloads"
NM_CSP = "sandbox allow-same-origin allow-popups allow-downloads; script-src 'none'; object-src 'none'"
# Connect: an AM on this machine or the next answers a SYN in milliseconds; 5 s means it is gone. Read: a
# proxied stream (a log being followed) may pause, but an upstream silent for a minute is counted dead and
# the request ends with 504, so it holds its slot at most that long.
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 60.0
# A browser opens at most 6 connections per host; 16 is a few dashboards' worth per application. Past it
# an application's (or node's) requests get 503 rather than queue behind its silent ones.
PER_TARGET_CONCURRENCY = 16
# An HTML page larger than this streams through unrewritten rather than sitting in the RM's memory.
MAX_REWRITE_BYTES = 8 << 20
_ATTR = re.compile(rb"""(\b(?:href|src|action)\s*=\s*)(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)
# The AM has unregistered: its UI may still answer for a moment, then goes with its container.
_UNREGISTERED = {YarnApplicationState.FINAL_SAVING, YarnApplicationState.FINISHING}


class Upstream(Exception):
    """The upstream did not answer (refused, reset, timed out)."""


class ProxyRefused(Exception):
    """The target is not one the proxy may reach; the message says why (shown to the user, logged)."""


def _host_port(address: str) -> tuple[str, int | None]:
    parts = urlsplit(address if "//" in address else f"//{address}")
    try:
        return (parts.hostname or ""), parts.port
    except ValueError:
        return (parts.hostname or ""), None


def target(tracking_url: str, node_hosts: set[str], forbidden: set[tuple[str, int]]) -> str:
    """The upstream base URL for an AM's tracking URL, or ProxyRefused: http only, to the AM container's
    node host, never to a cluster daemon's port there (no SSRF into the RM's own REST, an NM, Redis).

    >>> target("127.0.0.1:8081/x", {"127.0.0.1"}, {("127.0.0.1", 8088)})
    'http://127.0.0.1:8081/x'
    >>> target("http://127.0.0.1:8088/ws/v1/cluster", {"127.0.0.1"}, {("127.0.0.1", 8088)})
    Traceback (most recent call last):
    ...
    resourcemanager.webapp.proxy.ProxyRefused: tracking URL http://127.0.0.1:8088/ws/v1/cluster is a cluster daemon's port, not the ApplicationMaster's
    """  # noqa: E501
    url = tracking_url if "://" in tracking_url else "http://" + tracking_url
    parts = urlsplit(url)
    if parts.scheme != "http":
        raise ProxyRefused(f"tracking URL {tracking_url} is not http:// (the proxy forwards http only)")
    host, port = _host_port(parts.netloc)
    try:
        parts.port  # noqa: B018 -- raises on a port that is not a number
    except ValueError:
        host = ""
    if parts.username is not None or parts.password is not None or not host:
        raise ProxyRefused(f"tracking URL {tracking_url} has no plain host:port")
    if host not in node_hosts:
        raise ProxyRefused(f"tracking URL {tracking_url} is not on the ApplicationMaster's node "
                           f"({', '.join(sorted(node_hosts)) or 'unknown'})")
    if (host, port or 80) in forbidden:
        raise ProxyRefused(f"tracking URL {tracking_url} is a cluster daemon's port, not the ApplicationMaster's")
    return url


class Gate:
    """At most `limit` requests in flight per key (an application, a node)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.inflight: dict[str, int] = {}

    def enter(self, key: str) -> bool:
        if self.inflight.get(key, 0) >= self.limit:
            return False
        self.inflight[key] = self.inflight.get(key, 0) + 1
        return True

    def leave(self, key: str) -> None:
        left = self.inflight.get(key, 1) - 1
        if left > 0:
            self.inflight[key] = left
        else:
            self.inflight.pop(key, None)


def _refuse_all_cookies() -> http.cookiejar.CookieJar:
    """A jar that keeps nothing: an upstream's Set-Cookie must never reach another request."""
    return http.cookiejar.CookieJar(policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))


def normalized(path: str) -> str:
    """The path with each segment re-quoted; `.`/`..` (also as `%2e%2e`, decoded before us) refused."""
    segs = path.split("/")
    if any(seg in (".", "..") for seg in segs):
        raise BadRequestError("Invalid path: '.' and '..' segments are not allowed")
    return "/".join(quote(seg, safe="@:=+,;!$&'()*~-._") for seg in segs)


def ended_info(app: RMApp) -> dict[str, str]:
    """What the proxy tells a UI whose AM is gone (read under the RM's lock)."""
    state, final = views.client_state(app)
    if final is FinalApplicationStatus.UNDEFINED and app.current is not None:
        final = app.current.final_status  # unregistered (FINAL_SAVING): the AM has said how it ended
    diagnostics = app.diagnostics or (app.current.diagnostics if app.current is not None else "")
    return {"id": app.app_id, "name": app.submission.application_name,
            "applicationType": app.submission.application_type, "state": state.value,
            "finalStatus": final.value, "diagnostics": diagnostics, "appPage": f"/cluster/app/{app.app_id}"}


def ended_response(request: Request, info: dict[str, str]) -> Response:
    if "text/html" in request.headers.get("accept", "") and request.method == "GET":
        return RedirectResponse(info["appPage"], status_code=302)
    message = (f"Application {info['id']} has ended ({info['state']}, final status {info['finalStatus']}): "
               f"its ApplicationMaster's web UI is gone. See {info['appPage']}")
    return JSONResponse({"errors": [message], "application": info}, status_code=410)


class LinkRewriter:
    """Maps the upstream's absolute URLs (origin + `upstream_prefix` + path) to `proxy_prefix` + path."""

    def __init__(self, origin: str, upstream_prefix: str, proxy_prefix: str) -> None:
        self.origin = origin.rstrip("/")
        self.upstream_prefix = upstream_prefix.rstrip("/")
        self.proxy_prefix = proxy_prefix.rstrip("/")

    def url(self, url: str) -> str:
        if url.startswith(self.origin + "/") or url == self.origin:
            url = url[len(self.origin):] or "/"
        elif not url.startswith("/") or url.startswith("//"):
            return url  # relative, or another host's
        if url.startswith(self.proxy_prefix + "/"):
            return url  # already ours
        if self.upstream_prefix and not (url == self.upstream_prefix or url.startswith(self.upstream_prefix + "/")):
            return url
        return self.proxy_prefix + url[len(self.upstream_prefix):]

    def html(self, body: bytes) -> bytes:
        def sub(m: re.Match[bytes]) -> bytes:
            new = self.url(m.group(3).decode("utf-8", "surrogateescape")).encode("utf-8", "surrogateescape")
            return m.group(1) + m.group(2) + new + m.group(2)
        return _ATTR.sub(sub, body)


def add_proxy_routes(app: FastAPI, rm: ResourceManager, access: Access, auth: WebAuth) -> None:
    client = httpx.AsyncClient(
        timeout=httpx.Timeout(connect=CONNECT_TIMEOUT_S, read=READ_TIMEOUT_S, write=READ_TIMEOUT_S,
                              pool=CONNECT_TIMEOUT_S),
        # The gate bounds what each target holds; the pool only has to be larger than a few targets' worth.
        limits=httpx.Limits(max_connections=1024, max_keepalive_connections=64),
        follow_redirects=False, cookies=_refuse_all_cookies(), trust_env=False)
    gate = Gate(PER_TARGET_CONCURRENCY)
    rm_host, rm_port = _host_port(rm.web_address.removeprefix("http://"))
    redis_kwargs = rm.redis.connection_pool.connection_kwargs
    redis_port = int(redis_kwargs.get("port") or 6379)

    def daemon_ports(host: str) -> set[tuple[str, int]]:
        """Ports on `host` that belong to the cluster's own daemons (read under the RM's lock)."""
        out = {(h, p) for h, p in (_host_port(n.http_address) for n in rm.nodes.values()) if p is not None}
        local = is_loopback(host) or host == rm_host
        if local and rm_port is not None:
            out.add((host, rm_port))
        if local or host == str(redis_kwargs.get("host") or ""):
            out.add((host, redis_port))
        return out

    async def forward(request: Request, url: str, rewriter: LinkRewriter, what: str, key: str, csp: str,
                      raise_unreachable: bool = False, authorization: str = "") -> Response:
        if not gate.enter(key):
            log.warning("Refused %s %s from %s: %s already has %d proxied requests in flight", request.method,
                        request.url.path, client_of(request.scope), what, PER_TARGET_CONCURRENCY)
            return Response(status_code=503, headers={"Retry-After": "5"}, media_type="text/plain",
                            content=f"{what} has {PER_TARGET_CONCURRENCY} requests in flight already; retry later\n")
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                gate.leave(key)

        try:
            return await _forward(request, url, rewriter, what, csp, raise_unreachable, authorization, release)
        except BaseException:
            release()
            raise

    async def _forward(request: Request, url: str, rewriter: LinkRewriter, what: str, csp: str,
                       raise_unreachable: bool, authorization: str, release: Callable[[], None]) -> Response:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _DROP_REQUEST}
        if authorization:
            headers["authorization"] = authorization
        if user_of(request):
            headers["X-Forwarded-User"] = user_of(request)
        headers["accept-encoding"] = "identity"  # HTML is rewritten as text; the rest streams as it comes
        headers["X-Forwarded-Prefix"] = rewriter.proxy_prefix
        upstream_req = client.build_request(request.method, url, params=request.url.query,
                                            content=await request.body(), headers=headers)
        try:
            upstream = await client.send(upstream_req, stream=True)
        except httpx.HTTPError as e:
            release()
            if raise_unreachable:
                raise Upstream(str(e)) from e
            timed_out = isinstance(e, httpx.TimeoutException)
            return Response(status_code=504 if timed_out else 502, media_type="text/plain",
                            content=f"{what} at {url} did not answer: {type(e).__name__}\n",
                            headers={"Content-Security-Policy": csp})
        # DEBUG: a browser on an AM's dashboard polls it every few seconds; INFO would be a line per poll.
        log.debug("Proxied %s %s for %s: %d", request.method, url, user_of(request) or "-", upstream.status_code)
        out = {k: v for k, v in upstream.headers.items() if k.lower() not in _DROP_RESPONSE}
        out["Content-Security-Policy"] = csp
        out["X-Content-Type-Options"] = "nosniff"
        out["Referrer-Policy"] = "no-referrer"  # the capability in the URL must not leak to other sites
        if "location" in upstream.headers:
            out["location"] = rewriter.url(upstream.headers["location"])
        ctype = upstream.headers.get("content-type", "")
        try:
            length = int(upstream.headers.get("content-length") or 0)
        except ValueError:
            length = 0
        if ctype.startswith("text/html") and length <= MAX_REWRITE_BYTES:
            try:
                body = await upstream.aread()
            except httpx.HTTPError as e:
                return Response(status_code=504 if isinstance(e, httpx.TimeoutException) else 502,
                                media_type="text/plain", content=f"{what} at {url} broke off: {type(e).__name__}\n")
            finally:
                await upstream.aclose()
                release()
            out.pop("content-encoding", None)
            return Response(status_code=upstream.status_code, content=rewriter.html(body), headers=out)

        async def relay() -> AsyncIterator[bytes]:
            try:
                async for chunk in upstream.aiter_raw():
                    yield chunk
            except httpx.HTTPError as e:  # a read timeout mid-stream: end the response, keep the RM quiet
                log.info("%s at %s broke off mid-response: %s", what, url, type(e).__name__)
            finally:
                await upstream.aclose()
                release()

        return StreamingResponse(relay(), status_code=upstream.status_code, headers=out)

    @app.get("/proxy/{app_id}")
    def proxy_root(app_id: str, request: Request) -> RedirectResponse:
        # The AM's UI links relatively, which needs the trailing slash.
        query = f"?{request.url.query}" if request.url.query else ""
        return RedirectResponse(f"/proxy/{app_id}/{query}", status_code=302)

    @app.api_route("/proxy/{app_id}/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def proxy(app_id: str, path: str, request: Request) -> Response:
        path = normalized(path)
        wants = ApplicationAccessType.VIEW_APP if request.method == "GET" else ApplicationAccessType.MODIFY_APP

        def look_up() -> tuple[RMApp, str, set[str], set[tuple[str, int]], bool, dict[str, str] | None]:
            with rm.lock:
                target_app = rm.get_app(app_id)
                access.require(request, target_app, wants)
                attempt = target_app.current
                base = attempt.tracking_url if attempt is not None else ""
                node_hosts = {h for h in (_host_port(attempt.am_node_http)[0], _host_port(attempt.am_node_id)[0])
                              if h} if attempt is not None else set()
                forbidden = {p for h in node_hosts for p in daemon_ports(h)}
                if attempt is not None and attempt.am_container_id:
                    # A Docker AM container on a network of its own (compose's) is reached at its own
                    # hostname, which that network's DNS gives to this container alone; no daemon runs there.
                    # Or, sharing its node's network namespace (the NM's default there), at the node's sandbox.
                    node_hosts |= {sandbox_hostname(h) for h in node_hosts} | {
                        container_hostname(attempt.am_container_id)}
                unregistered = target_app.state in _UNREGISTERED
                ended = ended_info(target_app) if unregistered or APP_MACHINE.is_final(target_app.state) else None
                return target_app, base, node_hosts, forbidden, unregistered, ended

        # The RM lock is waited for in the threadpool: on the event loop a busy inbox batch stalled every request.
        target_app, base, node_hosts, forbidden, unregistered, ended = await run_in_threadpool(look_up)
        if ended is not None and not unregistered:
            return ended_response(request, ended)  # the AM's container has exited, and its UI with it
        if not base:
            if ended is not None:
                return ended_response(request, ended)
            raise NotFoundError(f"Application {app_id} has no tracking URL yet (state {target_app.state.value})")
        state = request.state
        if (getattr(state, "auth", "") in ("cookie", "simple") and request.method == "GET"
                and "text/html" in request.headers.get("accept", "")):
            # A browser's page load: from here on the page's own URLs carry a capability (see `capability`).
            cap = capability.issue(auth.capability_key, app_id, user_of(request))
            query = f"?{request.url.query}" if request.url.query else ""
            return RedirectResponse(f"/proxy/{app_id}/{capability.MARK}{cap}/{path}{query}", status_code=302)
        try:
            base = target(base, node_hosts, forbidden)
        except ProxyRefused as e:
            log.warning("Refused to proxy %s %s for %s (user %s): %s", request.method, request.url.path,
                        client_of(request.scope), user_of(request), e)
            return Response(status_code=502, media_type="text/plain", headers={"Content-Security-Policy": AM_CSP},
                            content=f"The proxy refused to forward to application {app_id}: {e}\n")
        parts = urlsplit(base)
        prefix = str(getattr(state, "proxy_prefix", "") or f"/proxy/{app_id}")
        rewriter = LinkRewriter(f"{parts.scheme}://{parts.netloc}", parts.path, prefix)
        try:
            return await forward(request, base.rstrip("/") + "/" + path, rewriter,
                                 f"The ApplicationMaster of {app_id}", f"app:{app_id}", AM_CSP,
                                 raise_unreachable=ended is not None,
                                 authorization=f"Bearer {rm.client_to_am_secret(app_id)}")
        except Upstream:
            assert ended is not None
            return ended_response(request, ended)

    @app.get("/node/{node_id}")
    def node_root(node_id: str) -> RedirectResponse:
        return RedirectResponse(f"/node/{node_id}/", status_code=302)

    @app.get("/node/{node_id}/{path:path}")
    async def node(node_id: str, path: str, request: Request) -> Response:
        path = normalized(path)

        def look_up(path: str) -> tuple[str, str]:
            with rm.lock:
                n = rm.nodes.get(node_id)
                http = n.http_address if n is not None else ""
                segs = path.split("/")
                _require_view(rm, access, request, segs)
                # /node/<nodeId>/containerlogs/<cid>/<file>: the NM's path has the user before the file.
                if len(segs) == 3 and segs[0] == "containerlogs" and segs[2]:
                    user = _container_user(rm, segs[1])
                    if user is not None and segs[2] != user:
                        path = "/".join([segs[0], segs[1], user, segs[2]])
                return http, path

        http, path = await run_in_threadpool(look_up, path)
        if not http:
            raise NotFoundError(f"nodeId, {node_id}, is not found")
        rewriter = LinkRewriter(f"http://{http}", "/node", f"/node/{node_id}")
        # The NM checks who is asking with a short token for the user, never the browser's own credentials.
        nm_auth = f"Bearer {tokens.sign(auth.conf.secret, user_of(request), ttl_s=300)}" \
            if auth.conf.secret and tokens.valid_user(user_of(request)) else ""
        return await forward(request, f"http://{http}/node/{path}", rewriter, f"The NodeManager {node_id}",
                             f"node:{node_id}", NM_CSP, authorization=nm_auth)


def _require_view(rm: ResourceManager, access: Access, request: Request, segs: list[str]) -> None:
    """VIEW_APP on every application a /node/ path names (a container's or an application's id)."""
    for seg in segs:
        app_id = _app_of(seg)
        if app_id is None:
            continue
        app = rm.apps.get(app_id)
        if app is not None:
            access.require(request, app, ApplicationAccessType.VIEW_APP)
        elif access.policy.acl_enabled and not access.policy.is_admin(user_of(request)):
            raise AccessControlError(f"User {user_of(request)} cannot perform operation VIEW_APP on {app_id}")


def _app_of(seg: str) -> str | None:
    if seg.startswith("container_"):
        try:
            return str(ContainerId.parse(seg).application_id)
        except InvalidIdError:
            return None
    if seg.startswith("application_"):
        try:
            return str(ApplicationId.parse(seg))
        except (InvalidIdError, ValueError):
            return None
    return None


def _container_user(rm: ResourceManager, cid: str) -> str | None:
    try:
        app_id = str(ContainerId.parse(cid).application_id)
    except InvalidIdError:
        return None
    app = rm.apps.get(app_id)
    return app.user if app is not None else None
