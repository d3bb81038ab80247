"""PyFlink's windows: assigners (which windows a record belongs to), the windows themselves, and the
window functions. The assigners are pure: `assign_windows(element, timestamp)` returns the windows.

>>> TumblingEventTimeWindows.of(Time.milliseconds(5)).assign_windows("x", 7)
[TimeWindow(start=5, end=10)]
>>> SlidingEventTimeWindows.of(Time.milliseconds(10), Time.milliseconds(5)).assign_windows("x", 7)
[TimeWindow(start=5, end=15), TimeWindow(start=0, end=10)]
"""

from __future__ import annotations

from typing import Any

from flink_on_yarn.common.time import Time
from flink_on_yarn.datastream.functions import (
    AllWindowFunction,
    ProcessAllWindowFunction,
    ProcessWindowFunction,
    WindowFunction,
)
from flink_on_yarn.runtime.windows import (
    ContinuousEventTimeTrigger,
    ContinuousProcessingTimeTrigger,
    CountEvictor,
    CountTrigger,
    CountWindow,
    CountWindowAssigner,
    EventTimeTrigger,
    Evictor,
    GlobalWindow,
    NeverTrigger,
    ProcessingTimeTrigger,
    PurgingTrigger,
    TimeEvictor,
    TimeWindow,
    Trigger,
    TriggerResult,
    window_start,
)

__all__ = ["AllWindowFunction", "ContinuousEventTimeTrigger", "ContinuousProcessingTimeTrigger", "CountEvictor",
           "CountTrigger", "CountWindow", "CountWindowAssigner", "EventTimeTrigger", "Evictor", "GlobalWindow",
           "NeverTrigger", "ProcessAllWindowFunction", "ProcessWindowFunction", "ProcessingTimeTrigger",
           "PurgingTrigger", "TimeEvictor", "TimeWindow", "Trigger", "TriggerResult", "WindowFunction"]


class WindowAssigner:
    is_event_time = True
    is_merging = False

    def assign_windows(self, element: Any, timestamp: int) -> list[TimeWindow]:
        raise NotImplementedError


def _ms(t: Any) -> int:
    return t.to_milliseconds() if hasattr(t, "to_milliseconds") else int(t)


class TumblingEventTimeWindows(WindowAssigner):
    def __init__(self, size: int, offset: int = 0) -> None:
        if size <= 0:
            raise ValueError("TumblingEventTimeWindows parameters must satisfy abs(offset) < size")
        self.size = size
        self.offset = offset % size

    @classmethod
    def of(cls, size: Time, offset: Time | None = None) -> TumblingEventTimeWindows:
        return cls(_ms(size), _ms(offset) if offset is not None else 0)

    def assign_windows(self, element: Any, timestamp: int) -> list[TimeWindow]:
        start = window_start(timestamp, self.offset, self.size)
        return [TimeWindow(start, start + self.size)]


class TumblingProcessingTimeWindows(TumblingEventTimeWindows):
    is_event_time = False


class SlidingEventTimeWindows(WindowAssigner):
    def __init__(self, size: int, slide: int, offset: int = 0) -> None:
        if size <= 0 or slide <= 0:
            raise ValueError("SlidingEventTimeWindows parameters must satisfy abs(offset) < slide and size > 0")
        self.size = size
        self.slide = slide
        self.offset = offset % slide

    @classmethod
    def of(cls, size: Time, slide: Time, offset: Time | None = None) -> SlidingEventTimeWindows:
        return cls(_ms(size), _ms(slide), _ms(offset) if offset is not None else 0)

    def assign_windows(self, element: Any, timestamp: int) -> list[TimeWindow]:
        out: list[TimeWindow] = []
        start = window_start(timestamp, self.offset, self.slide)
        while start > timestamp - self.size:
            out.append(TimeWindow(start, start + self.size))
            start -= self.slide
        return out


class SlidingProcessingTimeWindows(SlidingEventTimeWindows):
    is_event_time = False


class SessionWindowTimeGapExtractor:
    """`extract(element)`: the session gap (ms) a record opens, for `with_dynamic_gap`."""

    def extract(self, element: Any) -> int:
        raise NotImplementedError


class EventTimeSessionWindows(WindowAssigner):
    """A record opens [t, t + gap); overlapping windows of a key merge into one session."""

    is_merging = True

    def __init__(self, gap: int | None, extractor: Any = None) -> None:
        if gap is not None and gap <= 0:
            raise ValueError("EventTimeSessionWindows parameters must satisfy 0 < size")
        self.gap = gap
        self.extractor = extractor

    @classmethod
    def with_gap(cls, size: Time) -> EventTimeSessionWindows:
        return cls(_ms(size))

    @classmethod
    def with_dynamic_gap(cls, extractor: Any) -> EventTimeSessionWindows:
        return cls(None, extractor)

    def assign_windows(self, element: Any, timestamp: int) -> list[TimeWindow]:
        if self.gap is not None:
            gap = self.gap
        else:
            extract = getattr(self.extractor, "extract", self.extractor)
            gap = int(extract(element))
            if gap <= 0:
                raise ValueError(f"Dynamic session time gap must satisfy 0 < gap, got {gap}")
        return [TimeWindow(timestamp, timestamp + gap)]


class ProcessingTimeSessionWindows(EventTimeSessionWindows):
    is_event_time = False


class GlobalWindows(WindowAssigner):
    """Every record of a key in one window that never fires by itself: give it a trigger."""

    is_event_time = False

    @staticmethod
    def create() -> GlobalWindows:
        return GlobalWindows()

    def assign_windows(self, element: Any, timestamp: int) -> list[GlobalWindow]:  # type: ignore[override]
        return [GlobalWindow.get()]


def default_trigger(assigner: Any) -> Trigger:
    """The trigger a window has when the program sets none, as Flink's assigners' getDefaultTrigger."""
    if isinstance(assigner, GlobalWindows):
        return NeverTrigger()
    if getattr(assigner, "is_event_time", False):
        return EventTimeTrigger.create()
    return ProcessingTimeTrigger.create()
