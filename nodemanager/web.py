"""The NM's HTTP server on its one port: `/health`, YARN's NM REST API under `/ws/v1/node/` (`info`,
`apps`, `containers`, `containerlogs`) and the log pages at `/node/containerlogs/...`.

The stdlib ThreadingHTTPServer keeps the NM small (its RSS budget is 80 MB); routing is a plain
function from path to response, so it is tested without a socket.
"""

from __future__ import annotations

import html
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from miniyarn.ids import ContainerId, InvalidIdError
from miniyarn.records import GUARANTEED
from nodemanager.container import NMContainer
from nodemanager.container_manager import ContainerManager
from nodemanager.context import VERSION, NMContext
from nodemanager.logs.files import list_logs, read_log
from nodemanager.metrics import NodeManagerCollector, metrics_text

log = logging.getLogger("nodemanager.WebServer")

JSON = "application/json"
TEXT = "text/plain; charset=utf-8"
HTML = "text/html; charset=utf-8"


@dataclass
class Response:
    status: int
    content_type: str
    body: bytes

    @classmethod
    def json(cls, obj: Any, status: int = 200) -> Response:
        return cls(status, JSON, json.dumps(obj).encode())


def remote_error(status: int, exception: str, message: str) -> Response:
    java = {"NotFoundException": "org.apache.hadoop.yarn.webapp.NotFoundException",
            "BadRequestException": "org.apache.hadoop.yarn.webapp.BadRequestException"}.get(exception, exception)
    return Response.json({"RemoteException": {"exception": exception, "message": message, "javaClassName": java}},
                         status)


