"""The RM's web UI: `/cluster` (overview), `/cluster/apps`, `/cluster/app/<appId>`, `/cluster/nodes`,
`/cluster/scheduler`. Each page is rendered here first (every user-supplied string through html.escape),
then `static/ui.js` keeps it current by polling the YARN REST API every second and rebuilding the tables
through the DOM (textContent only). The JS and CSS are package data served from `/static/`: no CDN."""

from __future__ import annotations

import html
import time
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from miniyarn.security.acls import ApplicationAccessType
from miniyarn.states.application import APP_MACHINE
from miniyarn.webassets import asset
from resourcemanager.rm import ResourceManager
from resourcemanager.webapp import views
from resourcemanager.webapp.access import Access, user_of

NAV = [("cluster", "/cluster", "Cluster"), ("apps", "/cluster/apps", "Applications"),
       ("nodes", "/cluster/nodes", "Nodes"), ("scheduler", "/cluster/scheduler", "Scheduler")]


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def fmt_time(ms: int) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ms / 1000)) if ms and ms > 0 else "–"


def fmt_duration(ms: int) -> str:
    if ms < 0:
        return "–"
    s = ms // 1000
    m, h = s // 60, s // 3600
    return f"{h}h {m % 60}m" if h else f"{m}m {s % 60}s" if m else f"{s}s"


def badge(state: str) -> str:
    cls = "".join(ch for ch in state if ch.isupper() or ch == "_")
    return f'<span class="badge {cls}">{esc(state)}</span>'


def link(href: str, text: str, cls: str = "") -> str:
    klass = f' class="{esc(cls)}"' if cls else ""
    return f'<a href="{esc(href)}"{klass}>{esc(text)}</a>'


def card(label: str, value: Any, sub: str = "") -> str:
    return (f'<div class="card"><div class="label">{esc(label)}</div><div class="value">{esc(value)}</div>'
            + (f'<div class="sub">{esc(sub)}</div>' if sub else "") + "</div>")


def table(headers: list[str], rows: Iterable[list[str]], empty: str, tbody_id: str = "") -> str:
    """Cells are HTML already escaped by the caller (built with esc/link/badge)."""
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    if not body:
        body = f'<tr><td class="empty" colspan="{len(headers)}">{esc(empty)}</td></tr>'
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    tid = f' id="{esc(tbody_id)}"' if tbody_id else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody{tid}>{body}</tbody></table>"


def meter(used: int, total: int, unit: str) -> str:
    pct = 100.0 * used / total if total else 0.0
    return (f'<span class="meter"><span class="progress"><span style="width:{pct:.0f}%"></span></span>'
            f"{used} / {total}{esc(unit)}</span>")


def shell(title: str, nav: str, body: str, page: str, app_id: str = "") -> HTMLResponse:
    links = "".join(f'<a href="{href}" data-nav="{key}"{" class=active" if key == nav else ""}>{esc(text)}</a>'
                    for key, href, text in NAV)
    doc = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)} · miniyarn</title><link rel="stylesheet" href="/static/style.css"></head>
