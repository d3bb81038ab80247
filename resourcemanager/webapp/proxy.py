"""YARN's web proxy: /proxy/<appId>/… forwards to the AM's own tracking URL, so only the RM's port
needs to be reachable from the user's browser."""

from __future__ import annotations

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import Response

from resourcemanager.errors import NotFoundError
from resourcemanager.rm import ResourceManager

# Hop-by-hop headers and the ones httpx recomputes must not be copied across the proxy.
_DROP = {"host", "connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding",
         "upgrade", "proxy-connection", "te", "trailer"}


def add_proxy_routes(app: FastAPI, rm: ResourceManager) -> None:
    client = httpx.AsyncClient(timeout=30.0, follow_redirects=False)

    @app.api_route("/proxy/{app_id}/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def proxy(app_id: str, path: str, request: Request) -> Response:
        with rm.lock:
            target_app = rm.get_app(app_id)
            attempt = target_app.current
            base = attempt.tracking_url if attempt is not None else ""
        if not base:
            raise NotFoundError(f"Application {app_id} has no tracking URL yet (state {target_app.state.value})")
        if not base.startswith(("http://", "https://")):
            base = "http://" + base
        url = base.rstrip("/") + "/" + path
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _DROP}
        try:
            upstream = await client.request(request.method, url, params=dict(request.query_params),
                                            content=await request.body(), headers=headers)
        except httpx.HTTPError as e:
            return Response(status_code=502, content=f"The ApplicationMaster at {base} did not answer: {e}\n",
                            media_type="text/plain")
        out_headers = {k: v for k, v in upstream.headers.items() if k.lower() not in _DROP}
        return Response(status_code=upstream.status_code, content=upstream.content, headers=out_headers)
