"""The JobManager's REST API with Flink's paths and JSON names, plus job submission and resource views.

Every path is served under `/v1/` too (rest_paths.py), as Flink does: that is where Flink's own `bin/flink`
and most third-party clients call. Every request first passes `rest_guard.RestGuard` (credential,
cross-site refusal, body cap); every error, bad input included, is Flink's `{"errors": [...]}` with Flink's
status codes, never a 500 for bad input and never a body a Flink client could read as a success. The
bodies are built in rest_views.py; savepoints/checkpoints follow Flink's asynchronous operations
(rest_operations.py).

Threading: every route that reads or changes the JobManager's state (jobs, TaskManagers, events,
futures) is `async`, so it runs on the event loop that owns that state, between two of its steps; a sync
route would run in a worker thread, iterate dicts the loop is changing and set asyncio events from the
wrong thread. Those routes never block (they build a body from memory, or await a TaskManager's reply).
Only routes that touch no such state (this process's own log files, its environment) stay sync.
"""

from __future__ import annotations

import json
import logging
import platform
import socket
import sys
import time
from typing import TYPE_CHECKING, Any, Literal

import psutil
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from flink_on_yarn.graph.job_graph import JobGraphSpec
from flink_on_yarn.runtime import rest_logs
from flink_on_yarn.runtime.dashboard import add_dashboard_routes
from flink_on_yarn.runtime.dispatcher import DuplicateJobError
from flink_on_yarn.runtime.job_master import JobMaster
from flink_on_yarn.runtime.job_status import JobStatus
from flink_on_yarn.runtime.messages import ReadFile
from flink_on_yarn.runtime.process_metrics import metric_list, process_figures, thread_infos
from flink_on_yarn.runtime.rest_applications import add_application_routes
from flink_on_yarn.runtime.rest_checkpoints import add_checkpoint_routes
from flink_on_yarn.runtime.rest_guard import DEFAULT_MAX_BODY, RestGuard
from flink_on_yarn.runtime.rest_jobs import add_job_routes, query_list
from flink_on_yarn.runtime.rest_operations import Operations
from flink_on_yarn.runtime.rest_paths import VersionedPaths
from flink_on_yarn.runtime.rest_views import job_details, job_summary
from miniweb.routes import PlainRoute

if TYPE_CHECKING:
    from flink_on_yarn.runtime.jobmanager import JobManager

FLINK_VERSION = "1.13.6"
log = logging.getLogger("flink_on_yarn.rest")


def _error(status: int, *messages: str) -> JSONResponse:
    return JSONResponse({"errors": list(messages)}, status_code=status)


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

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:
        # Flink's text for an unexpected handler failure; the traceback goes to the log, not to the caller.
        log.exception("Unhandled exception in %s %s", request.method, request.url.path)
        return _error(500, "Internal server error.", f"{type(exc).__name__} while handling {request.url.path}")


def local_hosts(jm_proc: JobManager) -> set[str]:
    """Names this host goes by, so a TaskManager's pid is known to be one of this host's processes."""
    names = {"127.0.0.1", "localhost", "::1", socket.gethostname(), jm_proc.rpc_host}
    try:
        names.update(socket.gethostbyname_ex(socket.gethostname())[2])
    except OSError:
        pass
    return names


