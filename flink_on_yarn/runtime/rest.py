"""The JobManager's REST API with Flink's paths and JSON names, plus job submission and resource views.

Every request first passes `rest_guard.RestGuard` (credential, cross-site refusal, body cap); every error,
bad input included, is Flink's `{"errors": [...]}` with Flink's status codes, never a 500 for bad input.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from flink_on_yarn.graph.job_graph import JobGraphSpec
from flink_on_yarn.runtime.dashboard import add_dashboard_routes
from flink_on_yarn.runtime.dispatcher import DuplicateJobError
from flink_on_yarn.runtime.execution_state import ExecutionState, aggregate, status_counts
from flink_on_yarn.runtime.job_master import JobMaster, now_ms
from flink_on_yarn.runtime.job_status import JobStatus
from flink_on_yarn.runtime.messages import ReadFile
from flink_on_yarn.runtime.rest_guard import DEFAULT_MAX_BODY, RestGuard

if TYPE_CHECKING:
    from flink_on_yarn.runtime.jobmanager import JobManager

FLINK_VERSION = "1.13.6"


def _error(status: int, *messages: str) -> JSONResponse:
    return JSONResponse({"errors": list(messages)}, status_code=status)


def _duration(start: int, end: int) -> int:
    return (end if end > 0 else now_ms()) - start if start > 0 else -1


def job_summary(jm: JobMaster) -> dict[str, Any]:
    states = [e.state for e in jm.executions.values()]
    return {
        "jid": jm.job_id, "name": jm.graph.jobName, "state": jm.status.value,
        "start-time": jm.start_time, "end-time": jm.end_time, "duration": _duration(jm.start_time, jm.end_time),
        "last-modification": max(jm.timestamps.values()), "tasks": {"total": len(states), **{
            s.value.lower(): n for s, n in ((s, states.count(s)) for s in ExecutionState)}},
    }


def job_details(jm: JobMaster) -> dict[str, Any]:
    vertices = []
    for v in jm.graph.vertices:
        execs = [jm.executions[(v.id, i)] for i in range(v.parallelism) if (v.id, i) in jm.executions]
        starts = [e.start_time for e in execs if e.start_time > 0]
        ends = [e.end_time for e in execs]
        start = min(starts) if starts else -1
        end = max(ends) if ends and all(x > 0 for x in ends) else -1
        vertices.append({
            "id": v.id, "name": v.name, "maxParallelism": v.maxParallelism, "parallelism": v.parallelism,
            "slotSharingGroupId": v.slotSharingGroup,
            "status": aggregate([e.state for e in execs]).value, "start-time": start, "end-time": end,
            "duration": _duration(start, end), "tasks": status_counts([e.state for e in execs]),
            "taskmanagers": sorted({e.tm_id for e in execs if e.tm_id}),
            "metrics": {"read-records": sum(e.metrics.get("read-records", 0) for e in execs),
                        "write-records": sum(e.metrics.get("write-records", 0) for e in execs)},
        })
    return {
        **job_summary(jm), "isStoppable": False, "now": now_ms(), "maxParallelism": 128,
        "job-type": "STREAMING" if jm.graph.runtimeMode == "STREAMING" else "BATCH",
        "timestamps": jm.timestamps, "vertices": vertices,
        "status-counts": status_counts([e.state for e in jm.executions.values()]),
        "plan": {"jid": jm.job_id, "name": jm.graph.jobName, "nodes": [
            {"id": v.id, "parallelism": v.parallelism, "description": v.name,
             "inputs": [{"id": e.source, "ship_strategy": e.shipStrategy} for e in jm.graph.inputs_of(v.id)]}
            for v in jm.graph.vertices]},
        "restarts": jm.restarts, "requiredSlots": jm.graph.required_slots(),
    }


def add_error_handlers(app: FastAPI) -> None:
    """Flink's shapes for what the framework answers itself: unknown paths, wrong methods, bad parameters."""

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        if exc.status_code == 404:
            return _error(404, f"Not found: {request.url.path}")
        if exc.status_code == 405:
            return _error(405, f"Method {request.method} is not allowed for {request.url.path}")
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        msgs = [f"{'.'.join(str(x) for x in err['loc'])}: {err['msg']}" for err in exc.errors()[:5]]
        return _error(400, f"Bad request to {request.url.path}", *msgs)


