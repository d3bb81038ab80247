"""Windows, as PyFlink's `windowing/` examples: tumbling and sliding event-time windows, session windows with
a fixed and a dynamic gap (a ProcessWindowFunction counting each window's records, typed output so it prints
as Java's Tuple4), and a tumbling count window with a WindowFunction.

    python examples/pyflink/windowing.py tumbling|sliding|session|dynamic_session|count
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

from flink_on_yarn.common import Time, Types, WatermarkStrategy
from flink_on_yarn.common.watermark_strategy import TimestampAssigner
from flink_on_yarn.datastream import (
    EventTimeSessionWindows,
    ProcessWindowFunction,
    SlidingEventTimeWindows,
    StreamExecutionEnvironment,
    TimeWindow,
    TumblingEventTimeWindows,
    WindowFunction,
)
from flink_on_yarn.datastream.window import SessionWindowTimeGapExtractor

EVENTS = [("hi", 1), ("hi", 2), ("hi", 3), ("hi", 4), ("hi", 5), ("hi", 8), ("hi", 9), ("hi", 15)]
SESSION_EVENTS = [("hi", 1), ("hi", 2), ("hi", 3), ("hi", 4), ("hi", 8), ("hi", 9), ("hi", 15)]
WINDOW_OUT = Types.TUPLE([Types.STRING(), Types.LONG(), Types.LONG(), Types.INT()])


class SecondField(TimestampAssigner):
    def extract_timestamp(self, value: Any, record_timestamp: int) -> int:
        return int(value[1])


class CountPerWindow(ProcessWindowFunction):
    def process(self, key: str, context: ProcessWindowFunction.Context,
                elements: Iterable[tuple[str, int]]) -> Iterable[tuple[str, int, int, int]]:
        window = context.window()
        return [(key, window.start, window.end, len(list(elements)))]


class GapFromValue(SessionWindowTimeGapExtractor):
    """A session closes after a record of value v has had no follower for v ms (at least 1)."""

    def extract(self, element: tuple[str, int]) -> int:
        return max(1, element[1] // 2)


class CountInWindow(WindowFunction):
    def apply(self, key: str, window: TimeWindow, inputs: Iterable[tuple[int, str]]) -> Iterable[tuple[str, int]]:
        return [(key, len(list(inputs)))]


def time_windows(assigner: Any, events: list[tuple[str, int]]) -> None:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1)
    ds = env.from_collection(events, type_info=Types.TUPLE([Types.STRING(), Types.INT()]))
    ds.assign_timestamps_and_watermarks(
        WatermarkStrategy.for_monotonous_timestamps().with_timestamp_assigner(SecondField())) \
        .key_by(lambda x: x[0], key_type=Types.STRING()) \
        .window(assigner) \
        .process(CountPerWindow(), WINDOW_OUT) \
        .print()
    env.execute()


def count_window() -> None:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1)
    ds = env.from_collection([(1, "hi"), (2, "hello"), (3, "hi"), (4, "hello"), (5, "hi"), (6, "hello"),
                              (6, "hello")], type_info=Types.TUPLE([Types.INT(), Types.STRING()]))
    ds.key_by(lambda x: x[1], key_type=Types.STRING()) \
        .count_window(2) \
        .apply(CountInWindow(), Types.TUPLE([Types.STRING(), Types.INT()])) \
        .print()
    env.execute()


def main(which: str) -> None:
    if which == "tumbling":
        time_windows(TumblingEventTimeWindows.of(Time.milliseconds(5)), EVENTS)
    elif which == "sliding":
        time_windows(SlidingEventTimeWindows.of(Time.milliseconds(5), Time.milliseconds(2)), EVENTS)
    elif which == "session":
        time_windows(EventTimeSessionWindows.with_gap(Time.milliseconds(5)), SESSION_EVENTS)
    elif which == "dynamic_session":
        time_windows(EventTimeSessionWindows.with_dynamic_gap(GapFromValue()), SESSION_EVENTS)
    elif which == "count":
        count_window()
    else:
        raise SystemExit(f"unknown example {which!r}: tumbling, sliding, session, dynamic_session or count")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tumbling")
