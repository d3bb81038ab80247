"""The NM's HTTP server on its one port: `/health`, YARN's NM REST API under `/ws/v1/node/` (`info`,
`apps`, `containers`, `containerlogs`) and the log pages at `/node/containerlogs/...`.

The stdlib ThreadingHTTPServer keeps the NM small (its RSS budget is 80 MB); routing is a plain
function from (method, path, headers) to response, so it is tested without a socket.

Who may read what: `hadoop.http.authentication.*` as every daemon reads it (`miniyarn.security.http_auth`;
in `token` mode a Bearer token or the `hadoop.auth` cookie, which the RM's `/node/` proxy sends for the
user it authenticated), and a container's logs only for those the app's VIEW_APP ACL admits (the owner
and ACLs come from the RM's app record in Redis). Every value on a page is HTML-escaped: container ids,
users and file names are whatever a container or a forged command chose.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from miniweb import asset, pages
from miniyarn import keys
from miniyarn.ids import ContainerId, InvalidIdError
from miniyarn.records import GUARANTEED
from miniyarn.security import credentials
from miniyarn.security.acls import ApplicationAccessType, can_access, groups_of
from miniyarn.security.http_auth import HttpAuthConfig, authenticate
from nodemanager.container import NMContainer
from nodemanager.container_manager import ContainerManager
from nodemanager.context import VERSION, NMContext
from nodemanager.health import DiskHealth
from nodemanager.logs.files import LogSlice, list_logs, open_dir, open_log
from nodemanager.metrics import NodeManagerCollector, metrics_text
from nodemanager.web_access import acl_policy, app_acls, cookie_token, known_host

log = logging.getLogger("nodemanager.WebServer")

JSON = "application/json"
TEXT = "text/plain; charset=utf-8"
HTML = "text/html; charset=utf-8"
ALLOWED_METHODS = ("GET", "HEAD")
# A log this small is read into the answer; a larger one streams from the file in CHUNK reads.
INLINE_BYTES = 1 << 20
# Logs are user data in a text/plain body: never let a browser sniff them into HTML, and let the NM's
# own pages run no script and load nothing but the shared stylesheet from this same server.
SAFE_HEADERS = {"X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": "default-src 'none'; style-src 'self'; sandbox",
                "X-Frame-Options": "DENY"}
# Where a finished container's logs are once its local dir is gone (YARN's key; `/logs` is the RM's log
# server page, the RM being where the NM's pages are browsed from, through its /node/ proxy).
LOG_SERVER_URL_KEY = "yarn.log.server.url"
DEFAULT_LOG_SERVER_URL = "/logs"
PAGES = "nodemanager"
_JAVA = {"NotFoundException": "org.apache.hadoop.yarn.webapp.NotFoundException",
         "BadRequestException": "org.apache.hadoop.yarn.webapp.BadRequestException",
         "AuthenticationException": "org.apache.hadoop.security.authentication.client.AuthenticationException",
         "AccessControlException": "org.apache.hadoop.security.AccessControlException",
         "WebApplicationException": "javax.ws.rs.WebApplicationException"}


@dataclass
class Response:
    status: int
    content_type: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    stream: LogSlice | None = None  # sent after `body` (its note, if any), then closed

    @classmethod
    def json(cls, obj: Any, status: int = 200) -> Response:
        return cls(status, JSON, json.dumps(obj).encode())

    @property
    def length(self) -> int:
        return len(self.body) + (self.stream.length if self.stream is not None else 0)

    def close(self) -> None:
        if self.stream is not None:
            self.stream.close()


def remote_error(status: int, exception: str, message: str) -> Response:
    return Response.json({"RemoteException": {"exception": exception, "message": message,
                                              "javaClassName": _JAVA.get(exception, exception)}}, status)


def log_range(query: Mapping[str, str]) -> tuple[int | None, int | None]:
    """(start, end) from the log servlet's `start`/`end` byte offsets, or from YARN REST's `size` (the
    first `size` bytes, the last ones when negative); ValueError if one is not an integer.

    >>> log_range({"size": "-100"}), log_range({"size": "10"}), log_range({"start": "5"})
    ((-100, None), (0, 10), (5, None))
    """
    if "start" not in query and "end" not in query and "size" in query:
        size = int(query["size"])
        return (size, None) if size < 0 else (0, size)
    return (int(query["start"]) if "start" in query else None, int(query["end"]) if "end" in query else None)


class NodeWebApp:
    def __init__(self, ctx: NMContext, manager: ContainerManager, last_heartbeat_ms: Callable[[], int],
                 rss_of: Callable[[str], int | None], auth: HttpAuthConfig | None = None,
                 health: Callable[[], DiskHealth] | None = None) -> None:
        self.ctx = ctx
        self.health = health or (lambda: DiskHealth(healthy=True, report=""))
        self.manager = manager
        self.last_heartbeat_ms = last_heartbeat_ms
        self.rss_of = rss_of
        self.collector = NodeManagerCollector(ctx, manager, rss_of)
        self.auth = auth if auth is not None else HttpAuthConfig.from_conf(ctx.conf, credentials.from_env())
        self.policy = acl_policy(ctx.conf)
        self.names = {n.lower() for n in (ctx.host, "localhost", socket.gethostname(), socket.getfqdn()) if n}
        self.log_server_url = ctx.conf.get_str(LOG_SERVER_URL_KEY, DEFAULT_LOG_SERVER_URL).rstrip("/")

    # ---- shapes --------------------------------------------------------------------------

    def node_info(self) -> dict[str, Any]:
        live = [c for c in self.manager.snapshot() if not c.is_complete]
        mem = sum(c.resource.memory for c in live)
        health = self.health()
        return {"nodeInfo": {
            "id": self.ctx.node_id, "nodeHostName": self.ctx.host,
            "totalPmemAllocatedContainersMB": mem,
            "totalVmemAllocatedContainersMB": int(mem * self.ctx.vmem_ratio),
            "totalVCoresAllocatedContainers": sum(c.resource.vcores for c in live),
            "vmemCheckEnabled": False, "pmemCheckEnabled": self.ctx.pmem_check,
            "lastNodeUpdateTime": self.last_heartbeat_ms(), "nmStartupTime": self.ctx.start_ms,
            "healthReport": health.report, "nodeHealthy": health.healthy,
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
            "containerLogFiles": [f.name for f in list_logs(c.paths.log_dir, self.ctx.log_dirs)],
            "pid": c.process.pid if c.process is not None else None,
            "physicalMemoryUsedMB": rss // (1024 * 1024) if rss is not None else None,
        }

    def app_info(self, app_id: str, containers: list[NMContainer]) -> dict[str, Any]:
        running = any(not c.is_complete for c in containers)
        finished = app_id in self.manager.finished_apps
        state = "FINISHED" if finished else ("RUNNING" if running else "APPLICATION_RESOURCES_CLEANINGUP")
        return {"id": app_id, "state": state, "user": containers[0].user if containers else "",
                "containerids": [c.id for c in containers]}

    # ---- who may ---------------------------------------------------------------------------

    def app_owner_and_acls(self, app_id: str, fallback_owner: str) -> tuple[str, dict[str, str]]:
        """From the RM's app record in Redis; a missing or unreadable one leaves only the owner the
        NM knows (the container's user), so only the owner and admins get in."""
        try:
            raw = self.manager.redis.get(keys.app(app_id))
            record = json.loads(raw) if raw is not None else {}
        except Exception as e:  # a Redis outage or a bad record must answer 403, not 500
            log.warning("Cannot read the app record of %s for its ACLs: %s", app_id, e)
            record = {}
        if not isinstance(record, dict):
            record = {}
        return str(record.get("user") or fallback_owner), app_acls(record)

    def may_view(self, user: str, cid: str) -> Response | None:
        """None if `user` may read `cid`'s logs (VIEW_APP), else the 403."""
        if not self.policy.acl_enabled:
            return None
        c = self.manager.get(cid)
        app_id = c.app_id if c is not None else str(ContainerId.parse(cid).application_id)
        owner, acls = self.app_owner_and_acls(app_id, c.user if c is not None else "")
        if can_access(self.policy, user, ApplicationAccessType.VIEW_APP, owner, acls, groups_of(user)):
            return None
        log.warning("Refused %s the logs of %s: not in the VIEW_APP ACL of %s", user, cid, app_id)
        return remote_error(403, "AccessControlException",
                            f"User {user} does not have privilege to see this application {app_id}")

    def who(self, headers: Mapping[str, str], query: dict[str, str]) -> tuple[str, Response | None]:
        got = authenticate(self.auth, headers.get("authorization"), cookie_token(headers.get("cookie")),
                           query.get("user.name"))
        if got.error:
            resp = remote_error(401, "AuthenticationException", got.error)
            resp.headers["WWW-Authenticate"] = "Bearer"
            return "", resp
        return got.user, None

    # ---- routing -------------------------------------------------------------------------

    def log_dir_of(self, cid: str) -> Path | None:
        c = self.manager.get(cid)
        if c is not None:
            # A completed container stays listed a while after its app's dirs were deleted: gone is gone
            # (its logs are aggregated by then), not an empty listing. Reading stays list_logs' (no links).
            return c.paths.log_dir if c.paths.log_dir.is_dir() else None
        app_id = str(ContainerId.parse(cid).application_id)
        for root in self.ctx.log_dirs:
            fd = open_dir(root / app_id / cid, [root])  # a dir a container linked in is no log dir
            if fd is not None:
                os.close(fd)
                return root / app_id / cid
        return None

    def handle(self, raw_path: str, method: str = "GET", headers: Mapping[str, str] | None = None) -> Response:
        """The answer to one request; `headers` with lower-case names."""
        url = urlsplit(raw_path)
        parts = [unquote(p) for p in url.path.split("/") if p]
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        if method not in ALLOWED_METHODS:
            resp = remote_error(405, "WebApplicationException", "HTTP 405 Method Not Allowed")
            resp.headers["Allow"] = ", ".join(ALLOWED_METHODS)
            return resp
        if parts == ["health"]:  # compose's healthcheck and `--check` carry no token
            return self._route(parts, query, "")
        if len(parts) == 2 and parts[0] == "static":  # the shared stylesheet: public, no data in it
            return self.static(parts[1])
        host = (headers or {}).get("host", "")
        if host and not known_host(host, self.names):
            log.warning("Refused a request for Host %r (not a name of this node: DNS rebinding?)", host[:100])
            return remote_error(400, "BadRequestException", "Invalid Host header: not a name of this NodeManager")
        user, refused = self.who(headers or {}, query)
        if refused is not None:
            return refused
        try:
            return self._route(parts, query, user)
        except InvalidIdError as e:
            return remote_error(400, "BadRequestException", str(e))

    def _route(self, parts: list[str], query: dict[str, str], user: str) -> Response:
        if parts == ["health"]:
            return Response.json({"status": "UP", "nodeId": self.ctx.node_id,
                                  "lastHeartbeat": self.last_heartbeat_ms(),
                                  "containers": sum(1 for c in self.manager.snapshot() if not c.is_complete)})
        if parts == ["metrics"]:
            return Response(200, "text/plain; version=0.0.4; charset=utf-8", metrics_text(self.collector))
        if parts in ([], ["node"]):
            return self.overview()
        if parts == ["node", "allContainers"]:
            return self.page("containers.html", "Containers", "containers",
                             containers=[self.container_info(c) for c in self.manager.snapshot()])
        if parts[:2] == ["node", "container"] and len(parts) == 3:
            ContainerId.parse(parts[2])
            c = self.manager.get(parts[2])
            if c is None:
                return remote_error(404, "NotFoundException", f"container with id, {parts[2]}, not found")
            return self.page("container.html", parts[2], "containers", c=self.container_info(c))
        if parts[:3] == ["ws", "v1", "node"]:
            return self._rest(parts[3:], query, user)
        if parts[:2] == ["node", "containerlogs"] and len(parts) in (4, 5):
            cid = parts[2]
            ContainerId.parse(cid)
            refused = self.may_view(user, cid)
            if refused is not None:
                return refused
            if self.log_dir_of(cid) is None:  # finished and cleaned up: its logs are aggregated
                return self.to_log_server(cid, parts[3], parts[4:])
            if len(parts) == 4:
                return self.log_listing_page(cid)
            return self.log_file(cid, parts[4], query)
        return remote_error(404, "NotFoundException", f"No such resource: /{'/'.join(parts)}")

    def _rest(self, rest: list[str], query: dict[str, str], user: str) -> Response:
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
            ContainerId.parse(rest[1])
            refused = self.may_view(user, rest[1])
            if refused is not None:
                return refused
            if len(rest) == 3:
                return self.log_file(rest[1], rest[2], query)
            log_dir = self.log_dir_of(rest[1])
            if log_dir is None:
                return remote_error(404, "NotFoundException", f"Cannot find this container on the NodeManager: "
                                                              f"{rest[1]}")
            files = [{"fileName": f.name, "fileSize": str(f.size), "lastModifiedTime": str(f.modified_ms)}
                     for f in list_logs(log_dir, self.ctx.log_dirs)]
            return Response.json([{"containerLogInfo": files, "logAggregationType": "LOCAL",
                                   "containerId": rest[1], "nodeId": self.ctx.node_id}])
        return remote_error(404, "NotFoundException", f"No such resource: /ws/v1/node/{'/'.join(rest)}")

    def log_file(self, cid: str, name: str, query: dict[str, str]) -> Response:
        log_dir = self.log_dir_of(cid)
        if log_dir is None:
            return remote_error(404, "NotFoundException", f"Cannot find this container on the NodeManager: {cid}")
        try:
            start, end = log_range(query)
        except ValueError:
            return remote_error(400, "BadRequestException", "start, end and size must be integers (bytes)")
        piece = open_log(log_dir, name, self.ctx.log_dirs, start, end)
        if piece is None:
            return remote_error(404, "NotFoundException", f"Cannot find log file {name} of container {cid} on "
                                                          f"{self.ctx.node_id}")
        note = piece.note() if piece.capped else b""
        if piece.length <= INLINE_BYTES:
            return Response(200, TEXT, note + piece.read())
        return Response(200, TEXT, note, stream=piece)

    def page(self, template: str, title: str, active: str, **context: Any) -> Response:
        doc = pages.render(PAGES, template, title=title, active=active, page=active, node_id=self.ctx.node_id,
                           **context)
        return Response(200, HTML, doc.encode())

    def static(self, name: str) -> Response:
        found = asset(PAGES, name)
        if found is None:
            return remote_error(404, "NotFoundException", f"No such resource: /static/{name}")
        return Response(200, found[1], found[0], headers={"Cache-Control": "no-cache"})

    def to_log_server(self, cid: str, user: str, rest: list[str]) -> Response:
        """YARN's NM answer for a container whose local logs are gone: a redirect to the log server's
        `<url>/<nodeId>/<containerId>/<containerId>/<user>[/<file>]` (the aggregated copy)."""
        tail = "".join(f"/{quote(p, safe=':')}" for p in [self.ctx.node_id, cid, cid, user, *rest])
        return Response(302, TEXT, b"", headers={"Location": self.log_server_url + tail})

    def log_listing_page(self, cid: str) -> Response:
        log_dir = self.log_dir_of(cid)
        if log_dir is None:
            return remote_error(404, "NotFoundException", f"Cannot find this container on the NodeManager: {cid}")
        user = self.manager.get(cid)
        owner = user.user if user is not None else self.ctx.nm_user
        base = f"/node/containerlogs/{quote(cid, safe='')}/{quote(owner, safe='')}"
        files = [(f.name, f.size) for f in list_logs(log_dir, self.ctx.log_dirs)]
        return self.page("logs.html", f"Logs of {cid}", "containers", cid=cid, files=files, base=base)

    def overview(self) -> Response:
        return self.page("node.html", "Node", "node", info=self.node_info()["nodeInfo"],
                         containers=[self.container_info(c) for c in self.manager.snapshot()])


def make_server(host: str, port: int) -> ThreadingHTTPServer:
    """Bound now (so port 0 becomes a real port before the node id is fixed); served later."""
    server = ThreadingHTTPServer((host, port), BaseHTTPRequestHandler)
    server.daemon_threads = True
    return server


def serve(server: ThreadingHTTPServer, app: NodeWebApp) -> threading.Thread:
    class Handler(BaseHTTPRequestHandler):
        server_version = "miniyarn-NodeManager"

        def __getattr__(self, name: str) -> Any:
            # http.server answers a method it has no do_X for with 501 HTML; YARN answers 405 + RemoteException.
            if name.startswith("do_"):
                return self._answer
            raise AttributeError(name)

        def _answer(self) -> None:
            method = self.command
            if method not in ALLOWED_METHODS:
                self.close_connection = True  # its body, if any, is never read
            try:
                resp = app.handle(self.path, method, {k.lower(): v for k, v in self.headers.items()})
            except Exception:
                log.exception("%s %s failed", method, self.path)
                resp = remote_error(500, "WebApplicationException", "internal error; see the NodeManager log")
            try:
                self._send(resp, with_body=method != "HEAD")
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client went away mid-log; nothing to tell it
            finally:
                resp.close()

        def _send(self, resp: Response, with_body: bool) -> None:
            self.send_response(resp.status)
            self.send_header("Content-Type", resp.content_type)
            self.send_header("Content-Length", str(resp.length))
            for k, v in {**SAFE_HEADERS, **resp.headers}.items():
                self.send_header(k, v)
            self.end_headers()
            if not with_body:
                return
            self.wfile.write(resp.body)
            if resp.stream is not None:
                for chunk in resp.stream.chunks():
                    self.wfile.write(chunk)

        def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
            # Malformed requests (a bad request line, a 64 KiB URL, too many headers) answer as the rest do.
            self.close_connection = True
            text = message or self.responses.get(code, ("Error",))[0]
            self._send(remote_error(code, "WebApplicationException", f"HTTP {code} {text}"),
                       with_body=getattr(self, "command", "") != "HEAD")

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s " + format, self.address_string(), *args)

    server.RequestHandlerClass = Handler
    t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.5}, name="NM web", daemon=True)
    t.start()
    return t
