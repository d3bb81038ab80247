"""Flink's checkpoint REST paths: `/jobs/<jid>/checkpoints` (counts, summary, latest, history),
`/checkpoints/config`, `/checkpoints/details/<id>`, and the asynchronous trigger `POST /jobs/<jid>/checkpoints`
-> 202 `{"request-id"}` polled at `GET /jobs/<jid>/checkpoints/<request-id>`.

Registered before rest_jobs.py's routes, so these answer those paths. Bodies follow Flink's
CheckpointingStatistics, CheckpointConfigInfo and CheckpointStatistics (`className` names the subtype).
"""

from __future__ import annotations

import json
import re
import uuid
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from flink_on_yarn.runtime.checkpoint_coordinator import Checkpoint
from flink_on_yarn.runtime.job_master import JobMaster

if TYPE_CHECKING:
    from flink_on_yarn.runtime.jobmanager import JobManager

TRIGGER_ID = re.compile(r"[0-9a-f]{32}")
# Enough for any client's polling, bounded so a trigger loop cannot grow the JobManager.
MAX_KEPT = 1000
_CLASS = {"COMPLETED": ".CompletedCheckpointStatistics", "FAILED": ".FailedCheckpointStatistics",
          "IN_PROGRESS": ".PendingCheckpointStatistics"}


def error(status: int, *messages: str) -> JSONResponse:
    return JSONResponse({"errors": list(messages)}, status_code=status)


def _summary(values: list[int]) -> dict[str, Any]:
    """Flink's StatsSummaryDto: min/max/avg and percentiles over the retained history."""
    if not values:
        return {"min": 0, "max": 0, "avg": 0, "p50": 0.0, "p90": 0.0, "p95": 0.0, "p99": 0.0, "p999": 0.0}
    xs = sorted(values)

    def q(p: float) -> float:
        return float(xs[min(len(xs) - 1, int(p * len(xs)))])

    return {"min": xs[0], "max": xs[-1], "avg": sum(xs) // len(xs), "p50": q(0.5), "p90": q(0.9),
            "p95": q(0.95), "p99": q(0.99), "p999": q(0.999)}


def checkpoint_stats(p: Checkpoint) -> dict[str, Any]:
    end = p.end_ms if p.end_ms >= 0 else p.latest_ack_ms
    body: dict[str, Any] = {
        "className": _CLASS[p.status], "id": p.id, "status": p.status, "is_savepoint": p.is_savepoint,
        "savepointFormat": "CANONICAL" if p.is_savepoint else None,
        "trigger_timestamp": p.trigger_ms, "latest_ack_timestamp": p.latest_ack_ms,
        "checkpointed_size": p.state_size, "state_size": p.state_size,
        "end_to_end_duration": max(0, end - p.trigger_ms) if end >= 0 else 0,
        "alignment_buffered": 0, "processed_data": 0, "persisted_data": 0,
        "num_subtasks": len(p.tasks), "num_acknowledged_subtasks": len(p.handles),
        "checkpoint_type": "SAVEPOINT" if p.is_savepoint else "CHECKPOINT", "tasks": {},
    }
    if p.status == "COMPLETED":
        body.update({"external_path": p.external_path, "discarded": False})
    elif p.status == "FAILED":
        body.update({"failure_timestamp": p.end_ms, "failure_message": p.failure})
    return body


def statistics(jm: JobMaster) -> dict[str, Any]:
    c = jm.coordinator
    done = [p for p in c.history if p.status == "COMPLETED"]
    latest = c.latest()
    restored = None
    if c.restored is not None:
        cid, at, path = c.restored
        restored = {"id": cid, "restore_timestamp": at, "is_savepoint": path == jm.savepoint_path,
                    "external_path": path}
    savepoint = next((p for p in c.history if p.is_savepoint and p.status == "COMPLETED"), None)
    return {
        "counts": dict(c.counts),
        "summary": {"checkpointed_size": _summary([p.state_size for p in done]),
                    "state_size": _summary([p.state_size for p in done]),
                    "end_to_end_duration": _summary([p.end_ms - p.trigger_ms for p in done]),
                    "alignment_buffered": _summary([]), "processed_data": _summary([]),
                    "persisted_data": _summary([])},
        "latest": {"completed": checkpoint_stats(latest) if latest is not None else None,
                   "savepoint": checkpoint_stats(savepoint) if savepoint is not None else None,
                   "failed": checkpoint_stats(c.latest_failed) if c.latest_failed is not None else None,
                   "restored": restored},
        "history": [checkpoint_stats(p) for p in c.history],
    }


def config_info(jm: JobMaster) -> dict[str, Any]:
    cfg = jm.checkpoint_config
    return {"mode": "exactly_once", "interval": cfg.interval_ms, "timeout": cfg.timeout_ms,
            "min_pause": cfg.min_pause_ms, "max_concurrent": cfg.max_concurrent,
            "externalization": {"enabled": True, "delete_on_cancellation": False},
            "state_backend": "HashMapStateBackend", "checkpoint_storage": "FileSystemCheckpointStorage",
            "unaligned_checkpoints": False, "tolerable_failed_checkpoints": 0, "aligned_checkpoint_timeout": 0,
            "checkpoints_after_tasks_finish": False, "state_changelog_enabled": False,
            "changelog_periodic_materialization_interval": 600000, "changelog_storage": "memory"}


