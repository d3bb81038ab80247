"""The RM's web UI: `/cluster` (overview), `/cluster/apps`, `/cluster/app/<appId>`,
`/cluster/appattempt/<attemptId>`, `/cluster/nodes`, `/cluster/scheduler`, `/cluster/cluster` (about) and
`/logs/...` (aggregated container logs, the `yarn.log.server.url` the NMs send a finished container's logs
to). Each page is rendered once, here, from the same views the REST API answers with, by the Jinja2
templates of `templates/` (autoescaped: miniweb.pages); `static/ui.js` keeps a page current by
fetching it again every second and swapping in its live parts. The JS and CSS are package data served from
`/static/`: no CDN."""

from __future__ import annotations

import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from miniweb import asset, pages
from miniyarn.ids import ApplicationAttemptId, InvalidIdError
from miniyarn.security.acls import ApplicationAccessType
from miniyarn.states.application import APP_MACHINE
from resourcemanager.errors import NotFoundError
from resourcemanager.rm import ResourceManager
from resourcemanager.rmstate import RMApp
from resourcemanager.webapp import views
from resourcemanager.webapp.access import Access, user_of

PACKAGE = __package__ or "resourcemanager.webapp"
# Longer than any file name the UIs ship; a longer name is answered 404 before it reaches the filesystem.
MAX_ASSET_NAME = 64


def page(template: str, title: str, active: str, page_key: str, **context: Any) -> HTMLResponse:
    doc = pages.render(PACKAGE, template, title=title, active=active, page=page_key, **context)
    return HTMLResponse(doc, headers={"Cache-Control": "no-cache"})


def ui_link(rm: ResourceManager, app: RMApp, info: dict[str, Any]) -> str:
    """Where the UI's tracking link goes. A running AM's UI through the proxy; once the app has ended with
    no history server to show it, "History" is its AM container's logs (aggregated by then), not this
    page again."""
    if info["trackingUI"] == "History" and app.current is not None and app.current.am_container_id:
        a = app.current
        return views.node_log_url(rm, a.am_node_id, a.am_container_id, app.user)
    return f"/proxy/{app.app_id}/"


def app_rows(rm: ResourceManager, access: Access, user: str) -> list[dict[str, Any]]:
    cluster_mb = views.cluster_memory(rm)
    rows = []
    for a in sorted(rm.apps.values(), key=lambda a: -a.seq):
        info = views.app_info(rm, a, cluster_mb)
        if access.may(user, a, ApplicationAccessType.VIEW_APP):
            rows.append({**info, "uiLink": ui_link(rm, a, info)})
        else:
            rows.append({**views.restricted(info), "uiLink": ""})
    return rows


def node_rows(rm: ResourceManager) -> list[dict[str, Any]]:
    return [views.node_info(rm, n) for n in rm.nodes.values()]


def queue_rows(q: dict[str, Any], depth: int = 0) -> list[dict[str, Any]]:
    """The capacity scheduler's queue tree, depth first, as the scheduler page's rows."""
    used = q.get("resourcesUsed", {"memory": 0, "vCores": 0})
    rows = [{"depth": depth, "name": q.get("queuePath") or q.get("queueName", "root"),
             "state": q.get("state", "RUNNING"), "capacity": float(q.get("capacity", 100)),
             "maxCapacity": float(q.get("maxCapacity", 100)),
             "absoluteUsed": float(q.get("absoluteUsedCapacity", q.get("usedCapacity", 0))),
             "apps": q.get("numApplications", ""), "pending": q.get("numPendingApplications", ""),
             "memory": used["memory"], "vCores": used["vCores"]}]
    for child in (q.get("queues") or {}).get("queue", []):
        rows += queue_rows(child, depth + 1)
    return rows


def scheduler_rows(rm: ResourceManager) -> tuple[str, list[dict[str, Any]]]:
    info = views.scheduler_info(rm)["scheduler"]["schedulerInfo"]
    if info["type"] == "fifoScheduler":
        return info["type"], [{"depth": 0, "name": "default (FIFO)", "state": info["qstate"], "capacity": 100.0,
                               "maxCapacity": 100.0, "absoluteUsed": 100 * float(info["usedCapacity"]),
                               "apps": len(rm.apps), "pending": "", "memory": info["usedNodeCapacity"],
                               "vCores": sum(n.used.vcores for n in rm.nodes.values())}]
    return info["type"], queue_rows(info)


