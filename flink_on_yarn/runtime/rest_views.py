"""The JSON bodies of Flink's job REST API (names and shapes of Flink's REST API reference), built from a
job master's state without changing it.

The figures are what each subtask measured and last reported (task_metrics.py): records and bytes in and
out, busy/idle/back-pressured time, watermarks. A figure some subtask has not reported (one not yet
running; a source's idle and busy time, which are not measured) is answered as Flink answers it: the
`*-complete` flag false, a busy time of `"NaN"`, never a made-up figure.
"""

from __future__ import annotations

from typing import Any

from flink_on_yarn.graph.job_graph import JobVertexSpec as VertexSpec
from flink_on_yarn.runtime.execution_state import ExecutionState, aggregate, status_counts
from flink_on_yarn.runtime.job_master import Execution, JobMaster, now_ms
from flink_on_yarn.runtime.job_status import JobStatus

# Flink's states this runtime never enters; Flink's Java client reads a count (or timestamp) for each.
EXTRA_EXECUTION_STATES = ("RECONCILING",)
EXTRA_JOB_STATES = ("SUSPENDED", "RECONCILING")
# Flink's metric names for the figures task_metrics.py reports (ours are IOMetricsInfo's names, or Flink's).
MEASURED = {"numRecordsIn": "read-records", "numRecordsOut": "write-records", "numBytesIn": "read-bytes",
            "numBytesOut": "write-bytes", "accumulateBackPressuredTimeMs": "accumulated-backpressured-time",
            "accumulateIdleTimeMs": "accumulated-idle-time", "accumulateBusyTimeMs": "accumulated-busy-time",
            **{n: n for n in ("busyTimeMsPerSecond", "idleTimeMsPerSecond", "backPressuredTimeMsPerSecond",
                              "currentInputWatermark", "currentOutputWatermark")}}
# Flink's back-pressure levels by the share of time back-pressured (JobVertexBackPressureHandler).
LOW_RATIO, HIGH_RATIO = 0.10, 0.5


def duration(start: int, end: int) -> int:
    return (end if end > 0 else now_ms()) - start if start > 0 else -1


def task_counts(states: list[ExecutionState], lower: bool) -> dict[str, int]:
    counts = {**status_counts(states), **{s: 0 for s in EXTRA_EXECUTION_STATES}}
    return {k.lower(): v for k, v in counts.items()} if lower else counts


def io_metrics(execs: list[Execution]) -> dict[str, Any]:
    """Flink's IOMetricsInfo: sums over the subtasks, each figure `*-complete` when every subtask reported it."""
    out: dict[str, Any] = {}
    for name in ("read-bytes", "write-bytes", "read-records", "write-records"):
        out[name] = sum(e.metrics.get(name, 0) for e in execs)
        out[f"{name}-complete"] = bool(execs) and all(name in e.metrics for e in execs)
    # Times are the maximum over the subtasks, as Flink's MutableIOMetrics takes them (the dashboard's
    # "Busy (max)", "Backpressured (max)"); busy is NaN unless every subtask measured it.
    for name in ("accumulated-backpressured-time", "accumulated-idle-time"):
        out[name] = max((e.metrics.get(name, 0) for e in execs), default=0)
    busy = [e.metrics.get("accumulated-busy-time") for e in execs]
    out["accumulated-busy-time"] = max(b for b in busy if b is not None) \
        if busy and all(b is not None for b in busy) else "NaN"
    return out


def job_summary(jm: JobMaster) -> dict[str, Any]:
    """Flink's JobDetails (an entry of `/jobs/overview`)."""
    return {
        "jid": jm.job_id, "name": jm.graph.jobName, "state": jm.status.value,
        "start-time": jm.start_time, "end-time": jm.end_time, "duration": duration(jm.start_time, jm.end_time),
        "last-modification": max(jm.timestamps.values()),
        "tasks": {"total": len(jm.executions), **task_counts([e.state for e in jm.executions.values()], True)},
        # Operators not yet in the job graph (Flink's adaptive graphs); ours is whole from the start.
        "pending-operators": 0,
    }