<body data-page="{esc(page)}" data-app-id="{esc(app_id)}">
<header class="top"><div class="brand">miniyarn <small>ResourceManager</small></div><nav id="nav">{links}</nav>
<span class="live" id="live">live</span><a href="/logout" id="logout">Log out</a></header>
<main id="main">{body}</main>
<script src="/static/ui.js"></script></body></html>"""
    return HTMLResponse(doc, headers={"Cache-Control": "no-cache"})


# ---- fragments (the JS builds the same ones from the REST API) ---------------------------------------

def metrics_cards(m: dict[str, Any]) -> str:
    return '<div class="cards" id="cluster-metrics">' + "".join([
        card("Apps submitted", m["appsSubmitted"]),
        card("Apps pending", m["appsPending"]), card("Apps running", m["appsRunning"]),
        card("Apps completed", m["appsCompleted"], f"{m['appsFailed']} failed, {m['appsKilled']} killed"),
        card("Containers running", m["containersAllocated"], f"{m['containersPending']} pending"),
        card("Memory used", f"{m['allocatedMB']} / {m['totalMB']} MB", f"{m['availableMB']} MB available"),
        card("VCores used", f"{m['allocatedVirtualCores']} / {m['totalVirtualCores']}",
             f"{m['availableVirtualCores']} available"),
        card("Active nodes", m["activeNodes"], f"{m['lostNodes']} lost, {m['unhealthyNodes']} unhealthy"),
    ]) + "</div>"


APP_HEADERS = ["ID", "User", "Name", "Type", "Queue", "State", "Final status", "Progress", "Started", "Elapsed",
               "Tracking UI"]


def app_row(a: dict[str, Any]) -> list[str]:
    return [link(f"/cluster/app/{a['id']}", a["id"], "app-link mono"), esc(a["user"]),
            f'<span class="app-name">{esc(a["name"])}</span>', esc(a["applicationType"]), esc(a["queue"]),
            badge(a["state"]), badge(a["finalStatus"]),
            f'<span class="progress"><span style="width:{float(a["progress"]):.0f}%"></span></span>'
            f'{float(a["progress"]):.0f}%',
            esc(fmt_time(a["startedTime"])), esc(fmt_duration(a["elapsedTime"])),
            link(f"/proxy/{a['id']}/", a["trackingUI"]) if a["trackingUI"] != "UNASSIGNED" else esc("UNASSIGNED")]


NODE_HEADERS = ["Node", "Rack", "State", "Containers", "Memory used", "Memory avail", "VCores used",
                "VCores avail", "Last heartbeat", "Health", "Version"]


def node_row(n: dict[str, Any]) -> list[str]:
    total = n["totalResource"]
    return [link(f"/node/{n['id']}/", n["id"], "mono"), esc(n["rack"]), badge(n["state"]), esc(n["numContainers"]),
            meter(n["usedMemoryMB"], total["memory"], " MB"), esc(f"{n['availMemoryMB']} MB"),
            meter(n["usedVirtualCores"], total["vCores"], ""), esc(n["availableVirtualCores"]),
            esc(fmt_time(n["lastHealthUpdate"])), esc(n["healthReport"] or n["healthStatus"]), esc(n["version"])]


def apps_table(rm: ResourceManager, access: Access, user: str) -> str:
    cluster_mb = views.cluster_memory(rm)
    rows = [app_row(views.app_info(rm, a, cluster_mb) if access.may(user, a, ApplicationAccessType.VIEW_APP)
                    else views.restricted(views.app_info(rm, a, cluster_mb)))
            for a in sorted(rm.apps.values(), key=lambda a: -a.seq)]
    return table(APP_HEADERS, rows, "No applications", "apps-body")


def nodes_table(rm: ResourceManager) -> str:
    return table(NODE_HEADERS, [node_row(views.node_info(rm, n)) for n in rm.nodes.values()], "No NodeManagers",
                 "nodes-body")


def queue_rows(q: dict[str, Any], depth: int = 0) -> list[list[str]]:
    pad = "&nbsp;" * 4 * depth
    name = q.get("queuePath") or q.get("queueName", "root")
    used = q.get("resourcesUsed", {"memory": 0, "vCores": 0})
    rows = [[pad + esc(name), esc(q.get("state", "RUNNING")), esc(f"{float(q.get('capacity', 100)):.1f}%"),
             esc(f"{float(q.get('maxCapacity', 100)):.1f}%"),
             f'<span class="progress"><span style="width:{min(100.0, float(q.get("absoluteUsedCapacity", q.get("usedCapacity", 0)))):.0f}%"></span></span>'  # noqa: E501
             + esc(f"{float(q.get('absoluteUsedCapacity', q.get('usedCapacity', 0))):.1f}%"),
             esc(q.get("numApplications", "")), esc(q.get("numPendingApplications", "")),
             esc(f"{used['memory']} MB, {used['vCores']} vcores")]]
    for child in (q.get("queues") or {}).get("queue", []):
        rows += queue_rows(child, depth + 1)
    return rows


QUEUE_HEADERS = ["Queue", "State", "Capacity", "Max capacity", "Absolute used", "Apps", "Pending apps", "Used"]


def scheduler_body(rm: ResourceManager) -> str:
    info = views.scheduler_info(rm)["scheduler"]["schedulerInfo"]
    if info["type"] == "fifoScheduler":
        rows = [[esc("default (FIFO)"), esc(info["qstate"]), esc("100.0%"), esc("100.0%"),
                 esc(f"{100 * float(info['usedCapacity']):.1f}%"), esc(len(rm.apps)), esc(""),
                 esc(f"{info['usedNodeCapacity']} MB")]]
    else:
        rows = queue_rows(info)
    return (f'<h1>Scheduler <span class="muted">({esc(info["type"])})</span></h1>'
            f'<section class="panel"><h2>Queues</h2>{table(QUEUE_HEADERS, rows, "No queues", "queues-body")}</section>')


def app_body(rm: ResourceManager, app_id: str) -> str:
    app = rm.get_app(app_id)
    a = views.app_info(rm, app)
    attempts = views.attempts_info(rm, app)["appAttempts"]["appAttempt"]
    current = app.current
    containers = views.containers_info(rm, app, current.attempt_id)["container"] if current else []
    kv = [("Application id", esc(a["id"])), ("User", esc(a["user"])), ("Name", esc(a["name"])),
          ("Type", esc(a["applicationType"])), ("Queue", esc(a["queue"])), ("Priority", esc(a["priority"])),
          ("Started", esc(fmt_time(a["startedTime"]))), ("Launched", esc(fmt_time(a["launchTime"]))),
          ("Finished", esc(fmt_time(a["finishedTime"]))), ("Elapsed", esc(fmt_duration(a["elapsedTime"]))),
          ("Progress", esc(f"{float(a['progress']):.0f}%")),
          ("Tracking UI", link(f"/proxy/{a['id']}/", a["trackingUI"], "tracking-link")),
          ("Allocated", esc(f"{a['allocatedMB']} MB, {a['allocatedVCores']} vcores in {a['runningContainers']} "
                            "containers")),
          ("Resource use", esc(f"{a['memorySeconds']} MB·s, {a['vcoreSeconds']} vcore·s"))]
    attempt_rows = [[esc(t["appAttemptId"]), badge(t["appAttemptState"]), esc(fmt_time(t["startTime"])),
                     esc(fmt_time(t["finishedTime"])), esc(t["containerId"]), esc(t["nodeId"]),
                     link(views.node_log_url(rm, t["nodeId"], t["containerId"], app.user), "logs")
                     if t["containerId"] else "", esc(t["diagnosticsInfo"])] for t in attempts]
    container_rows = [[esc(c["containerId"]) + (' <span class="badge">AM</span>' if c["isAM"] else ""),
                       link(f"/node/{c['nodeId']}/", c["nodeId"], "mono"), badge(c["containerState"])
                       + (esc(f" exit {c['containerExitStatus']}") if c["containerState"] == "COMPLETE" else ""),
                       esc(f"{c['allocatedMB']} MB"), esc(c["allocatedVCores"]), esc(c["priority"]),
                       esc(fmt_time(c["startedTime"])), link(c["logUrl"], "logs")] for c in containers]
    ask_rows = [[esc(r["priority"]), esc(r["resourceName"]), esc(f"{r['capability']['memory']} MB"),
                 esc(r["capability"]["vCores"]), esc(r["numContainers"])] for r in a["resourceRequests"]]
    done = APP_MACHINE.is_final(app.state)
    reason = (f'<p class="muted" id="pending-reason">{esc(a["pendingReason"])}</p>'
              if a["pendingReason"] and not done else '<p class="muted" id="pending-reason"></p>')
    kill = "" if done else '<button id="kill-app" class="danger" type="button">Kill application</button>'
    return (f'<div class="row"><h1 class="app-title">{esc(a["name"])}</h1><span id="app-state">{badge(a["state"])} '
            f'{badge(a["finalStatus"])}</span>{kill}</div>'
            f'<section class="panel"><dl class="kv" id="app-kv">'
            + "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in kv) + "</dl></section>"
            f'<section class="panel"><h2>Attempts</h2>'
            f'{table(["Attempt", "State", "Started", "Finished", "AM container", "Node", "Logs", "Diagnostics"], attempt_rows, "No attempts yet", "attempts-body")}'  # noqa: E501
            f'</section><section class="panel"><h2>Containers</h2>'
            f'{table(["Container", "Node", "State", "Memory", "VCores", "Priority", "Started", "Logs"], container_rows, "No containers", "containers-body")}'  # noqa: E501
            f'</section><section class="panel"><h2>Pending resource requests</h2>{reason}'
            f'{table(["Priority", "Resource name", "Memory", "VCores", "Containers"], ask_rows, "Nothing pending", "asks-body")}'  # noqa: E501
            f'</section><section class="panel"><h2>Diagnostics</h2><pre class="diag" id="diagnostics">'
            f'{esc(a["diagnostics"] or "–")}</pre></section>')




# Longer than any file name the UIs ship; a longer name is answered 404 before it reaches the filesystem.
MAX_ASSET_NAME = 64


def add_ui_routes(app: FastAPI, rm: ResourceManager, access: Access) -> None:
    @app.get("/", response_model=None)
    def root() -> RedirectResponse:
        return RedirectResponse("/cluster", status_code=302)

    @app.get("/cluster", response_class=HTMLResponse)
    def cluster_page(request: Request) -> HTMLResponse:
        with rm.lock:
            m = views.cluster_metrics(rm)["clusterMetrics"]
            body = (f"<h1>Cluster overview</h1>{metrics_cards(m)}"
                    f'<section class="panel"><h2>Nodes</h2>{nodes_table(rm)}</section>'
                    f'<section class="panel"><h2>Applications</h2>{apps_table(rm, access, user_of(request))}</section>')
        return shell("Cluster", "cluster", body, "cluster")

    @app.get("/cluster/apps", response_class=HTMLResponse)
    def apps_page(request: Request) -> HTMLResponse:
        with rm.lock:
            body = f'<h1>Applications</h1><section class="panel">{apps_table(rm, access, user_of(request))}</section>'
        return shell("Applications", "apps", body, "apps")

    @app.get("/cluster/nodes", response_class=HTMLResponse)
    def nodes_page() -> HTMLResponse:
        with rm.lock:
            body = f'<h1>Nodes</h1><section class="panel">{nodes_table(rm)}</section>'
        return shell("Nodes", "nodes", body, "nodes")

    @app.get("/cluster/scheduler", response_class=HTMLResponse)
    def scheduler_page() -> HTMLResponse:
        with rm.lock:
            body = scheduler_body(rm)
        return shell("Scheduler", "scheduler", body, "scheduler")

    @app.get("/cluster/app/{app_id}", response_class=HTMLResponse)
    def app_page(app_id: str, request: Request) -> HTMLResponse:
        with rm.lock:
            access.require(request, rm.get_app(app_id), ApplicationAccessType.VIEW_APP)
            body = app_body(rm, app_id)
        return shell(app_id, "apps", body, "app", app_id)

    @app.get("/static/{name}")
    def static(name: str) -> Response:
        found = asset(__package__ or "resourcemanager.webapp", name) if len(name) <= MAX_ASSET_NAME else None
        if found is None:
            return Response(status_code=404, content=f"no such file: {name}\n", media_type="text/plain")
        return Response(found[0], media_type=found[1], headers={"Cache-Control": "no-cache"})

