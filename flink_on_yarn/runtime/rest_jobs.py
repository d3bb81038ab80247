"""Flink's per-job REST paths beyond the job itself: status, result, exceptions, plan, config,
accumulators, vertices with their subtasks, TaskManagers and metrics, and the asynchronous savepoint,
stop-with-savepoint operations (rest_operations.py; the job master takes the savepoints)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from flink_on_yarn.runtime import rest_views as views
from flink_on_yarn.runtime.job_master import JobMaster
from flink_on_yarn.runtime.rest_operations import BadTriggerId, Kind, Operation, Operations
from flink_on_yarn.runtime.savepoints import no_directory_error

if TYPE_CHECKING:
    from flink_on_yarn.runtime.jobmanager import JobManager


def error(status: int, *messages: str) -> JSONResponse:
    return JSONResponse({"errors": list(messages)}, status_code=status)


class SavepointRequest(BaseModel):
    """Flink's SavepointTriggerRequestBody (POST /jobs/<jid>/savepoints)."""
    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    target_directory: str | None = Field(None, alias="target-directory")
    cancel_job: bool = Field(False, alias="cancel-job")
    formatType: Literal["CANONICAL", "NATIVE"] = "CANONICAL"
    triggerId: str | None = None


class StopRequest(BaseModel):
    """Flink's StopWithSavepointRequestBody (POST /jobs/<jid>/stop)."""
    model_config = ConfigDict(extra="ignore")
    targetDirectory: str | None = None
    drain: bool = False
    formatType: Literal["CANONICAL", "NATIVE"] = "CANONICAL"
    triggerId: str | None = None


M = TypeVar("M", bound=BaseModel)


async def parse_body(request: Request, model: type[M]) -> M | JSONResponse:
    """The request's JSON body as `model` (an empty body is all defaults), or Flink's 400."""
    raw = await request.body()
    try:
        return model.model_validate_json(raw) if raw.strip() else model()
    except ValidationError as e:
        msgs = [f"{'.'.join(str(x) for x in err['loc'])}: {err['msg']}" for err in e.errors()[:5]]
        return error(400, f"Request did not match expected format {model.__name__}.", *msgs)


def query_list(value: str | None) -> list[str] | None:
    """Flink's comma-separated `get=`/`agg=` query parameters."""
    return None if value is None else [x.strip() for x in value.split(",") if x.strip()]