def vertex_execs(jm: JobMaster, v: VertexSpec) -> list[Execution]:
    return [jm.executions[(v.id, i)] for i in range(v.parallelism) if (v.id, i) in jm.executions]


def vertex_times(execs: list[Execution]) -> tuple[int, int]:
    starts = [e.start_time for e in execs if e.start_time > 0]
    ends = [e.end_time for e in execs]
    return (min(starts) if starts else -1), (max(ends) if ends and all(x > 0 for x in ends) else -1)


def plan(jm: JobMaster) -> dict[str, Any]:
    """Flink's JobPlanInfo `plan`: one node per job vertex, its inputs with their ship strategies."""
    return {"jid": jm.job_id, "name": jm.graph.jobName, "type": job_type(jm), "nodes": [
        {"id": v.id, "parallelism": v.parallelism, "operator": v.name, "operator_strategy": "",
         "description": v.name, "optimizer_properties": {},
         "inputs": [{"num": n, "id": e.source, "ship_strategy": e.shipStrategy, "exchange": "pipelined_bounded"}
                    for n, e in enumerate(jm.graph.inputs_of(v.id))]}
        for v in jm.graph.vertices]}


def job_type(jm: JobMaster) -> str:
    return "STREAMING" if jm.graph.runtimeMode == "STREAMING" else "BATCH"


def job_details(jm: JobMaster) -> dict[str, Any]:
    """Flink's JobDetailsInfo (`/jobs/<jid>`)."""
    vertices = []
    for v in jm.graph.vertices:
        execs = vertex_execs(jm, v)
        start, end = vertex_times(execs)
        vertices.append({
            "id": v.id, "name": v.name, "maxParallelism": v.maxParallelism, "parallelism": v.parallelism,
            "slotSharingGroupId": v.slotSharingGroup,
            "status": aggregate([e.state for e in execs]).value, "start-time": start, "end-time": end,
            "duration": duration(start, end), "tasks": task_counts([e.state for e in execs], False),
            "taskmanagers": sorted({e.tm_id for e in execs if e.tm_id}), "metrics": io_metrics(execs),
        })
    summary = job_summary(jm)
    del summary["tasks"]
    return {
        **summary, "isStoppable": False, "now": now_ms(), "maxParallelism": max(
            (v.maxParallelism for v in jm.graph.vertices), default=-1),
        "job-type": job_type(jm), "timestamps": {**jm.timestamps, **{s: 0 for s in EXTRA_JOB_STATES}},
        "vertices": vertices, "status-counts": task_counts([e.state for e in jm.executions.values()], False),
        "plan": plan(jm), "restarts": jm.restarts, "requiredSlots": jm.graph.required_slots(),
    }


def exception_entry(e: dict[str, Any]) -> dict[str, Any]:
    """Flink's ExceptionInfo for one failure: the failure text starts with its exception's name."""
    text = str(e["exception"])
    head = text.split(":", 1)[0]
    name = head if head and " " not in head else "JobException"
    return {"exceptionName": name, "stacktrace": text, "timestamp": e["timestamp"], "taskName": None,
            "endpoint": None, "taskManagerId": None, "failureLabels": {}, "concurrentExceptions": []}


def exceptions(jm: JobMaster) -> dict[str, Any]:
    """Flink's JobExceptionsInfoWithHistory, newest first, with the pre-1.13 `root-exception` fields too."""
    entries = [exception_entry(e) for e in reversed(jm.exceptions)]
    return {"root-exception": jm.failure_cause,
            "timestamp": jm.exceptions[-1]["timestamp"] if jm.exceptions else None,
            "all-exceptions": jm.exceptions, "truncated": False,
            "exceptionHistory": {"entries": entries, "truncated": False}}


