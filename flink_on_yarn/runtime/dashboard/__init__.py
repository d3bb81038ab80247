"""The JobManager's web dashboard (a static page over the REST API, served at `/`) and its Prometheus
`/metrics`. The page uses relative URLs only, so it works unchanged under the RM's `/proxy/<appId>/`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from flink_on_yarn.runtime.dashboard.metrics import JobManagerCollector
from miniyarn.webassets import asset

if TYPE_CHECKING:
    from flink_on_yarn.runtime.jobmanager import JobManager

def _static(name: str) -> tuple[bytes, str] | None:
    return asset(__name__, name)


def add_dashboard_routes(app: FastAPI, jm: JobManager) -> None:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(JobManagerCollector(jm))

    @app.get("/", response_class=HTMLResponse)
    def index() -> HTMLResponse:
        page = _static("index.html")
        return HTMLResponse(page[0] if page else b"", headers={"Cache-Control": "no-cache"})

    @app.get("/dashboard", response_model=None)
    def dashboard_root() -> RedirectResponse:
        # Relative, so it stays under /proxy/<appId>/ when reached through the RM.
        return RedirectResponse("./", status_code=302)

    @app.get("/dashboard/{name}")
    def static(name: str) -> Response:
        found = _static(name)
        if found is None:
            return Response(status_code=404, content=f"no such dashboard file: {name}\n", media_type="text/plain")
        return Response(found[0], media_type=found[1], headers={"Cache-Control": "no-cache"})

    @app.get("/metrics")
    async def metrics() -> Response:
        # async: runs on the JobManager's event loop, so the state it reads is not changing underneath it.
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
