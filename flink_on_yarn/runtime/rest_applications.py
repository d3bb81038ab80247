"""Flink 2.x's applications (`/applications/overview`, `/applications/<id>`, its exceptions and cancel):
what the dashboard's Overview page lists.

An application cluster (`jobmanager --python FILE`, `miniflink run-application`) runs one application:
its program, and every job the program submits; it ends when the program has returned. In a session
cluster every submitted job is an application of its own, as Flink wraps it (its SingleJobApplication);
its id is the job's. The states are Flink's ApplicationState: CREATED, RUNNING, FAILING, FAILED,
CANCELED, FINISHED.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response

from flink_on_yarn.runtime import rest_views as views
from flink_on_yarn.runtime.job_master import JobMaster, now_ms
from flink_on_yarn.runtime.job_status import JobStatus

if TYPE_CHECKING:
    from flink_on_yarn.runtime.jobmanager import JobManager

STATES = ("CREATED", "RUNNING", "FAILING", "FAILED", "CANCELED", "FINISHED")
TERMINAL = ("FAILED", "CANCELED", "FINISHED")
# A job's state as its single-job application's.
FROM_JOB = {JobStatus.CREATED: "CREATED", JobStatus.RUNNING: "RUNNING", JobStatus.RESTARTING: "RUNNING",
            JobStatus.CANCELLING: "RUNNING", JobStatus.FAILING: "FAILING", JobStatus.FAILED: "FAILED",
            JobStatus.CANCELED: "CANCELED", JobStatus.FINISHED: "FINISHED"}


@dataclass
class ProgramApplication:
    """Application mode's application; `finish(code)` when its program has returned."""

    name: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    start_time: int = field(default_factory=now_ms)
    end_time: int = -1
    exit_code: int | None = None

    def finish(self, exit_code: int) -> None:
        self.exit_code = exit_code
        self.end_time = now_ms()


def program_state(app: ProgramApplication, jobs: list[JobMaster]) -> str:
    """RUNNING until the program has returned; then FAILED if it failed or a job did, else CANCELED if a job
    was cancelled, else FINISHED.

    >>> program_state(ProgramApplication("p"), [])
    'RUNNING'
    """
    if app.exit_code is None:
        return "RUNNING"
    states = {jm.status for jm in jobs}
    if app.exit_code != 0 or JobStatus.FAILED in states:
        return "FAILED"
    return "CANCELED" if JobStatus.CANCELED in states else "FINISHED"


@dataclass
class Application:
    """One application as the REST API answers it."""

    id: str
    name: str
    status: str
    start_time: int
    end_time: int
    jobs: list[JobMaster]

    def timestamps(self) -> dict[str, int]:
        out = {s: 0 for s in STATES}
        out["CREATED"] = out["RUNNING"] = self.start_time
        if self.status in TERMINAL or self.status == "FAILING":
            out[self.status] = self.end_time if self.end_time > 0 else now_ms()
        return out

    def details(self) -> dict[str, Any]:
        """Flink's ApplicationDetails (an entry of `/applications/overview`): its jobs counted by state."""
        counts: dict[str, int] = {}
        for jm in self.jobs:
            counts[jm.status.value] = counts.get(jm.status.value, 0) + 1
        return {"id": self.id, "name": self.name, "status": self.status, "start-time": self.start_time,
                "end-time": self.end_time, "duration": views.duration(self.start_time, self.end_time),
                "jobs": counts}

    def details_info(self) -> dict[str, Any]:
        """Flink's ApplicationDetailsInfo (`/applications/<id>`): its jobs' JobDetails."""
        return {"id": self.id, "name": self.name, "status": self.status, "start-time": self.start_time,
                "end-time": self.end_time, "duration": views.duration(self.start_time, self.end_time),
                "timestamps": self.timestamps(), "jobs": [views.job_summary(jm) for jm in self.jobs]}

    def exceptions(self) -> dict[str, Any]:
        """Flink's ApplicationExceptionsInfoWithHistory: its jobs' failures, newest first."""
        entries = [{**{k: views.exception_entry(e)[k] for k in ("exceptionName", "stacktrace", "timestamp")},
                    "jobId": jm.job_id} for jm in self.jobs for e in jm.exceptions]
        entries.sort(key=lambda e: -int(e["timestamp"]))
        return {"exceptionHistory": {"entries": entries}}


def applications(program: ProgramApplication | None, jobs: dict[str, JobMaster]) -> list[Application]:
    if program is not None:
        mine = list(jobs.values())
        end = program.end_time if program.exit_code is not None else -1
        return [Application(program.id, program.name, program_state(program, mine), program.start_time, end, mine)]
    return [Application(jid, jm.graph.jobName, FROM_JOB.get(jm.status, "RUNNING"), jm.start_time, jm.end_time, [jm])
            for jid, jm in jobs.items()]


def error(status: int, *messages: str) -> JSONResponse:
    return JSONResponse({"errors": list(messages)}, status_code=status)


def add_application_routes(app: FastAPI, jm_proc: JobManager) -> None:
    d = jm_proc.dispatcher

    def find(app_id: str) -> Application | None:
        return next((a for a in applications(jm_proc.application, d.jobs) if a.id == app_id), None)

    @app.get("/applications/overview")
    async def overview() -> dict[str, Any]:
        return {"applications": [a.details() for a in applications(jm_proc.application, d.jobs)]}

    @app.get("/applications/{app_id}", response_model=None)
    async def details(app_id: str) -> Response:
        found = find(app_id)
        if found is None:
            return error(404, f"Application {app_id} not found")
        return JSONResponse(found.details_info())

    @app.get("/applications/{app_id}/exceptions", response_model=None)
    async def exceptions(app_id: str) -> Response:
        found = find(app_id)
        if found is None:
            return error(404, f"Application {app_id} not found")
        return JSONResponse(found.exceptions())

    @app.post("/applications/{app_id}/cancel", response_model=None)
    async def cancel(app_id: str) -> Response:
        found = find(app_id)
        if found is None:
            return error(404, f"Application {app_id} not found")
        if found.status in TERMINAL:
            return error(409, f"Application {app_id} has already reached the terminal state {found.status}.")
        for jm in found.jobs:
            d.cancel(jm.job_id)
        return JSONResponse({}, status_code=202)