def create_app(jm_proc: JobManager) -> FastAPI:
    app = FastAPI(title="miniflink JobManager", docs_url=None, redoc_url=None, openapi_url=None)
    app.router.route_class = PlainRoute
    app.add_middleware(RestGuard, secret=jm_proc.secret, trusted_origins=jm_proc.trusted_origins,
                       max_body=jm_proc.config.get_int("rest.server.max-content-length", DEFAULT_MAX_BODY))
    # Added last, so outermost: the guard and the routes see `/v1/x` as `/x`.
    app.add_middleware(VersionedPaths)
    add_error_handlers(app)
    d = jm_proc.dispatcher
    rm = jm_proc.rm
    operations = Operations()
    here = local_hosts(jm_proc)

    def job_or_404(jid: str) -> JobMaster | JSONResponse:
        jm = d.jobs.get(jid)
        return jm if jm is not None else _error(404, f"Job {jid} not found")

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/config")
    async def config() -> dict[str, Any]:
        return {"refresh-interval": 3000, "timezone-name": time.tzname[0], "timezone-offset": -time.timezone * 1000,
                "flink-version": FLINK_VERSION, "flink-revision": "miniflink", "features": {
                    "web-submit": False, "web-cancel": True, "web-rescale": False, "web-history": False}}

    @app.get("/jobmanager/config")
    async def jobmanager_config() -> list[dict[str, str]]:
        return [{"key": k, "value": v} for k, v in sorted(jm_proc.config.as_dict().items())]

    @app.get("/overview")
    async def overview() -> dict[str, Any]:
        demand = rm.demand()
        return {"taskmanagers": len(rm.taskmanagers), "slots-total": demand.registered_slots,
                "slots-available": demand.free_slots, "jobs-running": d.count(
                    JobStatus.RUNNING, JobStatus.CREATED, JobStatus.RESTARTING, JobStatus.FAILING,
                    JobStatus.CANCELLING),
                "jobs-finished": d.count(JobStatus.FINISHED), "jobs-cancelled": d.count(JobStatus.CANCELED),
                "jobs-failed": d.count(JobStatus.FAILED), "flink-version": FLINK_VERSION, "flink-commit": "miniflink"}

    @app.get("/jobs")
    async def jobs() -> dict[str, Any]:
        return {"jobs": [{"id": jid, "status": jm.status.value} for jid, jm in d.jobs.items()]}

    @app.get("/jobs/overview")
    async def jobs_overview() -> dict[str, Any]:
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
    async def job(jid: str) -> dict[str, Any] | JSONResponse:
        jm = job_or_404(jid)
        return jm if isinstance(jm, JSONResponse) else job_details(jm)

    @app.patch("/jobs/{jid}", response_model=None)
    async def cancel(jid: str, mode: str = "cancel") -> Response:
        if mode == "stop":
            # Flink removed the "stop" termination mode; stopping is stop-with-savepoint now.
            return _error(400, "The termination mode \"stop\" has been removed. For an ungraceful shutdown, "
                               "please use \"cancel\" instead. For a graceful shutdown, please use "
                               "POST /jobs/<jobId>/stop (flink stop) instead.")
        if mode != "cancel":
            return _error(400, f"Invalid value {mode!r} for query parameter mode: expected cancel")
        return cancel_job(jid)

    def cancel_job(jid: str) -> Response:
        if jid not in d.jobs:
            return _error(404, f"Job {jid} not found")
        d.cancel(jid)
        return JSONResponse({}, status_code=202)

    @app.get("/jobs/{jid}/yarn-cancel", response_model=None)
    async def yarn_cancel(jid: str) -> Response:
        # Flink's GET alias of cancel (its dashboard's Cancel button); rest_guard.py restricts who may send it.
        return cancel_job(jid)

    @app.get("/jobs/{jid}/yarn-stop", response_model=None)
    async def yarn_stop(jid: str) -> Response:
        if jid not in d.jobs:
            return _error(404, f"Job {jid} not found")
        # Flink's alias of the removed "stop" termination mode: stopping is stop-with-savepoint now.
        return _error(400, "The termination mode \"stop\" has been removed. For an ungraceful shutdown, "
                           "please use \"cancel\" instead. For a graceful shutdown, please use "
                           "POST /jobs/<jobId>/stop (flink stop) instead.")

    add_checkpoint_routes(app, jm_proc)  # before add_job_routes: these answer the checkpoint paths
    add_job_routes(app, jm_proc, operations)
    add_application_routes(app, jm_proc)

    def tm_info(tm_id: str) -> dict[str, Any]:
        tm = rm.taskmanagers[tm_id]
        last_beat = time.time() - (time.monotonic() - tm.last_heartbeat)
        return {"id": tm.id, "path": f"tcp://{tm.host}/taskmanager/{tm.id}", "dataPort": 0, "jmxPort": -1,
                "timeSinceLastHeartbeat": int(last_beat * 1000), "slotsNumber": tm.slots,
                "freeSlots": tm.free_slots, "totalResource": {"cpuCores": tm.slots},
                "freeResource": {"cpuCores": tm.free_slots}, "hardware": tm.hardware, "pid": tm.pid,
                "idle": tm.idle_since is not None, "blocked": False}

    def tm_details(tm_id: str) -> dict[str, Any]:
        """Flink's TaskManagerDetailsInfo: the list entry plus its slots and its process's memory."""
        tm = rm.taskmanagers[tm_id]
        figures = tm_figures(tm_id) or {}
        rss = int(figures.get("Status.Process.Memory.RSS", 0))
        physical = int(tm.hardware.get("physicalMemory", 0))
        # A Python TaskManager has none of the JVM's memory pools: its process memory is what it uses.
        memory = {"frameworkHeap": 0, "taskHeap": 0, "frameworkOffHeap": 0, "taskOffHeap": 0, "networkMemory": 0,
                  "managedMemory": 0, "jvmMetaspace": 0, "jvmOverhead": 0, "totalFlinkMemory": rss,
                  "totalProcessMemory": rss}
        return {**tm_info(tm_id), "memoryConfiguration": memory,
                "allocatedSlots": [{"index": i, "jobId": owner, "resource": {"cpuCores": 1}}
                                   for i, owner in enumerate(tm.owners) if owner is not None],
                "metrics": {"heapUsed": rss, "heapCommitted": rss, "heapMax": physical, "nonHeapUsed": 0,
                            "nonHeapCommitted": 0, "nonHeapMax": 0, "directCount": 0, "directUsed": 0,
                            "directMax": 0, "mappedCount": 0, "mappedUsed": 0, "mappedMax": 0,
                            "memorySegmentsAvailable": 0, "memorySegmentsTotal": 0,
                            "nettyShuffleMemorySegmentsAvailable": 0, "nettyShuffleMemorySegmentsUsed": 0,
                            "nettyShuffleMemorySegmentsTotal": 0, "nettyShuffleMemoryAvailable": 0,
                            "nettyShuffleMemoryUsed": 0, "nettyShuffleMemoryTotal": 0, "garbageCollectors": [
                                {"name": f"gen{g}", "count": int(figures[f"Status.JVM.GarbageCollector.gen{g}.Count"]),
                                 "time": int(figures[f"Status.JVM.GarbageCollector.gen{g}.Time"])}
                                for g in range(3) if f"Status.JVM.GarbageCollector.gen{g}.Count" in figures]}}

    def tm_figures(tm_id: str) -> dict[str, float] | None:
        """The TaskManager's figures from its last heartbeat (it measures itself and its task processes);
        before its first, its process's own when it runs on this host (its pid means nothing elsewhere)."""
        reported = jm_proc.tm_figures.get(tm_id)
        if reported is not None:
            return reported
        tm = rm.taskmanagers[tm_id]
        if not tm.pid or tm.host not in here:
            return None
        try:
            return process_figures(tm.pid)
        except psutil.Error:  # gone, or not ours to read: no figures rather than an error
            return None

    @app.get("/taskmanagers")
    async def taskmanagers() -> dict[str, Any]:
        return {"taskmanagers": [tm_info(t) for t in rm.taskmanagers]}

    @app.get("/taskmanagers/{tm_id}", response_model=None)
    async def taskmanager(tm_id: str) -> dict[str, Any] | JSONResponse:
        if tm_id not in rm.taskmanagers:
            return _error(404, f"TaskManager {tm_id} does not exist")
        return tm_details(tm_id)

    @app.get("/taskmanagers/{tm_id}/metrics", response_model=None)
    async def tm_metrics(tm_id: str, get: str | None = None) -> list[dict[str, Any]] | JSONResponse:
        if tm_id not in rm.taskmanagers:
            return _error(404, f"TaskManager {tm_id} does not exist")
        return metric_list(tm_figures(tm_id) or {}, query_list(get))

    @app.get("/taskmanagers/{tm_id}/logs", response_model=None)
    async def tm_logs(tm_id: str) -> Response:
        tm = rm.taskmanagers.get(tm_id)
        if tm is None:
            return _error(404, f"TaskManager {tm_id} does not exist")
        logs = []
        for which, name in (("log", "taskmanager.log"), ("stdout", "taskmanager.out")):
            try:
                reply = await tm.gateway.request(ReadFile(which=which))
            except (TimeoutError, ConnectionError) as e:
                return _error(503, f"TaskManager {tm_id} did not answer: {e}")
            logs.append({"name": name, "size": len(reply.text.encode()), "mtime": int(time.time() * 1000)})
        return JSONResponse({"logs": logs})

    async def tm_file(tm_id: str, which: Literal["stdout", "log"]) -> Response:
        tm = rm.taskmanagers.get(tm_id)
        if tm is None:
            return _error(404, f"TaskManager {tm_id} does not exist")
        try:
            reply = await tm.gateway.request(ReadFile(which=which))
        except (TimeoutError, ConnectionError) as e:
            return _error(503, f"TaskManager {tm_id} did not answer: {e}")
        return PlainTextResponse(reply.text)

    @app.get("/taskmanagers/{tm_id}/thread-dump", response_model=None)
    async def tm_thread_dump(tm_id: str) -> Response:
        tm = rm.taskmanagers.get(tm_id)
        if tm is None:
            return _error(404, f"TaskManager {tm_id} does not exist")
        try:
            reply = await tm.gateway.request(ReadFile(which="threads"))
        except (TimeoutError, ConnectionError) as e:
            return _error(503, f"TaskManager {tm_id} did not answer: {e}")
        return JSONResponse({"threadInfos": json.loads(reply.text)})

    @app.get("/jobmanager/thread-dump")
    def jobmanager_thread_dump() -> dict[str, Any]:
        # Sync on purpose: it reads this process's frames, none of the loop's state.
        return {"threadInfos": thread_infos()}

    @app.get("/taskmanagers/{tm_id}/stdout")
    async def tm_stdout(tm_id: str) -> Response:
        return await tm_file(tm_id, "stdout")

    @app.get("/taskmanagers/{tm_id}/log")
    async def tm_log(tm_id: str) -> Response:
        return await tm_file(tm_id, "log")

    @app.get("/taskmanagers/{tm_id}/logs/{name}")
    async def tm_named_log(tm_id: str, name: str) -> Response:
        if name not in ("taskmanager.log", "taskmanager.out"):
            return _error(404, f"TaskManager {tm_id} has no log file {name}")
        return await tm_file(tm_id, "log" if name.endswith(".log") else "stdout")

    @app.get("/jobmanager/environment")
    def jobmanager_environment() -> dict[str, Any]:
        return {"jvm": {"version": f"{platform.python_implementation()} {platform.python_version()}",
                        "arch": platform.machine(), "options": list(sys.orig_argv[1:])},
                "classpath": [p for p in sys.path if p]}

    @app.get("/jobmanager/metrics")
    async def jobmanager_metrics(get: str | None = None) -> list[dict[str, Any]]:
        return metric_list(process_figures(), query_list(get))

    @app.get("/jobmanager/logs")
    def jobmanager_logs() -> dict[str, Any]:
        return {"logs": rest_logs.log_list()}

    def jm_file(name: str) -> Response:
        fd = rest_logs.fd_of(name)
        text = rest_logs.tail(fd) if fd is not None else None
        if text is None:
            return _error(404, f"The JobManager has no file {name} (its output does not go to a file)")
        return PlainTextResponse(text)

    @app.get("/jobmanager/log")
    def jobmanager_log() -> Response:
        return jm_file("jobmanager.log")

    @app.get("/jobmanager/stdout")
    def jobmanager_stdout() -> Response:
        return jm_file("jobmanager.out")

    @app.get("/jobmanager/logs/{name}")
    def jobmanager_named_log(name: str) -> Response:
        return jm_file(name)

    @app.get("/datasets")
    def datasets() -> dict[str, Any]:
        # Flink's cluster partitions of batch jobs' cached data sets; this runtime keeps none.
        return {"dataSets": []}

    @app.get("/resourcemanager/overview")
    async def rm_overview() -> dict[str, Any]:
        dm = rm.demand()
        return {"requiredSlots": dm.required_slots, "registeredSlots": dm.registered_slots,
                "freeSlots": dm.free_slots, "pendingSlotRequests": dm.pending_slot_requests,
                "waitingSlots": dm.waiting_slots, "taskmanagers": list(dm.taskmanagers),
                "idleTaskmanagers": rm.idle_taskmanagers(),
                "jobRequirements": dict(rm.job_requirements)}

    @app.delete("/cluster")
    async def shutdown_cluster() -> Response:
        jm_proc.shutdown_requested.set()
        return Response(status_code=202)

    @app.get("/resourcemanager/allocation-history")
    async def rm_history() -> dict[str, Any]:
        return {"events": rm.history.as_list()}

    add_dashboard_routes(app, jm_proc)
    return app
