"""The measured figures' pure pieces: task_metrics.py's sums and per-second shares over a fake clock and
counters, how rest_views.py turns subtask reports into Flink's IOMetricsInfo, back-pressure and
watermark bodies, and the rule that every REST route reading the JobManager's state is async."""

from __future__ import annotations

import doctest
import inspect
from dataclasses import dataclass, field

from flink_on_yarn.common.watermark_strategy import LONG_MIN
from flink_on_yarn.runtime import rest_views, task_metrics
from flink_on_yarn.runtime.job_master import Execution
from flink_on_yarn.runtime.task_metrics import TaskMetrics
from flink_on_yarn.runtime.watermarks import WatermarkValve


def test_doctests() -> None:
    assert doctest.testmod(task_metrics).failed == 0


@dataclass
class Gate:
    records_in: int = 0
    bytes_in: int = 0
    idle_s: float = 0.0
    valve: WatermarkValve = field(default_factory=lambda: WatermarkValve(1))


@dataclass
class Writer:
    records_out: int = 0
    bytes_out: int = 0
    backpressured_s: float = 0.0
    watermark_out: int = LONG_MIN


def test_task_metrics_sum_writers_and_split_time() -> None:
    now = [100.0]
    gate, w1, w2 = Gate(), Writer(), Writer()
    m = TaskMetrics(gate, [w1, w2], clock=lambda: now[0])
    gate.records_in, gate.bytes_in, gate.idle_s = 10, 500, 1.0
    w1.records_out, w1.bytes_out, w1.backpressured_s, w1.watermark_out = 4, 100, 0.5, 7
    w2.records_out, w2.bytes_out, w2.backpressured_s = 6, 200, 0.25
    gate.valve.on_watermark(0, 9)
    now[0] = 102.0
    s = m.snapshot()
    assert s["read-records"] == 10 and s["read-bytes"] == 500
    assert s["write-records"] == 10 and s["write-bytes"] == 300
    assert s["accumulated-idle-time"] == 1000 and s["accumulated-backpressured-time"] == 750
    assert s["accumulated-busy-time"] == 250  # 2 s elapsed - 1 s idle - 0.75 s back-pressured
    assert (s["idleTimeMsPerSecond"], s["backPressuredTimeMsPerSecond"], s["busyTimeMsPerSecond"]) == (500, 375, 125)
    assert s["currentInputWatermark"] == 9 and s["currentOutputWatermark"] == 7
    # The next interval is measured from this snapshot: 1 s, all of it idle.
    gate.idle_s, now[0] = 2.0, 103.0
    s = m.snapshot()
    assert (s["idleTimeMsPerSecond"], s["backPressuredTimeMsPerSecond"], s["busyTimeMsPerSecond"]) == (1000, 0, 0)


def test_a_source_reports_no_idle_or_busy_time_and_a_sink_its_input_watermark() -> None:
    source = TaskMetrics(None, [Writer()]).snapshot()
    assert "accumulated-idle-time" not in source and "accumulated-busy-time" not in source
    assert "idleTimeMsPerSecond" not in source and source["read-bytes"] == 0
    gate = Gate()
    gate.valve.on_watermark(0, 42)
    assert TaskMetrics(gate, []).snapshot()["currentOutputWatermark"] == 42


def execution(subtask: int, **metrics: int) -> Execution:
    return Execution("v", subtask, 0, f"e{subtask}", metrics=dict(metrics))


def test_io_metrics_max_times_and_complete_flags() -> None:
    a = execution(0, **{"read-bytes": 10, "accumulated-idle-time": 5, "accumulated-busy-time": 3,
                        "accumulated-backpressured-time": 1})
    b = execution(1, **{"read-bytes": 20, "accumulated-idle-time": 2, "accumulated-busy-time": 9,
                        "accumulated-backpressured-time": 4})
    io = rest_views.io_metrics([a, b])
    assert io["read-bytes"] == 30 and io["read-bytes-complete"] is True and io["write-bytes-complete"] is False
    assert (io["accumulated-idle-time"], io["accumulated-busy-time"], io["accumulated-backpressured-time"]) == (5, 9, 4)
    # One subtask without a measured busy time (a source, or one not reporting yet): NaN, as Flink answers.
    assert rest_views.io_metrics([a, execution(2)])["accumulated-busy-time"] == "NaN"


def test_backpressure_levels_and_shape() -> None:
    assert rest_views.backpressure([execution(0)]) == {"status": "deprecated"}
    ok = execution(0, backPressuredTimeMsPerSecond=50, idleTimeMsPerSecond=900, busyTimeMsPerSecond=50)
    high = execution(1, backPressuredTimeMsPerSecond=800)
    body = rest_views.backpressure([ok, high])
    assert body["status"] == "ok" and body["backpressureLevel"] == body["backpressure-level"] == "high"
    assert body["subtasks"][0] == {"subtask": 0, "attempt-number": 0, "backpressureLevel": "ok",
                                   "backpressure-level": "ok", "ratio": 0.05, "idleRatio": 0.9, "busyRatio": 0.05}
    assert body["subtasks"][1]["ratio"] == 0.8 and "idleRatio" not in body["subtasks"][1]
    assert [rest_views.backpressure_level(r) for r in (0.1, 0.11, 0.5, 0.51)] == ["ok", "low", "low", "high"]


def test_watermarks_and_subtask_metrics_names() -> None:
    execs = [execution(0, currentInputWatermark=LONG_MIN), execution(1, currentInputWatermark=1000)]
    assert rest_views.watermarks(execs) == [{"id": "0.currentInputWatermark", "value": str(LONG_MIN)},
                                            {"id": "1.currentInputWatermark", "value": "1000"}]
    names = {m["id"] for m in rest_views.vertex_metrics(execs, None)}
    assert names == {"0.currentInputWatermark", "1.currentInputWatermark"}


# Routes that read none of the JobManager's loop state (its own files, environment, frames, static pages).
SYNC_ALLOWED = {"/health", "/jobmanager/environment", "/jobmanager/logs", "/jobmanager/log", "/jobmanager/stdout",
                "/jobmanager/logs/{name}", "/jobmanager/thread-dump", "/datasets", "/", "/dashboard",
                "/dashboard/{name}", "/login"}


def test_every_route_that_reads_jobmanager_state_runs_on_its_loop() -> None:
    from fastapi.routing import APIRoute

    from flink_on_yarn.common.config import Configuration
    from flink_on_yarn.runtime.jobmanager import JobManager
    from flink_on_yarn.runtime.rest import create_app

    app = create_app(JobManager(Configuration({}), secret=b"s" * 32))
    routes = [r for r in app.routes if isinstance(r, APIRoute)]
    assert len(routes) > 50
    sync = {r.path for r in routes if not inspect.iscoroutinefunction(r.endpoint)}
    assert sync <= SYNC_ALLOWED, sync - SYNC_ALLOWED


def test_vertex_metric_names_are_flinks() -> None:
    e = execution(0, **{"read-bytes": 7, "accumulated-busy-time": 3, "busyTimeMsPerSecond": 10})
    values = {m["id"]: m["value"] for m in rest_views.vertex_metrics(
        [e], ["0.numBytesIn", "0.accumulateBusyTimeMs", "0.busyTimeMsPerSecond", "0.numBytesOut"])}
    assert values == {"0.numBytesIn": "7", "0.accumulateBusyTimeMs": "3", "0.busyTimeMsPerSecond": "10"}