def create_app(jm_proc: JobManager) -> FastAPI:
    app = FastAPI(title="miniflink JobManager", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(RestGuard, secret=jm_proc.secret, trusted_origins=jm_proc.trusted_origins,
                       max_body=jm_proc.config.get_int("rest.server.max-content-length", DEFAULT_MAX_BODY))
    add_error_handlers(app)
    d = jm_proc.dispatcher
    rm = jm_proc.rm

    def job_or_404(jid: str) -> JobMaster | JSONResponse:
        jm = d.jobs.get(jid)
        return jm if jm is not None else _error(404, f"Job {jid} not found")

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/config")
    def config() -> dict[str, Any]:
        return {"refresh-interval": 3000, "timezone-name": time.tzname[0], "timezone-offset": -time.timezone * 1000,
                "flink-version": FLINK_VERSION, "flink-revision": "miniflink", "features": {
                    "web-submit": False, "web-cancel": True, "web-history": False}}

    @app.get("/jobmanager/config")
    def jobmanager_config() -> list[dict[str, str]]:
        return [{"key": k, "value": v} for k, v in sorted(jm_proc.config.as_dict().items())]

    @app.get("/overview")
    def overview() -> dict[str, Any]:
        demand = rm.demand()
        return {"taskmanagers": len(rm.taskmanagers), "slots-total": demand.registered_slots,
                "slots-available": demand.free_slots, "jobs-running": d.count(
                    JobStatus.RUNNING, JobStatus.CREATED, JobStatus.RESTARTING, JobStatus.FAILING,
                    JobStatus.CANCELLING),
                "jobs-finished": d.count(JobStatus.FINISHED), "jobs-cancelled": d.count(JobStatus.CANCELED),
                "jobs-failed": d.count(JobStatus.FAILED), "flink-version": FLINK_VERSION, "flink-commit": "miniflink"}

    @app.get("/jobs")
    def jobs() -> dict[str, Any]:
        return {"jobs": [{"id": jid, "status": jm.status.value} for jid, jm in d.jobs.items()]}

    @app.get("/jobs/overview")
    def jobs_overview() -> dict[str, Any]:
        return {"jobs": [job_summary(jm) for jm in d.jobs.values()]}

    @app.post("/jobs")
    async def submit(request: Request) -> Response:
        try:
            # pydantic's own JSON parser: its depth limit turns 100,000 nested `[` into a ValidationError.
            graph = JobGraphSpec.model_validate_json(await request.body())
        except ValidationError as e:
            msgs = [f"{'.'.join(str(x) for x in err['loc'])}: {err['msg']}" for err in e.errors()[:5]]
            return _error(400, "Malformed job graph", *msgs)
        except ValueError as e:
            return _error(400, f"Malformed job graph: {e}")
        try:
            d.submit(graph)
        except DuplicateJobError as e:
            return _error(409, str(e))
        return JSONResponse({"jobUrl": f"/jobs/{graph.jobId}", "jobid": graph.jobId}, status_code=202)

    @app.get("/jobs/{jid}", response_model=None)
    def job(jid: str) -> dict[str, Any] | JSONResponse:
        jm = job_or_404(jid)
        return jm if isinstance(jm, JSONResponse) else job_details(jm)

    @app.get("/jobs/{jid}/exceptions", response_model=None)
    def job_exceptions(jid: str) -> dict[str, Any] | JSONResponse:
        jm = job_or_404(jid)
        if isinstance(jm, JSONResponse):
            return jm
        return {"root-exception": jm.failure_cause, "timestamp": jm.exceptions[-1]["timestamp"] if jm.exceptions
                else None, "all-exceptions": jm.exceptions, "truncated": False,
                "exceptionHistory": {"entries": jm.exceptions, "truncated": False}}

    @app.patch("/jobs/{jid}", response_model=None)
    def cancel(jid: str, mode: str = "cancel") -> Response:
        if mode not in ("cancel", "stop"):
            return _error(400, f"unknown mode {mode!r}; expected cancel")
        if jid not in d.jobs:
            return _error(404, f"Job {jid} not found")
        d.cancel(jid)
        return JSONResponse({}, status_code=202)

    def tm_info(tm_id: str) -> dict[str, Any]:
        tm = rm.taskmanagers[tm_id]
        last_beat = time.time() - (time.monotonic() - tm.last_heartbeat)
        return {"id": tm.id, "path": f"tcp://{tm.host}/taskmanager/{tm.id}", "dataPort": 0, "jmxPort": -1,
                "timeSinceLastHeartbeat": int(last_beat * 1000), "slotsNumber": tm.slots,
                "freeSlots": tm.free_slots, "totalResource": {"cpuCores": tm.slots},
                "freeResource": {"cpuCores": tm.free_slots}, "hardware": tm.hardware, "pid": tm.pid,
                "idle": tm.idle_since is not None}

    @app.get("/taskmanagers")
    def taskmanagers() -> dict[str, Any]:
        return {"taskmanagers": [tm_info(t) for t in rm.taskmanagers]}

    @app.get("/taskmanagers/{tm_id}", response_model=None)
    def taskmanager(tm_id: str) -> dict[str, Any] | JSONResponse:
        if tm_id not in rm.taskmanagers:
            return _error(404, f"TaskManager {tm_id} does not exist")
        return tm_info(tm_id)

    async def tm_file(tm_id: str, which: Literal["stdout", "log"]) -> Response:
        tm = rm.taskmanagers.get(tm_id)
        if tm is None:
            return _error(404, f"TaskManager {tm_id} does not exist")
        try:
            reply = await tm.gateway.request(ReadFile(which=which))
        except (TimeoutError, ConnectionError) as e:
            return _error(503, f"TaskManager {tm_id} did not answer: {e}")
        return PlainTextResponse(reply.text)

    @app.get("/taskmanagers/{tm_id}/stdout")
    async def tm_stdout(tm_id: str) -> Response:
        return await tm_file(tm_id, "stdout")

    @app.get("/taskmanagers/{tm_id}/log")
    async def tm_log(tm_id: str) -> Response:
        return await tm_file(tm_id, "log")

    @app.get("/resourcemanager/overview")
    def rm_overview() -> dict[str, Any]:
        dm = rm.demand()
        return {"requiredSlots": dm.required_slots, "registeredSlots": dm.registered_slots,
                "freeSlots": dm.free_slots, "pendingSlotRequests": dm.pending_slot_requests,
                "waitingSlots": dm.waiting_slots, "taskmanagers": list(dm.taskmanagers),
                "idleTaskmanagers": rm.idle_taskmanagers(),
                "jobRequirements": dict(rm.job_requirements)}

    @app.delete("/cluster")
    def shutdown_cluster() -> Response:
        jm_proc.shutdown_requested.set()
        return Response(status_code=202)

    @app.get("/resourcemanager/allocation-history")
    def rm_history() -> dict[str, Any]:
        return {"events": rm.history.as_list()}

    add_dashboard_routes(app, jm_proc)
    return app
