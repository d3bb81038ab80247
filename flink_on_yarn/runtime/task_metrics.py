"""A subtask's measured figures under the names Flink's REST API reports: records and bytes in and out,
where its time went, and its watermarks.

What is measured, and where (network.py counts, this module adds up):
- records/bytes in: what the input gate received (frame header included); out: what the record writers sent.
- back-pressured time: the time the writers spent inside `sendall`. A consumer that keeps up leaves room in
  the socket buffer and a send costs microseconds; a slow one fills it and the send waits: Flink's
  "waiting for an output buffer".
- idle time: the time the input gate waited in `select` for input (Flink's "waiting for input"). A source
  has no gate: how long it waits inside its own reader is not visible here, so a source's idle and busy
  times are not reported (absent, never a made-up 0).
- busy time: the rest of the time since the task started running.
- watermarks: the gate's current event time (the minimum over its producers, Long.MIN before the first),
  and the last watermark the writers sent (a sink, which has none, reports its input's).

Cumulative times go as `accumulated-*-time` (ms, Flink's IOMetricsInfo); the share of the last report
interval as Flink's `*TimeMsPerSecond` gauges, which the back-pressure endpoint reads.

>>> w = Window(at_s=10.0, idle_s=2.0, backpressured_s=1.0)
>>> per_second(w, Window(at_s=12.0, idle_s=3.0, backpressured_s=2.0), gated=True)
{'idleTimeMsPerSecond': 500, 'backPressuredTimeMsPerSecond': 500, 'busyTimeMsPerSecond': 0}
>>> per_second(w, Window(at_s=12.0, idle_s=2.0, backpressured_s=1.5), gated=False)
{'backPressuredTimeMsPerSecond': 250}
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from flink_on_yarn.common.watermark_strategy import LONG_MIN
from flink_on_yarn.runtime.watermarks import WatermarkValve


class Gate(Protocol):
    records_in: int
    bytes_in: int
    idle_s: float
    valve: WatermarkValve


class Writer(Protocol):
    records_out: int
    bytes_out: int
    backpressured_s: float
    watermark_out: int


@dataclass(frozen=True)
class Window:
    """Cumulative times (seconds) at one moment: two of them make a report interval."""

    at_s: float
    idle_s: float
    backpressured_s: float


def _ms_per_second(part_s: float, span_s: float) -> int:
    return max(0, min(1000, round(part_s / span_s * 1000))) if span_s > 0 else 0


def per_second(prev: Window, now: Window, gated: bool) -> dict[str, int]:
    """Flink's `*TimeMsPerSecond` over the interval between two windows; idle and busy only for a gated task."""
    span = now.at_s - prev.at_s
    bp = _ms_per_second(now.backpressured_s - prev.backpressured_s, span)
    if not gated:
        return {"backPressuredTimeMsPerSecond": bp}
    idle = _ms_per_second(now.idle_s - prev.idle_s, span)
    return {"idleTimeMsPerSecond": idle, "backPressuredTimeMsPerSecond": bp,
            "busyTimeMsPerSecond": max(0, 1000 - idle - bp)}


class TaskMetrics:
    """Reads a running task's counters; `snapshot()` is called from the task's metrics thread while the task
    thread counts (plain int/float reads, each one atomic under the interpreter lock)."""

    def __init__(self, gate: Gate | None, writers: Sequence[Writer],
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.gate = gate
        self.writers = list(writers)
        self.clock = clock
        self.started = clock()
        self._last = self._window()

    def _window(self) -> Window:
        return Window(self.clock(), self.gate.idle_s if self.gate is not None else 0.0,
                      sum(w.backpressured_s for w in self.writers))

    def snapshot(self) -> dict[str, int]:
        """The figures now; the `*PerSecond` ones over the time since the previous snapshot."""
        gate, writers = self.gate, self.writers
        now = self._window()
        elapsed = now.at_s - self.started
        input_wm = gate.valve.current if gate is not None else LONG_MIN
        out: dict[str, int] = {
            # Flink's numRecordsIn/Out: what crossed the network, so a source reads 0 and a sink writes 0.
            "read-records": gate.records_in if gate is not None else 0,
            "write-records": sum(w.records_out for w in writers),
            "read-bytes": gate.bytes_in if gate is not None else 0,
            "write-bytes": sum(w.bytes_out for w in writers),
            "accumulated-backpressured-time": round(now.backpressured_s * 1000),
            "currentInputWatermark": input_wm,
            "currentOutputWatermark": max((w.watermark_out for w in writers), default=input_wm),
        }
        if gate is not None:
            out["accumulated-idle-time"] = round(now.idle_s * 1000)
            out["accumulated-busy-time"] = max(0, round((elapsed - now.idle_s - now.backpressured_s) * 1000))
        out.update(per_second(self._last, now, gate is not None))
        self._last = now
        return out
