"""`Time`, PyFlink's span for windows and state TTL (`Time.seconds(5)`), in milliseconds as Flink keeps it."""

from __future__ import annotations


class Time:
    """>>> Time.seconds(5).to_milliseconds(), Time.minutes(1)
    (5000, Time(60000 ms))
    """

    def __init__(self, milliseconds: int) -> None:
        if milliseconds < 0:
            raise ValueError(f"a time span must not be negative, got {milliseconds} ms")
        self.millis = int(milliseconds)

    @staticmethod
    def milliseconds(milliseconds: int) -> Time:
        return Time(milliseconds)

    @staticmethod
    def seconds(seconds: int) -> Time:
        return Time(seconds * 1000)

    @staticmethod
    def minutes(minutes: int) -> Time:
        return Time(minutes * 60_000)

    @staticmethod
    def hours(hours: int) -> Time:
        return Time(hours * 3_600_000)

    @staticmethod
    def days(days: int) -> Time:
        return Time(days * 86_400_000)

    def to_milliseconds(self) -> int:
        return self.millis

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Time) and other.millis == self.millis

    def __hash__(self) -> int:
        return self.millis

    def __repr__(self) -> str:
        return f"Time({self.millis} ms)"
