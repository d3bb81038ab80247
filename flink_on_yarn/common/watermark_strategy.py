"""Watermark strategies, accepted for API compatibility: this runtime has no event time, so they do nothing."""

from __future__ import annotations


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

    def to_milliseconds(self) -> int:
        return self.millis


class WatermarkStrategy:
    def __init__(self, kind: str) -> None:
        self.kind = kind

    @staticmethod
    def no_watermarks() -> WatermarkStrategy:
        return WatermarkStrategy("no_watermarks")

    @staticmethod
    def for_monotonous_timestamps() -> WatermarkStrategy:
        return WatermarkStrategy("monotonous")

    @staticmethod
    def for_bounded_out_of_orderness(max_out_of_orderness: Duration) -> WatermarkStrategy:
        return WatermarkStrategy("bounded")

    def with_timestamp_assigner(self, timestamp_assigner: object) -> WatermarkStrategy:
        return self
