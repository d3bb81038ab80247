"""A standby RM's web side, as YARN's RMWebAppFilter and IsActiveServlet: every page and REST call is a
307 to the same path on the active ("This is standby RM. The redirect url is: ..."), except what a
standby answers itself: `/ws/v1/cluster/info` (haState), `/isActive`, `/health`, login and static files.
With no active known it answers 503 with YARN's StandbyException. Runs inside the auth middleware, so a
redirect is only given to a request the active would also have authenticated."""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from typing import Protocol

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

# YARN's IsActiveServlet texts; a standby answers 405 to /isActive, as YARN's does.
RESPONSE_ACTIVE = "I am Active!"
RESPONSE_NOT_ACTIVE = "I am not Active!"
# What a standby serves itself (YARN: /ws/v1/cluster/info, /isActive, /conf, /logs, /jmx ...).
NOT_REDIRECTED = frozenset({"/ws/v1/cluster", "/ws/v1/cluster/", "/ws/v1/cluster/info", "/isActive",
                            "/health", "/login", "/logout"})
# `miniyarn rmadmin -transitionToStandby` (YARN's is the HAServiceProtocol RPC; ours speaks HTTP only):
# POST here, as an admin (yarn.admin.acl), makes this RM standby.
TRANSITION_TO_STANDBY = "/ws/v1/cluster/ha/transitionToStandby"


class HAView(Protocol):
    """What the web app reads of the RM's HA side (resourcemanager.ha.service.HAService)."""

    rm_id: str

    @property
    def ha_state(self) -> str: ...

    def active_address(self) -> str: ...

    def connection_state(self) -> str: ...

    def transition_to_standby(self, why: str) -> None: ...


def redirect_url(active: str, path: str, query: str) -> str:
    """The active's same path and query.

    >>> redirect_url("http://127.0.0.1:8090", "/ws/v1/cluster/apps", "states=RUNNING")
    'http://127.0.0.1:8090/ws/v1/cluster/apps?states=RUNNING'
    """
    return active.rstrip("/") + path + (f"?{query}" if query else "")


def not_active_message(rm_id: str) -> str:
    return f"ResourceManager {rm_id} is not Active!"


class StandbyRedirect:
    def __init__(self, app: ASGIApp, ha: HAView, is_admin: Callable[[str], bool]) -> None:
        self.app = app
        self.ha = ha
        self.is_admin = is_admin

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        active = self.ha.ha_state == "ACTIVE"
        if path == "/isActive":
            await _text(send, 200 if active else 405, RESPONSE_ACTIVE if active else RESPONSE_NOT_ACTIVE)
            return
        if path == TRANSITION_TO_STANDBY:
            await self._transition_to_standby(scope, send)
            return
        if active or path.startswith("/static/") or (path in NOT_REDIRECTED and path != "/health"):
            await self.app(scope, receive, send)
            return
        if path == "/health":
            # A standby is healthy while its elector reaches Redis: it is ready to take over.
            up = self.ha.connection_state() == "CONNECTED"
            body = {"status": "UP" if up else "DOWN", "haState": "STANDBY", "inboxLoop": "STANDBY"}
            if not up:
                body["reason"] = "the leader election cannot reach Redis"
            await _send(send, 200 if up else 503, "application/json", json.dumps(body))
            return
        target = self.ha.active_address()
        if not target:
            message = not_active_message(self.ha.rm_id)
            await _send(send, 503, "application/json", json.dumps({"RemoteException": {
                "exception": "StandbyException", "message": message,
                "javaClassName": "org.apache.hadoop.ipc.StandbyException"}}), [(b"retry-after", b"1")])
            return
        url = redirect_url(target, path, scope.get("query_string", b"").decode("latin-1"))
        await _send(send, 307, "text/plain; charset=utf-8",
                    f"This is standby RM. The redirect url is: {html.escape(url)}\n",
                    [(b"location", url.encode("latin-1"))])


    async def _transition_to_standby(self, scope: Scope, send: Send) -> None:
        user = str(scope.get("state", {}).get("user", "") or "")
        if scope["method"] != "POST":
            await _send(send, 405, "application/json", json.dumps({"RemoteException": {
                "exception": "WebApplicationException", "message": "javax.ws.rs.WebApplicationException: "
                "HTTP 405 Method Not Allowed", "javaClassName": "javax.ws.rs.WebApplicationException"}}))
            return
        if not self.is_admin(user):
            await _send(send, 403, "application/json", json.dumps({"RemoteException": {
                "exception": "AccessControlException",
                "message": f"User {user or 'dr.who'} doesn't have permission to call 'transitionToStandby'",
                "javaClassName": "org.apache.hadoop.security.AccessControlException"}}))
            return
        # Off the event loop: it stops the inbox loop (a thread join) and takes the elector's lock.
        why = f"transitionToStandby requested by {user or 'dr.who'} (rmadmin)"
        await run_in_threadpool(self.ha.transition_to_standby, why)
        await _send(send, 200, "application/json", json.dumps({"haState": self.ha.ha_state}))


async def _text(send: Send, status: int, text: str) -> None:
    await _send(send, status, "text/plain; charset=utf-8", text)


async def _send(send: Send, status: int, content_type: str, body: str,
                headers: list[tuple[bytes, bytes]] | None = None) -> None:
    data = body.encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type.encode()), (b"content-length", str(len(data)).encode()),
                            *(headers or [])]})
    await send({"type": "http.response.body", "body": data})