APPLICATION_STATUS = {JobStatus.FINISHED: "SUCCEEDED", JobStatus.FAILED: "FAILED",
                      JobStatus.CANCELED: "CANCELED"}


def execution_result(jm: JobMaster) -> dict[str, Any]:
    """Flink's JobExecutionResultResponseBody: IN_PROGRESS until the job is globally terminal."""
    if not jm.status.is_globally_terminal:
        return {"status": {"id": "IN_PROGRESS"}}
    result: dict[str, Any] = {"id": jm.job_id, "application-status": APPLICATION_STATUS[jm.status],
                              "accumulator-results": {}, "net-runtime": duration(jm.start_time, jm.end_time)}
    if jm.status == JobStatus.FAILED and jm.failure_cause:
        result["failure-cause"] = {"class": exception_entry({"exception": jm.failure_cause,
                                                             "timestamp": 0})["exceptionName"],
                                   "stack-trace": jm.failure_cause}
    return {"status": {"id": "COMPLETED"}, "job-execution-result": result}


def job_config(jm: JobMaster, restart: str) -> dict[str, Any]:
    """Flink's JobConfigInfo: the job's ExecutionConfig summary and its own keys (`user-config`)."""
    return {"jid": jm.job_id, "name": jm.graph.jobName, "execution-config": {
        "execution-mode": "PIPELINED", "restart-strategy": restart,
        "job-parallelism": max((v.parallelism for v in jm.graph.vertices), default=1),
        "object-reuse-mode": False, "user-config": dict(jm.graph.config)}}


def subtask_info(jm: JobMaster, e: Execution, endpoint: str | None) -> dict[str, Any]:
    """Flink's SubtaskExecutionAttemptDetailsInfo."""
    return {"subtask": e.subtask, "status": e.state.value, "attempt": e.attempt, "endpoint": endpoint,
            "host": endpoint.rsplit(":", 1)[0] if endpoint else None, "start-time": e.start_time,
            "start_time": e.start_time, "end-time": e.end_time, "duration": duration(e.start_time, e.end_time),
            "metrics": io_metrics([e]), "taskmanager-id": e.tm_id or "(unassigned)",
            "status-duration": {}, "other-concurrent-attempts": []}


def vertex_details(jm: JobMaster, v: VertexSpec, endpoints: dict[str, str]) -> dict[str, Any]:
    """Flink's JobVertexDetailsInfo (`/jobs/<jid>/vertices/<vid>`)."""
    return {"id": v.id, "name": v.name, "parallelism": v.parallelism, "maxParallelism": v.maxParallelism,
            "now": now_ms(), "subtasks": [subtask_info(jm, e, endpoints.get(e.tm_id or ""))
                                          for e in vertex_execs(jm, v)]}


def vertex_taskmanagers(jm: JobMaster, v: VertexSpec, endpoints: dict[str, str]) -> dict[str, Any]:
    """Flink's JobVertexTaskManagersInfo: the vertex's subtasks grouped by TaskManager."""
    by_tm: dict[str, list[Execution]] = {}
    for e in vertex_execs(jm, v):
        if e.tm_id:
            by_tm.setdefault(e.tm_id, []).append(e)
    tms = []
    for tm_id, execs in sorted(by_tm.items()):
        start, end = vertex_times(execs)
        endpoint = endpoints.get(tm_id)
        tms.append({"endpoint": endpoint, "host": endpoint.rsplit(":", 1)[0] if endpoint else None,
                    "taskmanager-id": tm_id, "status": aggregate([e.state for e in execs]).value,
                    "start-time": start, "end-time": end, "duration": duration(start, end),
                    "metrics": io_metrics(execs), "status-counts": task_counts([e.state for e in execs], False)})
    return {"id": v.id, "name": v.name, "now": now_ms(), "taskmanagers": tms}


