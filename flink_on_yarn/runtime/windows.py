"""Windows as values: Flink's TimeWindow ([start, end) in ms) and the CountWindow a count window fires as.
Pure, below the API, so operators and assigners share them."""

from __future__ import annotations

from typing import NamedTuple

from flink_on_yarn.common.watermark_strategy import LONG_MAX


class TimeWindow(NamedTuple):
    """[start, end) in epoch milliseconds; its last timestamp is end - 1. A tuple, so hashing and comparing
    one (a dict lookup per record in a window operator) stays in C."""

    start: int
    end: int

    def max_timestamp(self) -> int:
        return self.end - 1

    def intersects(self, other: TimeWindow) -> bool:
        return self.start <= other.end and self.end >= other.start

    def cover(self, other: TimeWindow) -> TimeWindow:
        return TimeWindow(min(self.start, other.start), max(self.end, other.end))

    def __repr__(self) -> str:
        return f"TimeWindow(start={self.start}, end={self.end})"


class CountWindow:
    """The window of a count window's firing: count windows live in Flink's single GlobalWindow."""

    def __init__(self, id: int) -> None:
        self.id = id

    def max_timestamp(self) -> int:
        return LONG_MAX

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CountWindow) and other.id == self.id

    def __hash__(self) -> int:
        return self.id

    def __repr__(self) -> str:
        return f"CountWindow(id={self.id})"


def window_start(timestamp: int, offset: int, size: int) -> int:
    """Flink's TimeWindow.getWindowStartWithOffset (Python's % is already non-negative for size > 0)."""
    return timestamp - (timestamp - offset) % size


class CountWindowAssigner:
    """`count_window(size[, slide])`: fires every `slide` records (default `size`) with the last `size` records."""

    is_event_time = False
    is_merging = False

    def __init__(self, size: int, slide: int | None = None) -> None:
        if size <= 0 or (slide is not None and slide <= 0):
            raise ValueError("count windows need a size and a slide of at least 1")
        self.size = size
        self.slide = slide or size
