"""Triggers and evictors driven by records, watermarks and processing-time calls: Flink's built-in triggers,
a custom Trigger subclass, PurgingTrigger on GlobalWindows, and Count/TimeEvictor (no tasks, no network)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from flink_on_yarn.common import Time
from flink_on_yarn.datastream.window import (
    ContinuousEventTimeTrigger,
    ContinuousProcessingTimeTrigger,
    CountEvictor,
    CountTrigger,
    EventTimeTrigger,
    GlobalWindow,
    GlobalWindows,
    ProcessingTimeTrigger,
    PurgingTrigger,
    TimeEvictor,
    TimeWindow,
    Trigger,
    TriggerResult,
    TumblingEventTimeWindows,
    TumblingProcessingTimeWindows,
)
from flink_on_yarn.datastream.window import ProcessWindowFunction as PWF
from flink_on_yarn.graph.output_tag import OutputTag
from flink_on_yarn.graph.task_context import TaskContext
from flink_on_yarn.graph.trigger_window_operator import TriggerWindowOperator
from flink_on_yarn.graph.window_operator import WindowFunctionSpec
from flink_on_yarn.runtime.windows import TriggerContext

CTX = TaskContext("j", "t", 0, 1)


def first(v: Any) -> Any:
    return v[0]


def add(a: Any, b: Any) -> Any:
    return (a[0], a[1] + b[1])


class Elements(PWF):
    """What the window fired with: (key, window start, values)."""

    def process(self, key: Any, context: Any, elements: Iterable[Any]) -> Iterable[Any]:
        w = context.window()
        yield key, getattr(w, "start", None), [v[1] for v in elements]


def window_op(assigner: Any, trigger: Trigger, evictor: Any = None, kind: str = "reduce", lateness: int = 0,
              timestamped: bool = True) -> TriggerWindowOperator:
    fn = add if kind == "reduce" else Elements()
    op = TriggerWindowOperator(first, assigner, WindowFunctionSpec(kind, fn), "Window", trigger, evictor,
                               allowed_lateness=lateness)
    op.timestamped = timestamped
    op.side_outputs = {}
    op.open(CTX)
    return op


def values(out: list[Any]) -> list[Any]:
    return [v for _, v in out]


def test_trigger_results() -> None:
    assert [(r.is_fire(), r.is_purge()) for r in TriggerResult] == [
        (False, False), (True, True), (True, False), (False, True)]


def test_count_trigger_replaces_the_event_time_firing() -> None:
    op = window_op(TumblingEventTimeWindows.of(Time.milliseconds(10)), CountTrigger.of(2))
    out = op.process_ts([(t, ("a", t)) for t in (1, 2, 3, 4, 5)])
    assert values(out) == [("a", 3), ("a", 10)]  # FIRE without purge: the window keeps its contents
    assert op.on_watermark(9) == ([], 9)  # the window's end: the count trigger does not fire, the window goes
    assert op.windows == {} and op.backend.tables["_trigger.count"] == {}
    assert values(op.process_ts([(12, ("a", 1)), (13, ("a", 1))])) == [("a", 2)]  # a new window, a new count


def test_purging_count_trigger_on_global_windows_is_a_count_window() -> None:
    op = window_op(GlobalWindows.create(), PurgingTrigger.of(CountTrigger.of(2)), kind="process",
                   timestamped=False)
    out = op.process([("a", 1), ("b", 1), ("a", 2), ("a", 3), ("b", 2), ("a", 4)])
    assert out == [("a", None, [1, 2]), ("b", None, [1, 2]), ("a", None, [3, 4])]
    assert op.on_watermark(2**63 - 1) == ([], 2**63 - 1)  # a global window never fires by time
    assert op.windows == {}


def test_continuous_event_time_trigger_fires_every_interval_and_at_the_end() -> None:
    op = window_op(TumblingEventTimeWindows.of(Time.milliseconds(20)),
                   ContinuousEventTimeTrigger.of(Time.milliseconds(5)))
    assert op.process_ts([(1, ("a", 1)), (3, ("a", 3))]) == []
    fired, _ = op.on_watermark(6)
    assert values(fired) == [("a", 4)]  # at 5
    op.process_ts([(7, ("a", 7)), (12, ("a", 12))])
    assert values(op.on_watermark(10)[0]) == [("a", 23)]
    # 15 fires, then 19: the window's end (its cleanup too, lateness 0) fires once more and clears it
    fired, _ = op.on_watermark(19)
    assert [(t, v) for t, v in fired] == [(19, ("a", 23)), (19, ("a", 23))]
    assert op.windows == {} and len(op.event_timers) == 0


def test_event_time_trigger_with_lateness_and_late_side_output() -> None:
    op = window_op(TumblingEventTimeWindows.of(Time.milliseconds(10)), EventTimeTrigger.create(), lateness=5)
    op.late_tag = OutputTag("late").tag_id
    op.process_ts([(1, ("a", 1))])
    assert values(op.on_watermark(10)[0]) == [("a", 1)]
    assert values(op.process_ts([(2, ("a", 2))])) == [("a", 3)]  # within the lateness: fires again at once
    assert op.on_watermark(14) == ([], 14)  # the cleanup time (9 + 5) has passed: the window is gone
    assert op.windows == {}
    assert op.process_ts([(3, ("a", 3))]) == []
    assert op.side_outputs == {"late": [(3, ("a", 3))]}


def test_count_evictor_keeps_the_last_records() -> None:
    op = window_op(TumblingEventTimeWindows.of(Time.milliseconds(10)), EventTimeTrigger.create(),
                   CountEvictor.of(2), kind="process")
    op.process_ts([(1, ("a", 1)), (2, ("a", 2)), (3, ("a", 3)), (4, ("b", 4))])
    assert values(op.on_watermark(9)[0]) == [("a", 0, [2, 3]), ("b", 0, [4])]


def test_count_evictor_after_and_reduce_over_evicted_contents() -> None:
    op = window_op(GlobalWindows.create(), CountTrigger.of(2), CountEvictor.of(1, do_evict_after=True),
                   timestamped=False)
    # Fires every 2 records with all it holds, then keeps only the last one for the next firing.
    assert op.process([("a", 1), ("a", 2), ("a", 3), ("a", 4)]) == [("a", 3), ("a", 9)]
    assert op.windows["a"][GlobalWindow.get()] == [(-2**63, ("a", 4))]


def test_time_evictor_keeps_records_near_the_latest() -> None:
    op = window_op(TumblingEventTimeWindows.of(Time.milliseconds(10)), EventTimeTrigger.create(),
                   TimeEvictor.of(Time.milliseconds(3)), kind="process")
    op.process_ts([(1, ("a", 1)), (5, ("a", 5)), (7, ("a", 7)), (4, ("a", 4))])
    assert values(op.on_watermark(9)[0]) == [("a", 0, [5, 7])]  # cutoff 7 - 3: 4 and earlier go
    untimed = window_op(TumblingProcessingTimeWindows.of(Time.milliseconds(10)), ProcessingTimeTrigger.create(),
                        TimeEvictor.of(Time.milliseconds(3)), kind="process", timestamped=False)
    untimed.process([("a", 1), ("a", 2)])
    due = untimed.next_processing_time()
    assert due is not None
    assert [v[2] for v in untimed.on_processing_time(due)] == [[1, 2]]  # no timestamps: nothing evicted


class FlushOnMarker(Trigger):
    """A custom trigger: FIRE_AND_PURGE on a "flush" record, FIRE at a processing-time timer 50 ms after the
    first record, and its timer deleted in clear()."""

    def on_element(self, element: Any, timestamp: int, window: Any, ctx: TriggerContext) -> TriggerResult:
        if element[1] == "flush":
            return TriggerResult.FIRE_AND_PURGE
        armed = ctx.get_partitioned_state(self.armed)
        if armed.value() is None:
            armed.update(1000)
            ctx.register_processing_time_timer(1000)
        return TriggerResult.CONTINUE

    def on_processing_time(self, time: int, window: Any, ctx: TriggerContext) -> TriggerResult:
        ctx.get_partitioned_state(self.armed).clear()
        return TriggerResult.FIRE

    def on_event_time(self, time: int, window: Any, ctx: TriggerContext) -> TriggerResult:
        return TriggerResult.CONTINUE

    def clear(self, window: Any, ctx: TriggerContext) -> None:
        ctx.delete_processing_time_timer(1000)

    def __init__(self) -> None:
        from flink_on_yarn.datastream.state import ValueStateDescriptor

        self.armed = ValueStateDescriptor("armed")


def test_custom_trigger_with_state_and_processing_time_timers() -> None:
    op = window_op(GlobalWindows.create(), FlushOnMarker(), kind="process", timestamped=False)
    assert op.process([("a", 1), ("b", 1), ("a", 2)]) == []
    assert op.next_processing_time() == 1000
    assert op.on_processing_time(1000) == [("a", None, [1, 2]), ("b", None, [1])]
    assert op.process([("a", 3), ("a", "flush")]) == [("a", None, [1, 2, 3, "flush"])]
    assert "a" not in op.windows and op.windows["b"] == {GlobalWindow.get(): [("b", 1)]}


def test_continuous_processing_time_trigger() -> None:
    op = window_op(TumblingProcessingTimeWindows.of(Time.seconds(60)),
                   ContinuousProcessingTimeTrigger.of(Time.milliseconds(10)), kind="process", timestamped=False)
    op.process([("a", 1)])
    first_fire = op.next_processing_time()
    assert first_fire is not None and first_fire % 10 == 0
    assert [v[2] for v in op.on_processing_time(first_fire)] == [[1]]
    assert op.next_processing_time() == first_fire + 10


def test_bad_triggers_and_merging_windows_are_refused() -> None:
    from flink_on_yarn.datastream.window import EventTimeSessionWindows

    with pytest.raises(ValueError, match="merging"):
        window_op(EventTimeSessionWindows.with_gap(Time.milliseconds(5)), EventTimeTrigger.create())

    class Broken(EventTimeTrigger):
        def on_element(self, element: Any, timestamp: int, window: Any, ctx: TriggerContext) -> TriggerResult:
            return "FIRE"  # type: ignore[return-value]

    op = window_op(TumblingEventTimeWindows.of(Time.milliseconds(10)), Broken())
    with pytest.raises(TypeError, match="not a TriggerResult"):
        op.process_ts([(1, ("a", 1))])
    assert TimeWindow(0, 10).max_timestamp() == 9
