"""Watermark strategies, PyFlink's names: where a record's event timestamp comes from and how far event time
has progressed (Flink's WatermarkGenerator, pure: events and periodic calls in, watermarks out).

>>> g = WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_millis(10)).create_generator()
>>> g.on_event(100); g.on_event(90); g.on_periodic_emit()
89
>>> WatermarkStrategy.no_watermarks().create_generator().on_periodic_emit() is None
True
"""

from __future__ import annotations

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


class WatermarkStrategy:
    def __init__(self, max_out_of_orderness_ms: int | None) -> None:
        self.max_out_of_orderness_ms = max_out_of_orderness_ms
        self.timestamp_assigner: Any = None

    @staticmethod
    def no_watermarks() -> WatermarkStrategy:
        return WatermarkStrategy(None)

    @staticmethod
    def for_monotonous_timestamps() -> WatermarkStrategy:
        return WatermarkStrategy(0)

    @staticmethod
    def for_bounded_out_of_orderness(max_out_of_orderness: Duration) -> WatermarkStrategy:
        return WatermarkStrategy(max_out_of_orderness.to_milliseconds())

    def with_timestamp_assigner(self, timestamp_assigner: Any) -> WatermarkStrategy:
        out = WatermarkStrategy(self.max_out_of_orderness_ms)
        out.timestamp_assigner = timestamp_assigner
        return out

    def create_generator(self) -> WatermarkGenerator:
        return WatermarkGenerator(self.max_out_of_orderness_ms)
