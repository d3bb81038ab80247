"""Broadcast state driven by hand: read-write on the broadcast side, read-only on the other, per-key state and
timers beside it on a keyed stream, and the state through a snapshot and a restore."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from flink_on_yarn.common import Types
from flink_on_yarn.datastream import BroadcastProcessFunction, KeyedBroadcastProcessFunction
from flink_on_yarn.datastream.state import MapStateDescriptor, ValueStateDescriptor
from flink_on_yarn.graph.co_operators import BroadcastProcessOperator, KeyedBroadcastProcessOperator
from flink_on_yarn.graph.process_context import NO_SUCH_BROADCAST_STATE, BroadcastProcessContext
from flink_on_yarn.graph.task_context import TaskContext

CTX = TaskContext("j", "t", 0, 1)
RULES = MapStateDescriptor("rules", Types.STRING(), Types.INT())


class Threshold(BroadcastProcessFunction):
    """Passes values above the broadcast threshold; a rule `("min", n)` sets it."""

    def process_element(self, value: Any, ctx: BroadcastProcessContext) -> Iterator[Any]:
        low = ctx.get_broadcast_state(RULES).get("min")
        if low is not None and value > low:
            yield value

    def process_broadcast_element(self, value: Any, ctx: BroadcastProcessContext) -> Iterator[Any]:
        ctx.get_broadcast_state(RULES).put(value[0], value[1])
        return iter(())


def test_broadcast_side_writes_the_other_side_reads() -> None:
    op = BroadcastProcessOperator(Threshold(), [RULES], "Co-Process-Broadcast")
    op.open(CTX)
    assert op.process([(0, 5), (1, ("min", 3), 0), (0, 5), (0, 2)]) == [5]
    assert op.process([(1, ("min", 6), 0), (0, 5), (0, 7)]) == [7]
    assert dict(op.states["rules"]) == {"min": 6}


def test_read_only_side_cannot_write_and_unknown_state_is_refused() -> None:
    class Writes(BroadcastProcessFunction):
        def process_element(self, value: Any, ctx: BroadcastProcessContext) -> Iterator[Any]:
            ctx.get_broadcast_state(RULES).put("min", value)
            return iter(())

        def process_broadcast_element(self, value: Any, ctx: BroadcastProcessContext) -> Iterator[Any]:
            ctx.get_broadcast_state(MapStateDescriptor("other", Types.STRING(), Types.INT()))
            return iter(())

    op = BroadcastProcessOperator(Writes(), [RULES], "Co-Process-Broadcast")
    op.open(CTX)
    with pytest.raises(AttributeError, match="put"):
        op.process([(0, 1)])
    with pytest.raises(ValueError, match=NO_SUCH_BROADCAST_STATE.split(".")[0]):
        op.process([(1, "x", 0)])
    assert op.context.writable is False  # the failed broadcast call did not leave the state writable
    with pytest.raises(ValueError, match="at least one MapStateDescriptor"):
        BroadcastProcessOperator(Writes(), [], "Co-Process-Broadcast")


def test_broadcast_state_survives_a_snapshot_and_restore() -> None:
    op = BroadcastProcessOperator(Threshold(), [RULES], "Co-Process-Broadcast")
    op.open(CTX)
    op.process([(1, ("min", 4), 0)])
    data = op.snapshot_state(1)
    assert data is not None
    restored = BroadcastProcessOperator(Threshold(), [RULES], "Co-Process-Broadcast")
    restored.open(CTX)
    restored.restore_state(data)
    assert restored.process([(0, 3), (0, 9)]) == [9]


class Alerts(KeyedBroadcastProcessFunction):
    """Counts values per key; at the key's event-time timer it reports the count against the broadcast limit."""

    def open(self, runtime_context: TaskContext) -> None:
        self.count = runtime_context.get_state(ValueStateDescriptor("count", Types.INT()))

    def process_element(self, value: Any, ctx: BroadcastProcessContext) -> Iterator[Any]:
        self.count.update((self.count.value() or 0) + 1)
        ctx.timer_service().register_event_time_timer(100)
        return iter(())

    def process_broadcast_element(self, value: Any, ctx: BroadcastProcessContext) -> Iterator[Any]:
        ctx.get_broadcast_state(RULES).put("limit", value)
        yield f"limit {value}"

    def on_timer(self, timestamp: int, ctx: BroadcastProcessContext) -> Iterator[Any]:
        limit = ctx.get_broadcast_state(RULES).get("limit")
        n = self.count.value()
        yield f"{ctx.get_current_key()}: {n} {'over' if n > limit else 'within'} {limit} at {timestamp}"


def test_keyed_broadcast_has_keyed_state_timers_and_the_broadcast_state() -> None:
    op = KeyedBroadcastProcessOperator(lambda v: v[0], Alerts(), [RULES], "Co-Process-Broadcast-Keyed")
    op.timestamped = True
    op.open(CTX)
    out = op.process_ts([(1, (0, ("a", 1))), (2, (0, ("b", 1))), (3, (0, ("a", 2))), (4, (1, 1, 0))])
    assert out == [(4, "limit 1")]
    fired, forward = op.on_watermark(100)
    assert forward == 100
    assert fired == [(100, "a: 2 over 1 at 100"), (100, "b: 1 within 1 at 100")]
    assert op.on_watermark(200) == ([], 200)