def add_checkpoint_routes(app: FastAPI, jm_proc: JobManager) -> None:
    d = jm_proc.dispatcher
    # (job id, request id) -> the checkpoint it triggered, or the reason it could not be triggered.
    operations: OrderedDict[tuple[str, str], Checkpoint | str] = OrderedDict()

    def checkpointed(jid: str) -> JobMaster | JSONResponse:
        jm = d.jobs.get(jid)
        if jm is None:
            return error(404, f"Job {jid} not found")
        if not jm.checkpointing:
            return error(404, f"Checkpointing is not enabled for this job ({jid}).")
        return jm

    @app.get("/jobs/{jid}/checkpoints", response_model=None)
    async def checkpoints(jid: str) -> Any:
        jm = checkpointed(jid)
        return jm if isinstance(jm, JSONResponse) else statistics(jm)

    @app.get("/jobs/{jid}/checkpoints/config", response_model=None)
    async def checkpoints_config(jid: str) -> Any:
        jm = checkpointed(jid)
        return jm if isinstance(jm, JSONResponse) else config_info(jm)

    @app.get("/jobs/{jid}/checkpoints/details/{cid}", response_model=None)
    async def checkpoint_details(jid: str, cid: str) -> Any:
        jm = checkpointed(jid)
        if isinstance(jm, JSONResponse):
            return jm
        if not cid.isdigit():
            return error(400, f"Could not parse path parameter checkpointid: {cid!r} is not a number")
        found = next((p for p in jm.coordinator.history if p.id == int(cid)), None)
        if found is None:
            return error(404, f"Could not find checkpointing statistics for checkpoint {cid}.")
        body = checkpoint_stats(found)
        by_vertex: dict[str, list[str]] = {}
        for exec_id in found.tasks:
            ex = jm.by_execution_id.get(exec_id)
            if ex is not None:
                by_vertex.setdefault(ex.vertex_id, []).append(exec_id)
        body["tasks"] = {vid: {
            "id": found.id, "status": found.status,
            "latest_ack_timestamp": max((found.ack_ms.get(e, -1) for e in ids), default=-1),
            "checkpointed_size": sum(found.sizes.get(e, 0) for e in ids),
            "state_size": sum(found.sizes.get(e, 0) for e in ids),
            "end_to_end_duration": max((found.ack_ms.get(e, found.trigger_ms) - found.trigger_ms for e in ids),
                                       default=0),
            "alignment_buffered": 0, "processed_data": 0, "persisted_data": 0,
            "num_subtasks": len(ids), "num_acknowledged_subtasks": sum(1 for e in ids if e in found.handles),
        } for vid, ids in by_vertex.items()}
        return body

    @app.post("/jobs/{jid}/checkpoints", response_model=None)
    async def trigger(jid: str, request: Request) -> Response:
        jm = d.jobs.get(jid)
        if jm is None:
            return error(404, f"Job {jid} not found")
        raw = await request.body()
        given: Any = None
        if raw.strip():
            try:
                body = json.loads(raw)
            except ValueError:
                return error(400, "Request did not match expected format CheckpointTriggerRequestBody.")
            if not isinstance(body, dict):
                return error(400, "Request did not match expected format CheckpointTriggerRequestBody.")
            given = body.get("triggerId")
            ctype = body.get("checkpointType", "CONFIGURED")
            if ctype not in ("CONFIGURED", "FULL", "INCREMENTAL"):
                return error(400, "Request did not match expected format CheckpointTriggerRequestBody.",
                             f"checkpointType: {ctype!r} is not one of CONFIGURED, FULL, INCREMENTAL")
        if given is not None and (not isinstance(given, str) or not TRIGGER_ID.fullmatch(given.lower())):
            return error(400, f"Invalid triggerId {given!r}: expected 32 hexadecimal digits")
        rid = given.lower() if given is not None else uuid.uuid4().hex
        if (jid, rid) in operations:
            return JSONResponse({"request-id": rid}, status_code=202)
        outcome: Checkpoint | str
        if not jm.checkpointing:
            outcome = f"Checkpointing is not enabled for this job ({jid})."
        else:
            p = await jm.trigger_checkpoint()
            outcome = p if p is not None else (
                f"Checkpoint triggering of job {jid} failed: not all required tasks are currently running.")
        operations[(jid, rid)] = outcome
        while len(operations) > MAX_KEPT:
            operations.popitem(last=False)
        return JSONResponse({"request-id": rid}, status_code=202)

    @app.get("/jobs/{jid}/checkpoints/{rid}", response_model=None)
    async def trigger_status(jid: str, rid: str) -> Response:
        if jid not in d.jobs:
            return error(404, f"Job {jid} not found")
        outcome = operations.get((jid, rid.lower()))
        if outcome is None:
            return error(404, f"There is no checkpoint operation with triggerId={rid} for job {jid}.")
        if isinstance(outcome, str):
            return error(400, outcome)
        if outcome.status == "FAILED":
            return error(400, f"Checkpoint {outcome.id} failed: {outcome.failure}")
        if outcome.status == "IN_PROGRESS":
            return JSONResponse({"status": {"id": "IN_PROGRESS"}, "operation": None})
        return JSONResponse({"status": {"id": "COMPLETED"}, "operation": {"checkpointId": outcome.id}})