def add_job_routes(app: FastAPI, jm_proc: JobManager, operations: Operations) -> None:
    d = jm_proc.dispatcher
    rm = jm_proc.rm

    def job(jid: str) -> JobMaster | JSONResponse:
        jm = d.jobs.get(jid)
        return jm if jm is not None else error(404, f"Job {jid} not found")

    def endpoints() -> dict[str, str]:
        return {tm_id: tm.host for tm_id, tm in rm.taskmanagers.items()}

    def simple(path: str, build: Callable[[JobMaster], Any]) -> None:
        async def handler(jid: str) -> Any:
            jm = job(jid)
            return jm if isinstance(jm, JSONResponse) else build(jm)
        app.get(path, response_model=None, name=path)(handler)

    simple("/jobs/{jid}/status", lambda jm: {"status": jm.status.value})
    simple("/jobs/{jid}/execution-result", views.execution_result)
    simple("/jobs/{jid}/exceptions", views.exceptions)
    simple("/jobs/{jid}/plan", lambda jm: {"plan": views.plan(jm)})
    simple("/jobs/{jid}/accumulators", lambda jm: {
        "job-accumulators": [], "user-task-accumulators": [], "serialized-user-task-accumulators": {}})

    simple("/jobs/{jid}/config", lambda jm: views.job_config(jm, jm.restart_strategy.description()))

    def vertex_route(suffix: str, build: Callable[[JobMaster, Any, Request], Any]) -> None:
        async def handler(jid: str, vid: str, request: Request) -> Any:
            jm = job(jid)
            if isinstance(jm, JSONResponse):
                return jm
            v = next((v for v in jm.graph.vertices if v.id == vid), None)
            if v is None:
                return error(404, f"JobVertex {vid} not found in job {jid}")
            return build(jm, v, request)
        app.get(f"/jobs/{{jid}}/vertices/{{vid}}{suffix}", response_model=None)(handler)

    vertex_route("", lambda jm, v, _: views.vertex_details(jm, v, endpoints()))
    vertex_route("/taskmanagers", lambda jm, v, _: views.vertex_taskmanagers(jm, v, endpoints()))
    vertex_route("/metrics", lambda jm, v, r: views.vertex_metrics(
        views.vertex_execs(jm, v), query_list(r.query_params.get("get"))))
    vertex_route("/subtasks/metrics", lambda jm, v, r: views.subtasks_metrics(
        views.vertex_execs(jm, v), query_list(r.query_params.get("get")), query_list(r.query_params.get("agg"))))
    vertex_route("/watermarks", lambda jm, v, _: views.watermarks(views.vertex_execs(jm, v)))
    vertex_route("/backpressure", lambda jm, v, _: views.backpressure(views.vertex_execs(jm, v)))

    @app.get("/jobs/{jid}/vertices/{vid}/subtasks/{index}", response_model=None)
    async def subtask(jid: str, vid: str, index: int) -> Any:
        jm = job(jid)
        if isinstance(jm, JSONResponse):
            return jm
        e = jm.executions.get((vid, index))
        if e is None:
            return error(404, f"Subtask {index} of JobVertex {vid} not found in job {jid}")
        return views.subtask_info(jm, e, endpoints().get(e.tm_id or ""))

    # Asynchronous operations: POST answers 202 {"request-id"}, GET .../<request-id> their state.
    async def trigger(request: Request, jid: str, kind: Kind,
                      model: type[SavepointRequest | StopRequest]) -> Response:
        jm = job(jid)
        if isinstance(jm, JSONResponse):
            return jm
        body = await parse_body(request, model)
        if isinstance(body, JSONResponse):
            return body
        stop = isinstance(body, StopRequest)
        given = body.targetDirectory if isinstance(body, StopRequest) else body.target_directory
        target = given or jm.savepoint_dir
        if not target:
            # Flink refuses the trigger itself (400) when no directory is given or configured.
            return error(400, no_directory_error("targetDirectory" if stop else "target-directory"))
        if body.formatType == "NATIVE":
            return error(400, "miniflink takes CANONICAL savepoints only (formatType NATIVE is not supported).")
        try:
            op, new = operations.trigger(kind, jid, body.triggerId)
        except BadTriggerId as e:
            return error(400, str(e))
        if new:
            op.stop = stop
            op.attach(await jm.trigger_savepoint(
                target, cancel=isinstance(body, SavepointRequest) and body.cancel_job, stop=stop,
                drain=isinstance(body, StopRequest) and body.drain))
        return JSONResponse({"request-id": op.trigger_id}, status_code=202)

    def status(jid: str, kind: Kind, trigger_id: str) -> Response:
        if jid not in d.jobs:
            return error(404, f"Job {jid} not found")
        op: Operation | None = operations.get(kind, jid, trigger_id)
        if op is None:
            return error(404, f"There is no {kind.value} operation with triggerId={trigger_id} for job {jid}.")
        if op.failure is not None:
            # A failed operation is an error to the caller: Flink's Java client then prints this text instead
            # of a success (its failure-cause needs a Java-serialized throwable, which only a JVM writes).
            return error(400, op.failure)
        jm = d.jobs[jid]
        if op.stop and op.status == "COMPLETED":
            jm.stop_result_fetched.set()
        return JSONResponse(op.result())

    @app.post("/jobs/{jid}/savepoints", response_model=None)
    async def savepoint(jid: str, request: Request) -> Response:
        return await trigger(request, jid, Kind.SAVEPOINT, SavepointRequest)

    @app.post("/jobs/{jid}/stop", response_model=None)
    async def stop(jid: str, request: Request) -> Response:
        return await trigger(request, jid, Kind.SAVEPOINT, StopRequest)

    @app.get("/jobs/{jid}/savepoints/{trigger_id}", response_model=None)
    async def savepoint_status(jid: str, trigger_id: str) -> Response:
        return status(jid, Kind.SAVEPOINT, trigger_id)
