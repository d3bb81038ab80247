"""Triggers and evictors on windows, as PyFlink writes them: an event-time tumbling window that fires early
every 2 records (`CountTrigger`), the same window firing every 5 ms of event time and at its end
(`ContinuousEventTimeTrigger`), GlobalWindows with a purging count trigger, a count window that fires with
only its last 2 records (`CountEvictor`), and a custom `Trigger` that fires when a record says "flush".

    python examples/pyflink/triggers.py count|continuous|global|evictor|custom
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

from flink_on_yarn.common import Time, Types, WatermarkStrategy
from flink_on_yarn.common.watermark_strategy import TimestampAssigner
from flink_on_yarn.datastream import ProcessWindowFunction, StreamExecutionEnvironment, TumblingEventTimeWindows
from flink_on_yarn.datastream.window import (
    ContinuousEventTimeTrigger,
    CountEvictor,
    CountTrigger,
    GlobalWindows,
    PurgingTrigger,
    Trigger,
    TriggerResult,
)
from flink_on_yarn.runtime.windows import TriggerContext

EVENTS = [("hi", 1), ("hi", 2), ("hi", 3), ("hi", 6), ("hi", 7), ("hi", 12)]


class SecondField(TimestampAssigner):
    def extract_timestamp(self, value: Any, record_timestamp: int) -> int:
        return int(value[1])


class Values(ProcessWindowFunction):
    """The window's key and the values it fired with."""

    def process(self, key: str, context: ProcessWindowFunction.Context,
                elements: Iterable[tuple[str, int]]) -> Iterable[tuple[str, list[int]]]:
        yield key, [v for _, v in elements]


class FlushTrigger(Trigger):
    """Fires and purges the window when a record's value is "flush"; nothing else fires it."""

    def on_element(self, element: Any, timestamp: int, window: Any, ctx: TriggerContext) -> TriggerResult:
        return TriggerResult.FIRE_AND_PURGE if element[1] == "flush" else TriggerResult.CONTINUE

    def on_processing_time(self, time: int, window: Any, ctx: TriggerContext) -> TriggerResult:
        return TriggerResult.CONTINUE

    def on_event_time(self, time: int, window: Any, ctx: TriggerContext) -> TriggerResult:
        return TriggerResult.CONTINUE


def main(which: str) -> None:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1)
    ds = env.from_collection(EVENTS, type_info=Types.TUPLE([Types.STRING(), Types.INT()]))
    timed = ds.assign_timestamps_and_watermarks(
        WatermarkStrategy.for_monotonous_timestamps().with_timestamp_assigner(SecondField()))
    keyed = timed.key_by(lambda e: e[0])
    ten_ms = TumblingEventTimeWindows.of(Time.milliseconds(10))
    if which == "count":
        keyed.window(ten_ms).trigger(CountTrigger.of(2)).process(Values()).print()
    elif which == "continuous":
        keyed.window(ten_ms).trigger(ContinuousEventTimeTrigger.of(Time.milliseconds(5))).process(Values()).print()
    elif which == "global":
        ds.key_by(lambda e: e[0]).window(GlobalWindows.create()).trigger(PurgingTrigger.of(CountTrigger.of(4))) \
            .process(Values()).print()
    elif which == "evictor":
        ds.key_by(lambda e: e[0]).count_window(3).evictor(CountEvictor.of(2)).process(Values()).print()
    elif which == "custom":
        words = env.from_collection([("a", "x"), ("b", "y"), ("a", "flush"), ("a", "z"), ("b", "flush")])
        words.key_by(lambda e: e[0]).window(GlobalWindows.create()).trigger(FlushTrigger()) \
            .process(Values()).print()
    env.execute(f"triggers: {which}")


if __name__ == "__main__":
    main(sys.argv[1])