def subtask_metric_values(execs: list[Execution]) -> dict[str, dict[int, int]]:
    """Per Flink metric name, each subtask's measured value (subtasks that have not reported are absent)."""
    out: dict[str, dict[int, int]] = {}
    for flink_name, ours in MEASURED.items():
        out[flink_name] = {e.subtask: e.metrics[ours] for e in execs if ours in e.metrics}
    return out


def vertex_metrics(execs: list[Execution], get: list[str] | None) -> list[dict[str, Any]]:
    """Flink's `/jobs/<jid>/vertices/<vid>/metrics`: `<subtask>.<metric>` names, values as strings."""
    values = {f"{i}.{name}": str(value) for name, per in subtask_metric_values(execs).items()
              for i, value in per.items()}
    if get is None:
        return [{"id": k} for k in sorted(values)]
    return [{"id": k, "value": values[k]} for k in get if k in values]


def aggregated(per_name: dict[str, list[float]], get: list[str] | None,
               aggs: list[str] | None) -> list[dict[str, Any]]:
    """Flink's AggregatedMetricsResponseBody: min/max/avg/sum/skew over the subtasks that reported."""
    if get is None:
        return [{"id": k} for k in sorted(n for n, v in per_name.items() if v)]
    wanted = aggs or ["min", "max", "avg", "sum", "skew"]
    out = []
    for name in get:
        vals = per_name.get(name) or []
        if not vals:
            continue
        avg = sum(vals) / len(vals)
        figures = {"min": min(vals), "max": max(vals), "avg": avg, "sum": sum(vals),
                   "skew": round((max(vals) - avg) / avg * 100) if avg else 0}
        out.append({"id": name, **{a: figures[a] for a in wanted if a in figures}})
    return out


def subtasks_metrics(execs: list[Execution], get: list[str] | None, aggs: list[str] | None) -> list[dict[str, Any]]:
    per = {name: [float(x) for x in vals.values()] for name, vals in subtask_metric_values(execs).items()}
    return aggregated(per, get, aggs)


def watermarks(execs: list[Execution]) -> list[dict[str, Any]]:
    """Flink's `/jobs/<jid>/vertices/<vid>/watermarks`: each reporting subtask's `<i>.currentInputWatermark`
    (Long.MIN before its first watermark, which the dashboard shows as "No Watermark")."""
    return [{"id": f"{e.subtask}.currentInputWatermark", "value": str(e.metrics["currentInputWatermark"])}
            for e in execs if "currentInputWatermark" in e.metrics]


def backpressure_level(ratio: float) -> str:
    return "ok" if ratio <= LOW_RATIO else "low" if ratio <= HIGH_RATIO else "high"


def backpressure(execs: list[Execution]) -> dict[str, Any]:
    """Flink's JobVertexBackPressureInfo from the subtasks' measured `*TimeMsPerSecond` (the last report
    interval): the ratio is the share of time a subtask's writers waited on a full socket buffer."""
    subtasks = []
    for e in execs:
        if "backPressuredTimeMsPerSecond" not in e.metrics:
            continue
        ratio = e.metrics["backPressuredTimeMsPerSecond"] / 1000
        level = backpressure_level(ratio)
        # Flink writes the level under both its names: `backpressureLevel`, and the older one its
        # dashboard reads.
        entry: dict[str, Any] = {"subtask": e.subtask, "attempt-number": e.attempt, "backpressureLevel": level,
                                 "backpressure-level": level, "ratio": ratio}
        if "idleTimeMsPerSecond" in e.metrics:
            entry["idleRatio"] = e.metrics["idleTimeMsPerSecond"] / 1000
            entry["busyRatio"] = e.metrics["busyTimeMsPerSecond"] / 1000
        subtasks.append(entry)
    if not subtasks:
        # Flink's answer before any subtask reported: the status alone.
        return {"status": "deprecated"}
    level = backpressure_level(max(s["ratio"] for s in subtasks))
    return {"status": "ok", "backpressureLevel": level, "backpressure-level": level, "end-timestamp": now_ms(),
            "subtasks": subtasks}