def attempt_rows(rm: ResourceManager, app: RMApp) -> list[dict[str, Any]]:
    return [{**t, "logsUrl": views.node_log_url(rm, t["nodeId"], t["containerId"], app.user)}
            for t in views.attempts_info(rm, app)["appAttempts"]["appAttempt"]]


def add_ui_routes(app: FastAPI, rm: ResourceManager, access: Access) -> None:
    @app.get("/", response_model=None)
    def root() -> RedirectResponse:
        return RedirectResponse("/cluster", status_code=302)

    @app.get("/cluster", response_class=HTMLResponse)
    def cluster_page(request: Request) -> HTMLResponse:
        with rm.lock:
            ctx = {"metrics": views.cluster_metrics(rm)["clusterMetrics"], "nodes": node_rows(rm),
                   "apps": app_rows(rm, access, user_of(request))}
        return page("cluster.html", "Cluster", "cluster", "cluster", **ctx)

    @app.get("/cluster/apps", response_class=HTMLResponse)
    def apps_page(request: Request) -> HTMLResponse:
        with rm.lock:
            apps = app_rows(rm, access, user_of(request))
        return page("apps.html", "Applications", "apps", "apps", apps=apps)

    @app.get("/cluster/nodes", response_class=HTMLResponse)
    def nodes_page() -> HTMLResponse:
        with rm.lock:
            nodes = node_rows(rm)
        return page("nodes.html", "Nodes", "nodes", "nodes", nodes=nodes)

    @app.get("/cluster/scheduler", response_class=HTMLResponse)
    def scheduler_page() -> HTMLResponse:
        with rm.lock:
            kind, queues = scheduler_rows(rm)
        return page("scheduler.html", "Scheduler", "scheduler", "scheduler", kind=kind, queues=queues)

    @app.get("/cluster/cluster", response_class=HTMLResponse)
    def about_page() -> HTMLResponse:
        with rm.lock:
            info = views.cluster_info(rm)["clusterInfo"]
            started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info["startedOn"] / 1000))
            scheduler = views.scheduler_info(rm)["scheduler"]["schedulerInfo"]["type"]
        return page("about.html", "About", "about", "about", info=info, started=started, scheduler=scheduler)

    @app.get("/cluster/app/{app_id}", response_class=HTMLResponse)
    def app_page(app_id: str, request: Request) -> HTMLResponse:
        with rm.lock:
            rm_app = rm.get_app(app_id)
            access.require(request, rm_app, ApplicationAccessType.VIEW_APP)
            info = views.app_info(rm, rm_app)
            current = rm_app.current
            ctx = {"a": {**info, "uiLink": ui_link(rm, rm_app, info)}, "done": APP_MACHINE.is_final(rm_app.state),
                   "attempts": attempt_rows(rm, rm_app),
                   "containers": views.containers_info(rm, rm_app, current.attempt_id)["container"]
                   if current else []}
        return page("app.html", app_id, "apps", "app", app_id=app_id, **ctx)

    @app.get("/cluster/appattempt/{attempt_id}", response_class=HTMLResponse)
    def attempt_page(attempt_id: str, request: Request) -> HTMLResponse:
        try:
            app_id = str(ApplicationAttemptId.parse(attempt_id).application_id)
        except (InvalidIdError, ValueError) as e:
            raise NotFoundError(f"Invalid application attempt id {attempt_id}: {e}") from e
        with rm.lock:
            rm_app = rm.get_app(app_id)
            access.require(request, rm_app, ApplicationAccessType.VIEW_APP)
            found = [t for t in attempt_rows(rm, rm_app) if t["appAttemptId"] == attempt_id]
            if not found:
                raise NotFoundError(f"appattempt with id {attempt_id} not found")
            containers = views.containers_info(rm, rm_app, attempt_id)["container"]
        return page("appattempt.html", attempt_id, "apps", "appattempt", app_id=app_id, t=found[0],
                    containers=containers)

    @app.get("/static/{name}")
    def static(name: str) -> Response:
        found = asset(PACKAGE, name) if len(name) <= MAX_ASSET_NAME else None
        if found is None:
            return Response(status_code=404, content=f"no such file: {name}\n", media_type="text/plain")
        return Response(found[0], media_type=found[1], headers={"Cache-Control": "no-cache"})


