"""YARN's ResourceManager REST API under /ws/v1/cluster, JSON whatever Accept says, errors as
`{"RemoteException": {...}}` with YARN's status codes."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from miniyarn import keys
from miniyarn.blobs import SCHEME
from miniyarn.records import ApplicationSubmissionContext
from miniyarn.states.application import CLIENT_STATES, YarnApplicationState
from miniyarn.states.node import NodeState
from resourcemanager.errors import BadRequestError, NotFoundError, YarnError
from resourcemanager.rm import ResourceManager
from resourcemanager.webapp import views
from resourcemanager.webapp.logs import add_log_routes
from resourcemanager.webapp.metrics import add_metrics_route
from resourcemanager.webapp.proxy import add_proxy_routes
from resourcemanager.webapp.ui import add_ui_routes

BASE = "/ws/v1/cluster"


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


def _user(request: Request) -> str:
    return request.query_params.get("user.name") or "dr.who"


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw or b"null")
    except ValueError as e:
        raise BadRequestError(f"The request body is not valid JSON: {e}") from None


def create_app(rm: ResourceManager) -> FastAPI:
    app = FastAPI(title="miniyarn ResourceManager", docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(YarnError)
    async def yarn_error(_: Request, e: YarnError) -> JSONResponse:
        return remote_exception(e.status, e.exception, e.message, e.java_class)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, e: RequestValidationError) -> JSONResponse:
        first = e.errors()[0] if e.errors() else {"msg": str(e), "loc": ()}
        return remote_exception(400, "BadRequestException", f"{first['msg']} at {list(first['loc'])}",
                                BadRequestError.java_class)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, e: StarletteHTTPException) -> JSONResponse:
        if e.status_code == 404:
            return remote_exception(404, "NotFoundException", f"java.lang.Exception: {request.url.path} not found",
                                    NotFoundError.java_class)
        return remote_exception(e.status_code, "WebApplicationException", str(e.detail),
                                "javax.ws.rs.WebApplicationException")

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "UP", "clusterTimestamp": rm.cluster_ts, "nodes": len(rm.nodes)}

    @app.get(BASE)
    @app.get(BASE + "/")
    @app.get(BASE + "/info")
    def info() -> dict[str, Any]:
        with rm.lock:
            return views.cluster_info(rm)

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
            rows = [views.node_info(n) for n in rm.nodes.values() if wanted is None or n.state.value in wanted]
        return {"nodes": {"node": rows} if rows else None}

    @app.get(BASE + "/nodes/{node_id}")
    def node(node_id: str) -> dict[str, Any]:
        with rm.lock:
            n = rm.nodes.get(node_id)
            if n is None:
                raise NotFoundError(f"nodeId, {node_id}, is not found")
            return {"node": views.node_info(n)}

    @app.get(BASE + "/apps")
    def apps(request: Request, states: str | None = None, state: str | None = None, queue: str | None = None,
             user: str | None = None, limit: str | None = None, applicationTypes: str | None = None,
             ) -> dict[str, Any]:
        wanted = _states(states or state, [s.value for s in CLIENT_STATES], "application-state")
        max_rows: int | None = None
        if limit is not None:
            try:
                max_rows = int(limit)
            except ValueError:
                raise BadRequestError(f"limit value must be an integer: {limit}") from None
            if max_rows <= 0:
                raise BadRequestError("limit value must be greater then 0")
        types = {t.strip().lower() for t in applicationTypes.split(",")} if applicationTypes else None
        with rm.lock:
            rows = []
            for a in sorted(rm.apps.values(), key=lambda a: a.seq):
                if wanted is not None and views.client_state(a)[0].value not in wanted:
                    continue
                if queue and queue not in (a.queue, a.queue.rsplit(".", 1)[-1]):
                    continue
                if user and a.user != user:
                    continue
                if types and a.submission.application_type.lower() not in types:
                    continue
                rows.append(views.app_info(rm, a))
        if max_rows is not None:
            rows = rows[:max_rows]
        return {"apps": {"app": rows} if rows else None}

    @app.post(BASE + "/apps/new-application")
    def new_application() -> dict[str, Any]:
        app_id = rm.new_application()
        return {"application-id": app_id, "maximum-resource-capability": rm.effective_max().rest()}

    @app.post(BASE + "/apps")
    async def submit(request: Request) -> Response:
        body = await _json_body(request)
        if not isinstance(body, dict):
            raise BadRequestError("The request body must be a JSON object (ApplicationSubmissionContextInfo)")
        try:
            ctx = ApplicationSubmissionContext.model_validate(body)
        except ValidationError as e:
            first = e.errors()[0]
            loc = ".".join(str(p) for p in first["loc"])
            raise BadRequestError(f"Invalid application submission: {loc}: {first['msg']}") from None
        submitted = rm.submit(ctx, ctx.user or _user(request))
        location = f"{rm.web_address}{BASE}/apps/{submitted.app_id}"
        return Response(status_code=202, headers={"Location": location})

    @app.get(BASE + "/apps/{app_id}")
    def app_report(app_id: str) -> dict[str, Any]:
        with rm.lock:
            return {"app": views.app_info(rm, rm.get_app(app_id))}

    @app.get(BASE + "/apps/{app_id}/appattempts")
    def app_attempts(app_id: str) -> dict[str, Any]:
        with rm.lock:
            return views.attempts_info(rm, rm.get_app(app_id))

    @app.get(BASE + "/apps/{app_id}/appattempts/{attempt_id}/containers")
    def attempt_containers(app_id: str, attempt_id: str) -> dict[str, Any]:
        with rm.lock:
            target = rm.get_app(app_id)
            if not any(a.attempt_id == attempt_id for a in target.attempts):
                raise NotFoundError(f"appAttemptId, {attempt_id}, is not found")
            return views.containers_info(rm, target, attempt_id)

    @app.get(BASE + "/apps/{app_id}/state")
    def app_state(app_id: str) -> dict[str, Any]:
        with rm.lock:
            return {"state": views.client_state(rm.get_app(app_id))[0].value}

    @app.put(BASE + "/apps/{app_id}/state")
    async def put_state(app_id: str, request: Request) -> JSONResponse:
        with rm.lock:
            rm.get_app(app_id)
        body = await _json_body(request)
        target = body.get("state") if isinstance(body, dict) else None
        if not isinstance(target, str):
            raise BadRequestError('The request body must be {"state": "KILLED"}')
        if target.upper() not in {s.value for s in YarnApplicationState}:
            raise BadRequestError(f"Invalid application-state {target} specified")
        if target.upper() != "KILLED":
            raise BadRequestError("Only 'KILLED' is allowed as a target state.")
        diag = body.get("diagnostics") if isinstance(body.get("diagnostics"), str) else ""
        app = rm.kill(app_id, diag or f"Application {app_id} was killed by user {_user(request)}")
        final = app.state in (YarnApplicationState.KILLED, YarnApplicationState.FINISHED,
                              YarnApplicationState.FAILED)
        return JSONResponse(status_code=200 if final else 202, content={"state": views.client_state(app)[0].value})

    @app.put(BASE + "/staging/{digest}")
    async def stage(digest: str, request: Request) -> JSONResponse:
        """miniyarn's HDFS: a client stages a file's bytes here; NMs localize `blob://<sha256>`."""
        data = await request.body()
        actual = hashlib.sha256(data).hexdigest()
        if actual != digest:
            raise BadRequestError(f"Staged file checksum mismatch: path says {digest}, body has {actual}")
        rm.redis.set(keys.blob(digest), data, ex=keys.BLOB_TTL_S)
        return JSONResponse(status_code=201, content={"resource": f"{SCHEME}://{digest}", "size": len(data)})

    add_ui_routes(app, rm)
    add_metrics_route(app, rm)
    add_proxy_routes(app, rm)
    add_log_routes(app, rm)
    return app
