"""Event time's pure parts: window assigners, watermark generators, the min-of-channels valve, timer queues,
and the window / keyed-process operators driven by records and watermarks (no tasks, no network)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from flink_on_yarn.common import Duration, Time, WatermarkStrategy
from flink_on_yarn.common.watermark_strategy import LONG_MAX, LONG_MIN
from flink_on_yarn.datastream.functions import AggregateFunction, KeyedProcessFunction
from flink_on_yarn.datastream.window import (
    EventTimeSessionWindows,
    ProcessWindowFunction,
    SlidingEventTimeWindows,
    TimeWindow,
    TumblingEventTimeWindows,
    TumblingProcessingTimeWindows,
)
from flink_on_yarn.graph.operators import KeyedProcessOperator, TimestampsAndWatermarksOperator
from flink_on_yarn.graph.process_context import UnsupportedOperationException
from flink_on_yarn.graph.task_context import TaskContext
from flink_on_yarn.graph.window_operator import NO_TIMESTAMP, WindowFunctionSpec, WindowOperator
from flink_on_yarn.runtime.timers import TimerQueue
from flink_on_yarn.runtime.watermarks import WatermarkValve
from flink_on_yarn.runtime.windows import CountWindowAssigner

CTX = TaskContext("j", "t", 0, 1)


def test_assigners_match_flinks_window_starts() -> None:
    assert TumblingEventTimeWindows.of(Time.seconds(5)).assign_windows(None, 12_345) == [TimeWindow(10_000, 15_000)]
    assert TumblingEventTimeWindows.of(Time.milliseconds(5)).assign_windows(None, -1) == [TimeWindow(-5, 0)]
    offset = TumblingEventTimeWindows.of(Time.milliseconds(10), Time.milliseconds(3))
    assert offset.assign_windows(None, 2) == [TimeWindow(-7, 3)]
    sliding = SlidingEventTimeWindows.of(Time.milliseconds(6), Time.milliseconds(2)).assign_windows(None, 7)
    assert sliding == [TimeWindow(6, 12), TimeWindow(4, 10), TimeWindow(2, 8)]
    assert EventTimeSessionWindows.with_gap(Time.milliseconds(3)).assign_windows(None, 10) == [TimeWindow(10, 13)]
    assert EventTimeSessionWindows.with_dynamic_gap(lambda e: e * 2).assign_windows(4, 10) == [TimeWindow(10, 18)]
    with pytest.raises(ValueError):
        EventTimeSessionWindows.with_dynamic_gap(lambda e: 0).assign_windows(1, 1)
    assert TimeWindow(0, 5).max_timestamp() == 4 and TimeWindow(0, 5).intersects(TimeWindow(5, 7))


def test_watermark_generators() -> None:
    mono = WatermarkStrategy.for_monotonous_timestamps().create_generator()
    assert mono.on_periodic_emit() == LONG_MIN  # nothing seen yet: event time has not started
    mono.on_event(10)
    assert mono.on_periodic_emit() == 9
    bounded = WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_seconds(2)).create_generator()
    for ts in (5_000, 9_000, 7_000):
        bounded.on_event(ts)
    assert bounded.on_periodic_emit() == 6_999
    assert WatermarkStrategy.no_watermarks().create_generator().on_periodic_emit() is None


def test_valve_takes_the_minimum_of_its_channels_and_ended_channels_count_as_max() -> None:
    v = WatermarkValve(3)
    assert v.on_watermark(0, 5) is None and v.on_watermark(1, 3) is None
    assert v.on_watermark(2, 4) == 3
    assert v.on_watermark(1, 2) is None  # a channel's watermark never goes back
    assert v.on_watermark(1, 10) == 4
    assert v.on_end(2) == 5 and v.on_end(0) == 10 and v.on_end(1) == LONG_MAX


def test_timer_queue_dedupes_deletes_and_pops_in_order() -> None:
    q = TimerQueue()
    for key, ts in [("a", 3), ("b", 1), ("a", 3), ("c", 2), ("d", 9)]:
        q.register(key, ts)
    q.delete("c", 2)
    assert len(q) == 3 and q.next_time() == 1
    assert q.pop_due(5) == [(1, "b"), (3, "a")]
    assert q.next_time() == 9 and q.pop_due(LONG_MAX) == [(9, "d")] and q.next_time() is None


class Count(ProcessWindowFunction):
    def process(self, key: Any, context: Any, elements: Iterable[Any]) -> Iterable[Any]:
        w = context.window()
        yield key, w.start, w.end, len(list(elements))


def window_op(assigner: Any, spec: WindowFunctionSpec, lateness: int = 0) -> WindowOperator:
    op = WindowOperator(lambda r: r[0], assigner, spec, "Window", None, lateness)
    op.timestamped = True
    op.open(CTX)
    return op


def test_tumbling_window_fires_at_the_watermark_and_drops_late_records() -> None:
    op = window_op(TumblingEventTimeWindows.of(Time.milliseconds(5)), WindowFunctionSpec("process", Count()))
    assert op.process_ts([(1, ("a", 1)), (3, ("b", 3)), (6, ("a", 6))]) == []
    assert op.on_watermark(3) == ([], 3)
    fired, forward = op.on_watermark(4)  # 4 is window [0, 5)'s last timestamp
    assert forward == 4 and sorted(fired) == [(4, ("a", 0, 5, 1)), (4, ("b", 0, 5, 1))]
    assert op.process_ts([(2, ("a", 2))]) == [] and op.late_dropped == 1  # its window is gone
    assert op.on_watermark(LONG_MAX)[0] == [(9, ("a", 5, 10, 1))]
    assert op.panes == {}


def test_allowed_lateness_fires_again_then_cleans_up() -> None:
    op = window_op(TumblingEventTimeWindows.of(Time.milliseconds(5)), WindowFunctionSpec("process", Count()),
                   lateness=10)
    op.process_ts([(1, ("a", 1))])
    assert op.on_watermark(5)[0] == [(4, ("a", 0, 5, 1))]
    assert op.process_ts([(2, ("a", 2))]) == [(4, ("a", 0, 5, 2))]  # late but allowed: fires with both
    op.on_watermark(14)
    assert op.panes == {}
    assert op.process_ts([(3, ("a", 3))]) == [] and op.late_dropped == 1


class Average(AggregateFunction):
    def create_accumulator(self) -> tuple[int, int]:
        return 0, 0

    def add(self, value: Any, acc: tuple[int, int]) -> tuple[int, int]:
        return acc[0] + value[1], acc[1] + 1

    def get_result(self, acc: tuple[int, int]) -> float:
        return acc[0] / acc[1]

    def merge(self, a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
        return a[0] + b[0], a[1] + b[1]


def test_session_windows_merge_their_contents() -> None:
    op = window_op(EventTimeSessionWindows.with_gap(Time.milliseconds(3)), WindowFunctionSpec("aggregate", Average()))
    op.process_ts([(1, ("k", 2)), (10, ("k", 10)), (6, ("k", 6)), (3, ("k", 4))])
    # 1, 3 and 6 chain into one session [1, 9); 10 starts [10, 13).
    assert sorted(op.sessions["k"], key=lambda w: w.start) == [TimeWindow(1, 9), TimeWindow(10, 13)]
    assert op.on_watermark(LONG_MAX)[0] == [(8, 4.0), (12, 10.0)]


def test_reduce_window_without_timestamps_is_flinks_error() -> None:
    op = WindowOperator(lambda r: r[0], TumblingEventTimeWindows.of(Time.milliseconds(5)),
                        WindowFunctionSpec("reduce", lambda a, b: a), "Window")
    op.open(CTX)
    with pytest.raises(RuntimeError) as e:
        op.process([("a", 1)])
    assert str(e.value) == NO_TIMESTAMP


def test_processing_time_window_fires_on_the_clock() -> None:
    op = WindowOperator(lambda r: r[0], TumblingProcessingTimeWindows.of(Time.seconds(3600)),
                        WindowFunctionSpec("reduce", lambda a, b: (a[0], a[1] + b[1])), "Window")
    op.open(CTX)
    op.process([("a", 1), ("a", 2)])
    due = op.next_processing_time()
    assert due is not None and op.on_processing_time(due - 1) == []
    assert op.on_processing_time(due) == [("a", 3)] and op.next_processing_time() is None


def test_count_windows_tumble_and_slide() -> None:
    tumbling = WindowOperator(lambda r: r[0], CountWindowAssigner(2), WindowFunctionSpec("reduce", lambda a, b:
                                                                                        (a[0], a[1] + b[1])), "W")
    tumbling.open(CTX)
    assert tumbling.process([("a", 1), ("a", 2), ("a", 3), ("b", 1), ("a", 4)]) == [("a", 3), ("a", 7)]
    sliding = WindowOperator(lambda r: r[0], CountWindowAssigner(3, 1), WindowFunctionSpec("reduce", lambda a, b:
                                                                                         (a[0], a[1] + b[1])), "W")
    sliding.open(CTX)
    assert sliding.process([("a", 1), ("a", 2), ("a", 3), ("a", 4)]) == [("a", 1), ("a", 3), ("a", 6), ("a", 9)]
    assert sliding.on_watermark(LONG_MAX) == ([], LONG_MAX)  # count windows ignore event time


class Timers(KeyedProcessFunction):
    def process_element(self, value: Any, ctx: Any) -> Iterable[Any]:
        ctx.timer_service().register_event_time_timer(ctx.timestamp() + 10)
        yield "seen", value

    def on_timer(self, timestamp: int, ctx: Any) -> Iterable[Any]:
        yield "timer", ctx.get_current_key(), timestamp, ctx.timestamp(), ctx.timer_service().current_watermark()


def test_event_time_timers_fire_per_key_in_order() -> None:
    op = KeyedProcessOperator(lambda v: v, Timers(), "KeyedProcess")
    op.timestamped = True
    op.open(CTX)
    assert op.process_ts([(5, "a"), (1, "b"), (5, "a")]) == [(5, ("seen", "a")), (1, ("seen", "b")),
                                                             (5, ("seen", "a"))]
    assert op.on_watermark(11) == ([(11, ("timer", "b", 11, 11, 11))], 11)
    assert op.on_watermark(20) == ([(15, ("timer", "a", 15, 15, 20))], 20)  # registered twice, fires once


def test_timers_off_a_keyed_stream_are_refused_as_flink_does() -> None:
    from flink_on_yarn.graph.operators import ProcessOperator

    op = ProcessOperator(lambda v, ctx: ctx.timer_service().register_event_time_timer(1), "Process")
    op.open(CTX)
    with pytest.raises(UnsupportedOperationException, match="keyed streams"):
        op.process([1])


def test_timestamp_assigner_stamps_and_swallows_upstream_watermarks() -> None:
    strategy = WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_millis(5)) \
        .with_timestamp_assigner(lambda v, ts: v * 10)
    op = TimestampsAndWatermarksOperator(strategy, interval_ms=0)  # no periodic emission in this test
    op.open(CTX)
    assert op.process([1, 3, 2]) == [(10, 1), (30, 3), (20, 2)] and op.take_watermark() is None
    assert op.on_watermark(100) == ([], None)
    assert op.on_watermark(LONG_MAX) == ([], LONG_MAX)
    periodic = TimestampsAndWatermarksOperator(strategy, interval_ms=1)
    periodic.open(CTX)
    periodic.last_emit -= 5  # as if the interval had passed
    periodic.process([3])
    assert periodic.take_watermark() == 24 and periodic.take_watermark() is None


def test_a_record_inside_an_existing_session_keeps_its_timer() -> None:
    op = window_op(EventTimeSessionWindows.with_gap(Time.milliseconds(10)), WindowFunctionSpec("process", Count()))
    op.process_ts([(1, ("k", 1)), (5, ("k", 5))])  # [1, 11) and [5, 15): one session [1, 15)
    op.process_ts([(2, ("k", 2))])  # [2, 12) lies inside it: the session stays [1, 15), and so does its timer
    assert op.on_watermark(13) == ([], 13)
    assert op.on_watermark(14)[0] == [(14, ("k", 1, 15, 3))]


def test_late_records_go_to_the_late_side_output_when_asked() -> None:
    op = window_op(TumblingEventTimeWindows.of(Time.milliseconds(5)), WindowFunctionSpec("process", Count()))
    op.late_tag = "late"
    op.side_outputs = {}
    op.process_ts([(1, ("a", 1))])
    op.on_watermark(10)
    op.process_ts([(2, ("a", 2))])
    assert op.side_outputs == {"late": [(2, ("a", 2))]} and op.late_dropped == 0


class SideTimers(KeyedProcessFunction):
    def process_element(self, value: Any, ctx: Any) -> Iterable[Any]:
        from flink_on_yarn.datastream import OutputTag

        yield OutputTag("seen"), value
        yield value * 2


def test_keyed_process_side_outputs_keep_their_timestamps() -> None:
    op = KeyedProcessOperator(lambda v: v, SideTimers(), "KeyedProcess")
    op.timestamped = True
    op.side_outputs = {}
    op.open(CTX)
    assert op.process_ts([(7, 1), (8, 2)]) == [(7, 2), (8, 4)]
    assert op.side_outputs == {"seen": [(7, 1), (8, 2)]}
