"""YARN's ResourceManager REST API under /ws/v1/cluster, JSON whatever Accept says, errors as
`{"RemoteException": {...}}` with YARN's status codes."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from miniweb.routes import PlainRoute
from miniyarn.blobs import SCHEME
from miniyarn.records import ApplicationSubmissionContext
from miniyarn.security import credentials as creds
from miniyarn.security.acls import ApplicationAccessType, groups_of
from miniyarn.security.http_auth import HttpAuthConfig
from miniyarn.states.application import APP_MACHINE, CLIENT_STATES, FinalApplicationStatus
from miniyarn.states.node import NodeState
from resourcemanager.context import now_ms
from resourcemanager.errors import BadRequestError, NotFoundError, YarnError
from resourcemanager.ha.fence import FencedError
from resourcemanager.ha.redirect import HAView, StandbyRedirect, not_active_message
from resourcemanager.rm import ResourceManager
from resourcemanager.webapp import bodies, views
from resourcemanager.webapp.access import Access, policy_from_conf, user_of
from resourcemanager.webapp.auth import AuthMiddleware, WebAuth, allowed_hosts, host_name
from resourcemanager.webapp.login import add_login_routes
from resourcemanager.webapp.logs import add_log_routes
from resourcemanager.webapp.metrics import add_metrics_route
from resourcemanager.webapp.proxy import add_proxy_routes
from resourcemanager.webapp.ui import add_ui_routes

BASE = "/ws/v1/cluster"
# The app ids handed out and to whom (the RM itself only remembers that they were), so an id cannot be
# submitted by a user it was not given to. Unsubmitted ids older than this many are forgotten.
# Extra Host names the RM answers to (a DNS name or load balancer in front of it); ours, not Hadoop's.
ALLOWED_HOSTS_KEY = "yarn.resourcemanager.webapp.allowed-hosts"

log = logging.getLogger("resourcemanager.webapp")


def remote_exception(status: int, exception: str, message: str, java_class: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"RemoteException": {
        "exception": exception, "message": message, "javaClassName": java_class}})


def _states(param: str | None, valid: list[str], what: str) -> set[str] | None:
    if not param:
        return None
    wanted = {s.strip().upper() for s in param.split(",") if s.strip()}
    bad = wanted - set(valid)
    if bad:
        raise BadRequestError(f"java.lang.IllegalArgumentException: Invalid {what} {sorted(bad)[0]} specified. "
                              f"It should be one of {', '.join(valid)}")
    return wanted


async def _json_body(request: Request, limit: int) -> Any:
    return bodies.json_body(await request.body(), limit)


def web_auth(rm: ResourceManager, bind_host: str = "") -> WebAuth:
    """The web app's authentication settings from the RM's conf and credentials (HttpAuthError if unusable)."""
    advertise = host_name(rm.web_address.removeprefix("http://").removeprefix("https://").split("/", 1)[0])
    extra = rm.conf.get_str(ALLOWED_HOSTS_KEY, "").split(",")
    return WebAuth(conf=HttpAuthConfig.from_conf(rm.conf, rm.credentials),
                   hosts=allowed_hosts(advertise, bind_host, extra),
                   capability_key=creds.derive(rm.master_key, "proxy-capability", "").encode())


def _in_range(value: int, begin: int | None, end: int | None) -> bool:
    return (begin is None or value >= begin) and (end is None or value <= end)


def create_app(rm: ResourceManager, bind_host: str = "", auth: WebAuth | None = None,
               ha: HAView | None = None) -> FastAPI:
    app = FastAPI(title="miniyarn ResourceManager", docs_url=None, redoc_url=None, openapi_url=None)
    app.router.route_class = PlainRoute
    auth = auth or web_auth(rm, bind_host)
    access = Access(policy_from_conf(rm.conf))
    app.state.access = access
    app.state.web_auth = auth

    @app.exception_handler(YarnError)
    async def yarn_error(_: Request, e: YarnError) -> JSONResponse:
        return remote_exception(e.status, e.exception, e.message, e.java_class)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, e: RequestValidationError) -> JSONResponse:
        first = e.errors()[0] if e.errors() else {"msg": "Invalid request", "loc": ()}
        where = ".".join(str(p) for p in first["loc"])
        return remote_exception(400, "BadRequestException", f"{first['msg']}" + (f" ({where})" if where else ""),
                                BadRequestError.java_class)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, e: StarletteHTTPException) -> JSONResponse:
        if e.status_code == 404:
            where = request.url.path[:200]
            return remote_exception(404, "NotFoundException", f"java.lang.Exception: {where} not found",
                                    NotFoundError.java_class)
        response = remote_exception(e.status_code, "WebApplicationException",
                                    f"javax.ws.rs.WebApplicationException: HTTP {e.status_code} {e.detail}",
                                    "javax.ws.rs.WebApplicationException")
        if e.headers:
            response.headers.update(e.headers)
        return response

    if ha is not None:
        @app.exception_handler(FencedError)
        async def fenced(_: Request, e: FencedError) -> JSONResponse:
            # RM HA: a write refused because another RM became active meanwhile; the client tries the others.
            return remote_exception(503, "StandbyException", not_active_message(ha.rm_id),
                                    "org.apache.hadoop.ipc.StandbyException")

    @app.exception_handler(Exception)
    async def internal_error(request: Request, e: Exception) -> JSONResponse:
        log.exception("Internal error answering %s %s", request.method, request.url.path)
        return remote_exception(500, "WebApplicationException", "Internal error; see the ResourceManager's log",
                                "javax.ws.rs.WebApplicationException")

    def submitting_user(request: Request, ctx: ApplicationSubmissionContext) -> str:
        # With a verified credential the user is who the credential says; `user` in the body and
        # ?user.name= only count in simple mode, where nobody is verified anyway.
        if getattr(request.state, "auth", "simple") != "simple" or auth.conf.kind == "token":
            return user_of(request)
        return ctx.user or user_of(request)

    @app.get("/health")
    def health() -> JSONResponse:
        # 503 while the inbox loop is dead, stuck or cut off from Redis: such an RM answers no AM or NM.
        ok, body = rm.health.report(now_ms())
        return JSONResponse({**body, "clusterTimestamp": rm.cluster_ts, "nodes": len(rm.nodes)},
                            status_code=200 if ok else 503)

    @app.get(BASE)
    @app.get(BASE + "/")
    @app.get(BASE + "/info")
    def info() -> dict[str, Any]:
        with rm.lock:
            body = views.cluster_info(rm)
        if ha is not None:  # RM HA: this RM's state and its elector's link to Redis (ZooKeeper's, in YARN)
            body["clusterInfo"].update(haState=ha.ha_state, haZooKeeperConnectionState=ha.connection_state())
        return body

    @app.get(BASE + "/metrics")
    def metrics() -> dict[str, Any]:
        with rm.lock:
            return views.cluster_metrics(rm)

    @app.get(BASE + "/scheduler")
    def scheduler() -> dict[str, Any]:
        with rm.lock:
            return views.scheduler_info(rm)

    @app.get(BASE + "/nodes")
    def nodes(states: str | None = None) -> dict[str, Any]:
        wanted = _states(states, [s.value for s in NodeState], "node-state")
        with rm.lock:
            rows = [views.node_info(rm, n) for n in rm.nodes.values() if wanted is None or n.state.value in wanted]
        return {"nodes": {"node": rows} if rows else None}

    @app.get(BASE + "/nodes/{node_id}")
    def node(node_id: str) -> dict[str, Any]:
        with rm.lock:
            n = rm.nodes.get(node_id)
            if n is None:
                raise NotFoundError(f"nodeId, {node_id}, is not found")
            return {"node": views.node_info(rm, n)}

    @app.get(BASE + "/apps")
    def apps(request: Request, states: str | None = None, state: str | None = None, queue: str | None = None,
             user: str | None = None, limit: str | None = None, applicationTypes: str | None = None,
             finalStatus: str | None = None, startedTimeBegin: str | None = None,
             startedTimeEnd: str | None = None, finishedTimeBegin: str | None = None,
             finishedTimeEnd: str | None = None) -> dict[str, Any]:
        wanted = _states(states or state, [s.value for s in CLIENT_STATES], "application-state")
        finals = _states(finalStatus, [s.value for s in FinalApplicationStatus], "finalStatus")
        if finals is not None and len(finals) != 1:
            raise BadRequestError("finalStatus takes one value")
        started = (bodies.time_param("startedTimeBegin", startedTimeBegin),
                   bodies.time_param("startedTimeEnd", startedTimeEnd))
        finished = (bodies.time_param("finishedTimeBegin", finishedTimeBegin),
                    bodies.time_param("finishedTimeEnd", finishedTimeEnd))
        if started[0] is not None and started[1] is not None and started[0] > started[1]:
            raise BadRequestError("startedTimeEnd must be greater than startTimeBegin")
        if finished[0] is not None and finished[1] is not None and finished[0] > finished[1]:
            raise BadRequestError("finishedTimeEnd must be greater than finishedTimeBegin")
        max_rows: int | None = None
        if limit is not None:
            try:
                max_rows = int(limit)
            except ValueError:
                raise BadRequestError(f"limit value must be an integer: {limit[:64]}") from None
            if max_rows <= 0:
                raise BadRequestError("limit value must be greater then 0")
        types = {t.strip().lower() for t in applicationTypes.split(",")} if applicationTypes else None
        caller = user_of(request)
        with rm.lock:
            rows: list[dict[str, Any]] = []
            cluster_mb = views.cluster_memory(rm)
            for a in sorted(rm.apps.values(), key=lambda a: a.seq):
                if max_rows is not None and len(rows) >= max_rows:
                    break
                client_state, final = views.client_state(a)
                if wanted is not None and client_state.value not in wanted:
                    continue
                if finals is not None and final.value not in finals:
                    continue
                if queue and queue not in (a.queue, a.queue.rsplit(".", 1)[-1]):
                    continue
                if user and a.user != user:
                    continue
                if types and a.submission.application_type.lower() not in types:
                    continue
                if not _in_range(a.submit_time, *started) or not _in_range(a.finish_time, *finished):
                    continue
                info = views.app_info(rm, a, cluster_mb)
                # YARN lists apps the caller may not view, with only what AppInfo shows without access.
                rows.append(info if access.may(caller, a, ApplicationAccessType.VIEW_APP)
                            else views.restricted(info))
        return {"apps": {"app": rows} if rows else None}

    @app.post(BASE + "/apps/new-application")
    def new_application(request: Request) -> dict[str, Any]:
        # Under token auth the id is the asker's alone; `simple` users are whoever they say they are.
        app_id = rm.new_application(owner=user_of(request) if auth.conf.kind == "token" else "")
        return {"application-id": app_id, "maximum-resource-capability": rm.effective_max().rest()}

    @app.post(BASE + "/apps")
    async def submit(request: Request) -> Response:
        body = await _json_body(request, bodies.MAX_SUBMISSION_BODY)
        if not isinstance(body, dict):
            raise BadRequestError("The request body must be a JSON object (ApplicationSubmissionContextInfo)")
        try:
            ctx = ApplicationSubmissionContext.model_validate(body)
        except ValidationError as e:
            raise BadRequestError(bodies.validation_message(e, "Invalid application submission")) from None
        user = submitting_user(request, ctx)
        # The body is read on the event loop; the submission waits for the RM lock and writes to Redis, so
        # it runs in the threadpool (on the loop it stalled every request, /health included).
        submitted = await run_in_threadpool(rm.submit, ctx, user)
        location = f"{rm.web_address}{BASE}/apps/{submitted.app_id}"
        return Response(status_code=202, headers={"Location": location})

    def viewable(request: Request, app_id: str) -> Any:
        target = rm.get_app(app_id)
        access.require(request, target, ApplicationAccessType.VIEW_APP)
        return target

    @app.get(BASE + "/apps/{app_id}")
    def app_report(app_id: str, request: Request) -> dict[str, Any]:
        with rm.lock:
            return {"app": views.app_info(rm, viewable(request, app_id))}

    @app.get(BASE + "/apps/{app_id}/appattempts")
    def app_attempts(app_id: str, request: Request) -> dict[str, Any]:
        with rm.lock:
            return views.attempts_info(rm, viewable(request, app_id))

    @app.get(BASE + "/apps/{app_id}/appattempts/{attempt_id}/containers")
    def attempt_containers(app_id: str, attempt_id: str, request: Request) -> dict[str, Any]:
        with rm.lock:
            target = viewable(request, app_id)
            if not any(a.attempt_id == attempt_id for a in target.attempts):
                raise NotFoundError(f"appAttemptId, {attempt_id}, is not found")
            return views.containers_info(rm, target, attempt_id)

    @app.get(BASE + "/apps/{app_id}/state")
    def app_state(app_id: str) -> dict[str, Any]:
        with rm.lock:
            return {"state": views.client_state(rm.get_app(app_id))[0].value}

    @app.put(BASE + "/apps/{app_id}/state")
    async def put_state(app_id: str, request: Request) -> JSONResponse:
        def require_modify() -> None:
            with rm.lock:
                access.require(request, rm.get_app(app_id), ApplicationAccessType.MODIFY_APP)

        await run_in_threadpool(require_modify)
        body = await _json_body(request, bodies.MAX_STATE_BODY)
        target = body.get("state") if isinstance(body, dict) else None
        if not isinstance(target, str):
            raise BadRequestError('The request body must be {"state": "KILLED"}')
        if target.upper() not in {s.value for s in CLIENT_STATES}:
            raise BadRequestError(f"Invalid application-state {target} specified")
        if target.upper() != "KILLED":
            raise BadRequestError("Only 'KILLED' is allowed as a target state.")
        diag = body.get("diagnostics") if isinstance(body.get("diagnostics"), str) else ""
        def kill() -> tuple[bool, str]:
            app = rm.kill(app_id, diag or f"Application {app_id} was killed by user {user_of(request)}")
            with rm.lock:
                return APP_MACHINE.is_final(app.state), views.client_state(app)[0].value

        final, shown = await run_in_threadpool(kill)
        return JSONResponse(status_code=200 if final else 202, content={"state": shown})

    @app.put(BASE + "/staging/{digest}")
    async def stage(digest: str, request: Request) -> JSONResponse:
        """miniyarn's HDFS: a client stages a file's bytes here; NMs localize `blob://<sha256>`."""
        data = await request.body()
        actual = hashlib.sha256(data).hexdigest()
        if actual != digest:
            raise BadRequestError(f"Staged file checksum mismatch: path says {digest}, body has {actual}")
        await run_in_threadpool(rm.store.stage_blob, digest, data)
        return JSONResponse(status_code=201, content={"resource": f"{SCHEME}://{digest}", "size": len(data)})

    add_ui_routes(app, rm, access)
    add_metrics_route(app, rm)
    add_proxy_routes(app, rm, access, auth)
    add_log_routes(app, rm)
    add_login_routes(app, auth)
    if ha is not None:
        app.add_middleware(StandbyRedirect, ha=ha,  # inside auth: only authenticated requests are redirected
                           is_admin=lambda user: access.policy.is_admin(user, groups_of(user)))
    app.add_middleware(AuthMiddleware, auth=auth)
    return app
