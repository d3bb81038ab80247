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
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse

from miniyarn.ids import ContainerId, InvalidIdError
from miniyarn.states.application import APP_MACHINE, FinalApplicationStatus, YarnApplicationState
from resourcemanager.errors import NotFoundError
from resourcemanager.rm import ResourceManager
from resourcemanager.rmstate import RMApp
from resourcemanager.webapp import views

# Hop-by-hop headers and the ones recomputed on our side must not be copied across the proxy.
_DROP = {"host", "connection", "keep-alive", "transfer-encoding", "content-length", "upgrade",
         "proxy-connection", "te", "trailer"}
# An HTML page larger than this streams through unrewritten rather than sitting in the RM's memory.
MAX_REWRITE_BYTES = 8 << 20
_ATTR = re.compile(rb"""(\b(?:href|src|action)\s*=\s*)(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)
# The AM has unregistered: its UI may still answer for a moment, then goes with its container.
_UNREGISTERED = {YarnApplicationState.FINAL_SAVING, YarnApplicationState.FINISHING}


class Upstream(Exception):
    """The upstream did not answer (refused, reset, timed out)."""


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


def add_proxy_routes(app: FastAPI, rm: ResourceManager) -> None:
    # No read timeout: a proxied stream (a log being tailed, SSE) may be quiet for long stretches.
    client = httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=None), follow_redirects=False)

    async def forward(request: Request, url: str, rewriter: LinkRewriter, what: str,
                      raise_unreachable: bool = False, authorization: str = "") -> Response:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _DROP}
        if authorization:
            headers["authorization"] = authorization
        headers["accept-encoding"] = "identity"  # HTML is rewritten as text; the rest streams as it comes
        headers["X-Forwarded-Prefix"] = rewriter.proxy_prefix
        upstream_req = client.build_request(request.method, url, params=request.url.query,
                                            content=await request.body(), headers=headers)
        try:
            upstream = await client.send(upstream_req, stream=True)
        except httpx.HTTPError as e:
            if raise_unreachable:
                raise Upstream(str(e)) from e
            return Response(status_code=502, content=f"{what} at {url} did not answer: {e!r}\n",
                            media_type="text/plain")
        out = {k: v for k, v in upstream.headers.items() if k.lower() not in _DROP}
        if "location" in upstream.headers:
            out["location"] = rewriter.url(upstream.headers["location"])
        ctype = upstream.headers.get("content-type", "")
        length = int(upstream.headers.get("content-length") or 0)
        if ctype.startswith("text/html") and length <= MAX_REWRITE_BYTES:
            try:
                body = await upstream.aread()
            finally:
                await upstream.aclose()
            out.pop("content-encoding", None)
            return Response(status_code=upstream.status_code, content=rewriter.html(body), headers=out)

        async def relay() -> AsyncIterator[bytes]:
            try:
                async for chunk in upstream.aiter_raw():
                    yield chunk
            finally:
                await upstream.aclose()

        return StreamingResponse(relay(), status_code=upstream.status_code, headers=out)

    @app.get("/proxy/{app_id}")
    def proxy_root(app_id: str, request: Request) -> RedirectResponse:
        # The AM's UI links relatively, which needs the trailing slash.
        query = f"?{request.url.query}" if request.url.query else ""
        return RedirectResponse(f"/proxy/{app_id}/{query}", status_code=302)

    @app.api_route("/proxy/{app_id}/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def proxy(app_id: str, path: str, request: Request) -> Response:
        with rm.lock:
            target_app = rm.get_app(app_id)
            attempt = target_app.current
            base = attempt.tracking_url if attempt is not None else ""
            unregistered = target_app.state in _UNREGISTERED
            ended = ended_info(target_app) if unregistered or APP_MACHINE.is_final(target_app.state) else None
        if ended is not None and not unregistered:
            return ended_response(request, ended)  # the AM's container has exited, and its UI with it
        if not base:
            if ended is not None:
                return ended_response(request, ended)
            raise NotFoundError(f"Application {app_id} has no tracking URL yet (state {target_app.state.value})")
        if not base.startswith(("http://", "https://")):
            base = "http://" + base
        parts = urlsplit(base)
        rewriter = LinkRewriter(f"{parts.scheme}://{parts.netloc}", parts.path, f"/proxy/{app_id}")
        try:
            return await forward(request, base.rstrip("/") + "/" + path, rewriter,
                                 f"The ApplicationMaster of {app_id}", raise_unreachable=ended is not None,
                                 authorization=f"Bearer {rm.client_to_am_secret(app_id)}")
        except Upstream:
            assert ended is not None
            return ended_response(request, ended)

    @app.get("/node/{node_id}")
    def node_root(node_id: str) -> RedirectResponse:
        return RedirectResponse(f"/node/{node_id}/", status_code=302)

    @app.get("/node/{node_id}/{path:path}")
    async def node(node_id: str, path: str, request: Request) -> Response:
        with rm.lock:
            n = rm.nodes.get(node_id)
            http = n.http_address if n is not None else ""
            segs = path.split("/")
            # /node/<nodeId>/containerlogs/<cid>/<file>: the NM's path has the user before the file.
            if len(segs) == 3 and segs[0] == "containerlogs" and segs[2]:
                user = _container_user(rm, segs[1])
                if user is not None and segs[2] != user:
                    path = "/".join([segs[0], segs[1], user, segs[2]])
        if not http:
            raise NotFoundError(f"nodeId, {node_id}, is not found")
        rewriter = LinkRewriter(f"http://{http}", "/node", f"/node/{node_id}")
        return await forward(request, f"http://{http}/node/{path}", rewriter, f"The NodeManager {node_id}")


def _container_user(rm: ResourceManager, cid: str) -> str | None:
    try:
        app_id = str(ContainerId.parse(cid).application_id)
    except InvalidIdError:
        return None
    app = rm.apps.get(app_id)
    return app.user if app is not None else None
