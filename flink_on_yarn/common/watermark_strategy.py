"""Watermark strategies, PyFlink's names: where a record's event timestamp comes from and how far event time
has progressed (Flink's WatermarkGenerator, pure: events and periodic calls in, watermarks out).

>>> g = WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_millis(10)).create_generator()
>>> g.on_event(100); g.on_event(90); g.on_periodic_emit()
89
>>> WatermarkStrategy.no_watermarks().create_generator().on_periodic_emit() is None
True
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

# Java's Long.MIN_VALUE / MAX_VALUE: event time before any watermark, and after the end of a bounded input.
LONG_MIN = -(2 ** 63)
LONG_MAX = 2 ** 63 - 1


class Duration:
    def __init__(self, millis: int) -> None:
        self.millis = millis

    @staticmethod
    def of_millis(millis: int) -> Duration:
        return Duration(millis)

    @staticmethod
    def of_seconds(seconds: int) -> Duration:
        return Duration(seconds * 1000)

    @staticmethod
    def of_minutes(minutes: int) -> Duration:
        return Duration(minutes * 60_000)

    @staticmethod
    def of_hours(hours: int) -> Duration:
        return Duration(hours * 3_600_000)

    @staticmethod
    def of_days(days: int) -> Duration:
        return Duration(days * 86_400_000)

    @staticmethod
    def of_nanos(nanos: int) -> Duration:
        return Duration(nanos // 1_000_000)

    def to_milliseconds(self) -> int:
        return self.millis


class TimestampAssigner:
    """`extract_timestamp(value, record_timestamp)`: the event time of a record, in epoch milliseconds."""

    def extract_timestamp(self, value: Any, record_timestamp: int) -> int:
        raise NotImplementedError


class WatermarkGenerator:
    """Flink's BoundedOutOfOrdernessWatermarks: the watermark trails the largest timestamp seen by the bound
    (and 1 ms, as Flink's: a watermark W says no more records with timestamp <= W)."""

    def __init__(self, max_out_of_orderness_ms: int | None) -> None:
        self.bound = max_out_of_orderness_ms
        self.max_timestamp = LONG_MIN + (max_out_of_orderness_ms or 0) + 1

    def on_event(self, timestamp: int) -> None:
        if timestamp > self.max_timestamp:
            self.max_timestamp = timestamp

    def on_periodic_emit(self) -> int | None:
        if self.bound is None:
            return None  # no_watermarks
        return self.max_timestamp - self.bound - 1


class IdlenessTimer:
    """Flink's WatermarksWithIdleness.IdlenessTimer: a generator whose input saw no record for `timeout_ms`
    (of the clock's time) is idle, until the next record.

    >>> now = [0]; t = IdlenessTimer(100, lambda: now[0])
    >>> t.check_if_idle(), t.activity(), t.check_if_idle(), t.check_if_idle()  # activity, then the quiet starts
    (False, None, False, False)
    >>> now[0] = 101; t.check_if_idle()
    True
    """

    def __init__(self, timeout_ms: int, clock: Callable[[], int]) -> None:
        self.timeout_ms = timeout_ms
        self.clock = clock
        self.counter = 0
        self.last_counter = 0
        self.quiet_since: int | None = None

    def activity(self) -> None:
        self.counter += 1

    def check_if_idle(self) -> bool:
        if self.counter != self.last_counter:
            self.last_counter = self.counter
            self.quiet_since = None
            return False
        if self.quiet_since is None:
            self.quiet_since = self.clock()
            return False
        return self.clock() - self.quiet_since > self.timeout_ms


class IdleAwareGenerator(WatermarkGenerator):
    """`with_idleness`: the wrapped generator's watermarks while records come; `idle` (and no watermark) once
    none came for the timeout, so that consumers stop waiting for this input (Flink's markIdle)."""

    def __init__(self, max_out_of_orderness_ms: int | None, timeout_ms: int, clock: Callable[[], int]) -> None:
        super().__init__(max_out_of_orderness_ms)
        self.timer = IdlenessTimer(timeout_ms, clock)
        self.idle = False

    def on_event(self, timestamp: int) -> None:
        super().on_event(timestamp)
        self.timer.activity()
        self.idle = False

    def on_periodic_emit(self) -> int | None:
        self.idle = self.timer.check_if_idle()
        return None if self.idle else super().on_periodic_emit()


def _wall_ms() -> int:
    return int(time.monotonic() * 1000)


class WatermarkStrategy:
    def __init__(self, max_out_of_orderness_ms: int | None) -> None:
        self.max_out_of_orderness_ms = max_out_of_orderness_ms
        self.timestamp_assigner: Any = None
        self.idle_timeout_ms: int | None = None

    @staticmethod
    def no_watermarks() -> WatermarkStrategy:
        return WatermarkStrategy(None)

    @staticmethod
    def for_monotonous_timestamps() -> WatermarkStrategy:
        return WatermarkStrategy(0)

    @staticmethod
    def for_bounded_out_of_orderness(max_out_of_orderness: Duration) -> WatermarkStrategy:
        return WatermarkStrategy(max_out_of_orderness.to_milliseconds())

    def _copy(self) -> WatermarkStrategy:
        out = WatermarkStrategy(self.max_out_of_orderness_ms)
        out.timestamp_assigner = self.timestamp_assigner
        out.idle_timeout_ms = self.idle_timeout_ms
        return out

    def with_timestamp_assigner(self, timestamp_assigner: Any) -> WatermarkStrategy:
        out = self._copy()
        out.timestamp_assigner = timestamp_assigner
        return out

    def with_idleness(self, idle_timeout: Duration) -> WatermarkStrategy:
        """An input with no record for `idle_timeout` is idle: its generator says so instead of a watermark."""
        timeout = idle_timeout.to_milliseconds()
        if timeout <= 0:
            raise ValueError("idleTimeout must be greater than zero")
        out = self._copy()
        out.idle_timeout_ms = timeout
        return out

    def create_generator(self, clock: Callable[[], int] = _wall_ms) -> WatermarkGenerator:
        if self.idle_timeout_ms is not None:
            return IdleAwareGenerator(self.max_out_of_orderness_ms, self.idle_timeout_ms, clock)
        return WatermarkGenerator(self.max_out_of_orderness_ms)
