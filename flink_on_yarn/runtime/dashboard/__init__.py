"""The JobManager's web dashboard (a static page over the REST API, served at `/`) and its Prometheus
`/metrics`. The page uses relative URLs only, so it works unchanged under the RM's `/proxy/<appId>/`
(which authenticates the browser and presents the cluster secret). Reached directly, the REST API wants
the secret: `/login` takes it once and sets the `flink.auth` cookie (rest_guard.py)."""

from __future__ import annotations

import functools
import hmac
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from flink_on_yarn.runtime.rest_guard import COOKIE, session_cookie
from miniweb import asset

if TYPE_CHECKING:
    from flink_on_yarn.runtime.jobmanager import JobManager

def _static(name: str) -> tuple[bytes, str] | None:
    return asset(__name__, name)


LOGIN_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Flink - log in</title></head>
<body><h1>Apache Flink Dashboard</h1>{message}
<form method="post" action="login"><label>Cluster secret <input type="password" name="secret"
autocomplete="off" autofocus></label> <button type="submit">Log in</button></form>
<p>The secret is in the cluster's secret file (standalone: <code>flink-$USER-cluster.secret</code> next to the
daemons' pid files); on YARN, open the dashboard through the ResourceManager's <code>/proxy/&lt;appId&gt;/</code>.</p>
</body></html>"""


def add_dashboard_routes(app: FastAPI, jm: JobManager) -> None:
    @functools.cache
    def registry() -> Any:
        # Made at the first scrape: prometheus_client's import is a tenth of a second of CPU that a
        # JobManager's start (on a deploy's critical path) need not pay.
        from prometheus_client import CollectorRegistry

        from flink_on_yarn.runtime.dashboard.metrics import JobManagerCollector

        made = CollectorRegistry(auto_describe=False)
        made.register(JobManagerCollector(jm))
        return made

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

    @app.get("/login", response_class=HTMLResponse)
    def login_page() -> HTMLResponse:
        return HTMLResponse(LOGIN_PAGE.format(message=""))

    @app.post("/login", response_model=None)
    async def login(request: Request) -> Response:
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        given = (form.get("secret") or [""])[0].strip().encode()
        if not hmac.compare_digest(given, jm.secret):
            return HTMLResponse(LOGIN_PAGE.format(message="<p>Wrong secret.</p>"), status_code=403)
        page = RedirectResponse("./", status_code=303)
        page.set_cookie(COOKIE, session_cookie(jm.secret), httponly=True, samesite="strict")
        return page

    @app.get("/metrics")
    async def metrics() -> Response:
        # async: runs on the JobManager's event loop, so the state it reads is not changing underneath it.
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return Response(generate_latest(registry()), media_type=CONTENT_TYPE_LATEST)