class NodeWebApp:
    def __init__(self, ctx: NMContext, manager: ContainerManager, last_heartbeat_ms: Callable[[], int],
                 rss_of: Callable[[str], int | None]) -> None:
        self.ctx = ctx
        self.manager = manager
        self.last_heartbeat_ms = last_heartbeat_ms
        self.rss_of = rss_of
        self.collector = NodeManagerCollector(ctx, manager, rss_of)

    # ---- shapes --------------------------------------------------------------------------

    def node_info(self) -> dict[str, Any]:
        live = [c for c in self.manager.snapshot() if not c.is_complete]
        mem = sum(c.resource.memory for c in live)
        return {"nodeInfo": {
            "id": self.ctx.node_id, "nodeHostName": self.ctx.host,
            "totalPmemAllocatedContainersMB": mem,
            "totalVmemAllocatedContainersMB": int(mem * self.ctx.vmem_ratio),
            "totalVCoresAllocatedContainers": sum(c.resource.vcores for c in live),
            "vmemCheckEnabled": False, "pmemCheckEnabled": self.ctx.pmem_check,
            "lastNodeUpdateTime": self.last_heartbeat_ms(), "nmStartupTime": self.ctx.start_ms,
            "healthReport": "", "nodeHealthy": True,
            "nodeManagerVersion": VERSION, "nodeManagerBuildVersion": VERSION, "nodeManagerVersionBuiltOn": "",
            "hadoopVersion": VERSION, "hadoopBuildVersion": VERSION, "hadoopVersionBuiltOn": "",
            "totalMemoryMB": self.ctx.capability.memory, "totalVCores": self.ctx.capability.vcores,
        }}

    def container_info(self, c: NMContainer) -> dict[str, Any]:
        rss = self.rss_of(c.id)
        return {
            "id": c.id, "state": c.state.value, "exitCode": c.exit_status, "diagnostics": "".join(c.diagnostics),
            "user": c.user, "totalMemoryNeededMB": c.resource.memory, "totalVCoresNeeded": c.resource.vcores,
            "containerLogsLink": f"http://{self.ctx.http_address}/node/containerlogs/{c.id}/{c.user}",
            "nodeId": self.ctx.node_id, "executionType": GUARANTEED,
            "containerLogFiles": [f.name for f in list_logs(c.paths.log_dir)],
            "pid": c.process.pid if c.process is not None else None,
            "physicalMemoryUsedMB": rss // (1024 * 1024) if rss is not None else None,
        }

    def app_info(self, app_id: str, containers: list[NMContainer]) -> dict[str, Any]:
        running = any(not c.is_complete for c in containers)
        finished = app_id in self.manager.finished_apps
        state = "FINISHED" if finished else ("RUNNING" if running else "APPLICATION_RESOURCES_CLEANINGUP")
        return {"id": app_id, "state": state, "user": containers[0].user if containers else "",
                "containerids": [c.id for c in containers]}

    # ---- routing -------------------------------------------------------------------------

    def log_dir_of(self, cid: str) -> Path | None:
        c = self.manager.get(cid)
        if c is not None:
            return c.paths.log_dir
        app_id = str(ContainerId.parse(cid).application_id)
        for root in self.ctx.log_dirs:
            if (root / app_id / cid).is_dir():
                return root / app_id / cid
        return None

    def handle(self, raw_path: str) -> Response:
        url = urlsplit(raw_path)
        parts = [unquote(p) for p in url.path.split("/") if p]
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        try:
            return self._route(parts, query)
        except InvalidIdError as e:
            return remote_error(400, "BadRequestException", str(e))

    def _route(self, parts: list[str], query: dict[str, str]) -> Response:
        if parts == ["health"]:
            return Response.json({"status": "UP", "nodeId": self.ctx.node_id,
                                  "lastHeartbeat": self.last_heartbeat_ms(),
                                  "containers": sum(1 for c in self.manager.snapshot() if not c.is_complete)})
        if parts == ["metrics"]:
            return Response(200, "text/plain; version=0.0.4; charset=utf-8", metrics_text(self.collector))
        if parts in ([], ["node"]):
            return self.overview()
        if parts[:3] == ["ws", "v1", "node"]:
            return self._rest(parts[3:], query)
        if parts[:2] == ["node", "containerlogs"] and len(parts) in (4, 5):
            cid = parts[2]
            if len(parts) == 4:
                return self.log_listing_page(cid)
            return self.log_file(cid, parts[4], query)
        return remote_error(404, "NotFoundException", f"No such resource: /{'/'.join(parts)}")

    def _rest(self, rest: list[str], query: dict[str, str]) -> Response:
        if rest in ([], ["info"]):
            return Response.json(self.node_info())
        if rest[:1] == ["containers"]:
            if len(rest) == 1:
                items = [self.container_info(c) for c in self.manager.snapshot()]
                return Response.json({"containers": {"container": items} if items else None})
            if len(rest) == 2:
                ContainerId.parse(rest[1])
                c = self.manager.get(rest[1])
                if c is None:
                    return remote_error(404, "NotFoundException", f"container with id, {rest[1]}, not found")
                return Response.json({"container": self.container_info(c)})
        if rest[:1] == ["apps"]:
            by_app: dict[str, list[NMContainer]] = {}
            for c in self.manager.snapshot():
                by_app.setdefault(c.app_id, []).append(c)
            if len(rest) == 1:
                apps = [self.app_info(a, cs) for a, cs in sorted(by_app.items())]
                return Response.json({"apps": {"app": apps} if apps else None})
            if len(rest) == 2:
                if rest[1] not in by_app:
                    return remote_error(404, "NotFoundException", f"app with id {rest[1]} not found")
                return Response.json({"app": self.app_info(rest[1], by_app[rest[1]])})
        if rest[:1] == ["containerlogs"] and len(rest) in (2, 3):
            if len(rest) == 3:
                return self.log_file(rest[1], rest[2], query)
            log_dir = self.log_dir_of(rest[1])
            if log_dir is None:
                return remote_error(404, "NotFoundException", f"Cannot find this container on the NodeManager: "
                                                              f"{rest[1]}")
            files = [{"fileName": f.name, "fileSize": str(f.size), "lastModifiedTime": str(f.modified_ms)}
                     for f in list_logs(log_dir)]
            return Response.json([{"containerLogInfo": files, "logAggregationType": "LOCAL",
                                   "containerId": rest[1], "nodeId": self.ctx.node_id}])
        return remote_error(404, "NotFoundException", f"No such resource: /ws/v1/node/{'/'.join(rest)}")

    def log_file(self, cid: str, name: str, query: dict[str, str]) -> Response:
        log_dir = self.log_dir_of(cid)
        if log_dir is None:
            return remote_error(404, "NotFoundException", f"Cannot find this container on the NodeManager: {cid}")
        try:
            start = int(query["start"]) if "start" in query else None
            end = int(query["end"]) if "end" in query else None
        except ValueError:
            return remote_error(400, "BadRequestException", "start and end must be integers (byte offsets)")
        data = read_log(log_dir, name, start, end)
        if data is None:
            return remote_error(404, "NotFoundException", f"Cannot find log file {name} of container {cid} on "
                                                          f"{self.ctx.node_id}")
        return Response(200, TEXT, data)

    def log_listing_page(self, cid: str) -> Response:
        log_dir = self.log_dir_of(cid)
        if log_dir is None:
            return Response(404, HTML, f"<p>Container {html.escape(cid)} is not on this node.</p>".encode())
        user = self.manager.get(cid)
        owner = user.user if user is not None else self.ctx.nm_user
        rows = "".join(f'<li><a href="/node/containerlogs/{cid}/{html.escape(owner)}/{html.escape(f.name)}">'
                       f"{html.escape(f.name)}</a> ({f.size} bytes)</li>" for f in list_logs(log_dir))
        return Response(200, HTML, f"<h1>Logs of {html.escape(cid)}</h1><ul>{rows}</ul>".encode())

    def overview(self) -> Response:
        rows = "".join(
            f"<tr><td>{c.id}</td><td>{c.state.value}</td><td>{c.resource}</td><td>{c.exit_status}</td>"
            f'<td><a href="/node/containerlogs/{c.id}/{html.escape(c.user)}">logs</a></td></tr>'
            for c in self.manager.snapshot())
        page = (f"<html><head><title>NodeManager {self.ctx.node_id}</title></head><body>"
                f"<h1>NodeManager {self.ctx.node_id}</h1><p>Total resource {self.ctx.capability}</p>"
                f"<table><tr><th>Container</th><th>State</th><th>Resource</th><th>Exit</th><th></th></tr>"
                f"{rows}</table></body></html>")
        return Response(200, HTML, page.encode())


def make_server(host: str, port: int) -> ThreadingHTTPServer:
    """Bound now (so port 0 becomes a real port before the node id is fixed); served later."""
    server = ThreadingHTTPServer((host, port), BaseHTTPRequestHandler)
    server.daemon_threads = True
    return server


def serve(server: ThreadingHTTPServer, app: NodeWebApp) -> threading.Thread:
    class Handler(BaseHTTPRequestHandler):
        server_version = "miniyarn-NodeManager"

        def do_GET(self) -> None:
            try:
                resp = app.handle(self.path)
            except Exception:
                log.exception("GET %s failed", self.path)
                resp = remote_error(500, "WebApplicationException", "internal error; see the NodeManager log")
            self.send_response(resp.status)
            self.send_header("Content-Type", resp.content_type)
            self.send_header("Content-Length", str(len(resp.body)))
            self.end_headers()
            self.wfile.write(resp.body)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s " + format, self.address_string(), *args)

    server.RequestHandlerClass = Handler
    t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.5}, name="NM web", daemon=True)
    t.start()
    return t
