"""The two-input operators driven by hand with tagged records: CoMap, CoFlatMap, CoProcess, KeyedCoProcess
(state and timers per key), the broadcast copies and their routes, and the job graph connect makes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from flink_on_yarn.client.executor import ExecutionContext, set_context
from flink_on_yarn.client.local_executor import LocalExecutor
from flink_on_yarn.common import Types
from flink_on_yarn.common.watermark_strategy import LONG_MIN
from flink_on_yarn.datastream import (
    CoFlatMapFunction,
    CoMapFunction,
    CoProcessFunction,
    KeyedCoProcessFunction,
    StreamExecutionEnvironment,
)
from flink_on_yarn.datastream.state import ValueStateDescriptor
from flink_on_yarn.graph.co_operators import (
    BroadcastOperator,
    CoFlatMapOperator,
    CoMapOperator,
    CoProcessOperator,
    InputTagOperator,
    KeyedCoProcessOperator,
    TaggedKey,
    broadcast_routes,
)
from flink_on_yarn.graph.output_tag import OutputTag
from flink_on_yarn.graph.partitioning import hash_partition, key_group_table
from flink_on_yarn.graph.process_context import KeyedProcessContext, ProcessContext, UnsupportedOperationException
from flink_on_yarn.graph.task_context import TaskContext

CTX = TaskContext("j", "t", 0, 1)


class Label(CoMapFunction):
    def map1(self, value: Any) -> Any:
        return f"L{value}"

    def map2(self, value: Any) -> Any:
        return f"R{value}"


def test_input_tags_keep_timestamps() -> None:
    tag = InputTagOperator(1)
    assert tag.process(["a", "b"]) == [(1, "a"), (1, "b")]
    assert tag.process_ts([(5, "a")]) == [(5, (1, "a"))]


def test_co_map_dispatches_on_the_input_and_converts() -> None:
    op = CoMapOperator(Label(), "Co-Map")
    op.open(CTX)
    assert op.process([(0, 1), (1, 2), (0, 3)]) == ["L1", "R2", "L3"]
    assert op.process_ts([(7, (1, "x"))]) == [(7, "Rx")]
    floats = CoMapOperator(Label(), "Co-Map", Types.STRING().from_python)
    floats.open(CTX)
    assert floats.process([(0, 1)]) == ["L1"]


def test_co_flat_map_yields_from_either_side() -> None:
    class Split(CoFlatMapFunction):
        def flat_map1(self, value: Any) -> Iterator[Any]:
            yield from value.split()

        def flat_map2(self, value: Any) -> Iterator[Any]:
            yield from range(value)

    op = CoFlatMapOperator(Split(), "Co-Flat Map")
    op.open(CTX)
    assert op.process([(0, "a b"), (1, 2), (1, 0)]) == ["a", "b", 0, 1]
    assert op.process_ts([(3, (0, "c d"))]) == [(3, "c"), (3, "d")]


def test_co_process_has_timestamps_side_outputs_and_refuses_timers() -> None:
    late = OutputTag("odd")

    class Route(CoProcessFunction):
        def process_element1(self, value: Any, ctx: ProcessContext) -> Iterator[Any]:
            yield value, ctx.timestamp()

        def process_element2(self, value: Any, ctx: ProcessContext) -> Iterator[Any]:
            if value == "timer":
                ctx.timer_service().register_event_time_timer(10)
            yield late, value

    op = CoProcessOperator(Route(), "Co-Process")
    op.side_outputs = {}
    op.open(CTX)
    assert op.process_ts([(4, (0, "a"))]) == [(4, ("a", 4))]
    assert op.process_ts([(5, (1, "b"))]) == []
    assert op.side_outputs == {"odd": [(5, "b")]}
    with pytest.raises(UnsupportedOperationException, match="only supported on a keyed stream"):
        op.process_ts([(6, (1, "timer"))])
    assert op.on_watermark(9) == ([], 9) and op.context.timer_service().current_watermark() == 9


class OrderPayment(KeyedCoProcessFunction):
    """Joins an order with its payment per key; an order unpaid at its timestamp + 10 times out."""

    def open(self, runtime_context: TaskContext) -> None:
        self.order = runtime_context.get_state(ValueStateDescriptor("order", Types.STRING()))
        self.paid = runtime_context.get_state(ValueStateDescriptor("paid", Types.BOOLEAN()))

    def process_element1(self, value: Any, ctx: KeyedProcessContext) -> Iterator[Any]:
        if self.paid.value():
            yield f"{ctx.get_current_key()} paid {value[1]}"
            return
        self.order.update(value[1])
        ts = ctx.timestamp()
        assert ts is not None
        ctx.timer_service().register_event_time_timer(ts + 10)

    def process_element2(self, value: Any, ctx: KeyedProcessContext) -> Iterator[Any]:
        if self.order.value() is not None:
            yield f"{ctx.get_current_key()} paid {self.order.value()}"
            self.order.clear()
        else:
            self.paid.update(True)

    def on_timer(self, timestamp: int, ctx: KeyedProcessContext) -> Iterator[Any]:
        if self.order.value() is not None:
            yield f"{ctx.get_current_key()} timed out {self.order.value()} at {timestamp}"


def test_keyed_co_process_keeps_state_and_timers_per_key() -> None:
    op = KeyedCoProcessOperator(TaggedKey(lambda o: o[0], lambda p: p["key"]), OrderPayment(), "Co-Keyed-Process")
    op.timestamped = True
    op.open(CTX)
    assert op.process_ts([(1, (0, ("a", "o1"))), (2, (0, ("b", "o2"))), (3, (1, {"key": "c"}))]) == []
    assert op.process_ts([(4, (1, {"key": "a"})), (5, (0, ("c", "o3")))]) == [(4, "a paid o1"), (5, "c paid o3")]
    fired, forward = op.on_watermark(12)
    assert forward == 12 and fired == [(12, "b timed out o2 at 12")]  # a's timer (11) finds no open order
    assert op.on_watermark(100) == ([], 100)


def test_keyed_co_process_processing_time_timers() -> None:
    class Remind(KeyedCoProcessFunction):
        def process_element1(self, value: Any, ctx: KeyedProcessContext) -> Iterator[Any]:
            ctx.timer_service().register_processing_time_timer(1_000)
            return iter(())

        def process_element2(self, value: Any, ctx: KeyedProcessContext) -> Iterator[Any]:
            ctx.timer_service().delete_processing_time_timer(1_000)
            return iter(())

        def on_timer(self, timestamp: int, ctx: KeyedProcessContext) -> Iterator[Any]:
            yield ctx.get_current_key(), timestamp, ctx.time_domain().name  # type: ignore[union-attr]

    op = KeyedCoProcessOperator(TaggedKey(lambda v: v, lambda v: v), Remind(), "Co-Keyed-Process")
    op.open(CTX)
    op.process([(0, "x"), (0, "y"), (1, "y")])
    assert op.next_processing_time() == 1_000
    assert op.on_processing_time(1_000) == [("x", 1_000, "PROCESSING_TIME")]
    assert op.next_processing_time() is None


def test_broadcast_copies_reach_every_subtask_once() -> None:
    for n in (1, 2, 3, 5, 128):
        routes = broadcast_routes(n)
        table = key_group_table(n)
        assert [table[hash(r) % len(table)] for r in routes] == list(range(n))
    with pytest.raises(ValueError, match="more than max parallelism"):
        broadcast_routes(129)
    op = BroadcastOperator()
    op.consumers = 3
    op.open(CTX)
    copies = op.process(["rule"])
    parts = hash_partition(copies, lambda r: r[2], key_group_table(3), 3)
    assert [[r[:2] for r in p] for p in parts] == [[(1, "rule")]] * 3
    assert [t for t, _ in op.process_ts([(LONG_MIN, "r")])] == [LONG_MIN] * 3


def test_connect_graph_tags_inputs_and_sets_broadcast_consumers() -> None:
    from flink_on_yarn.datastream.state import MapStateDescriptor

    set_context(ExecutionContext(executor=LocalExecutor(), default_parallelism=3))
    try:
        env = StreamExecutionEnvironment.get_execution_environment()
        a = env.from_collection([1, 2])
        b = env.from_collection(["x"])
        a.connect(b).key_by(lambda v: v, lambda v: v).process(OrderPayment()).print()
        desc = MapStateDescriptor("rules", Types.STRING(), Types.INT())
        events, rules = env.from_collection([3]), env.from_collection(["r"])
        events.key_by(lambda v: v).connect(rules.broadcast(desc)).process(OrderPayment()).set_parallelism(2)
        graph = env.get_job_graph()
    finally:
        set_context(None)
    names = sorted(v.name for v in graph.vertices)
    assert names == ["Co-Keyed-Process -> Print to Std. Out", "Co-Process-Broadcast-Keyed",
                     "Source: Collection Source -> Broadcast", "Source: Collection Source -> Input 1",
                     "Source: Collection Source -> Input 1", "Source: Collection Source -> Input 2"]
    assert {e.shipStrategy for e in graph.edges} == {"HASH"}
    from flink_on_yarn.graph.codec import decode

    [bcast] = [v for v in graph.vertices if v.name.endswith("Broadcast")]
    op = decode(bcast.operators[-1].payload)
    assert isinstance(op, BroadcastOperator) and op.consumers == 2


def test_an_input_without_timestamps_gets_long_min_at_its_tag() -> None:
    set_context(ExecutionContext(executor=LocalExecutor(), default_parallelism=1))
    try:
        env = StreamExecutionEnvironment.get_execution_environment()
        from flink_on_yarn.common import WatermarkStrategy

        class First:
            def extract_timestamp(self, value: Any, record_timestamp: int) -> int:
                return int(value)

        timed = env.from_collection([1, 2]).assign_timestamps_and_watermarks(
            WatermarkStrategy.for_monotonous_timestamps().with_timestamp_assigner(First()))
        timed.connect(env.from_collection(["x"])).map(Label()).print()
        graph = env.get_job_graph()
    finally:
        set_context(None)
    from flink_on_yarn.graph.codec import decode

    ops = {op.name: decode(op.payload) for v in graph.vertices for op in v.operators}
    untimed, timed_tag = ops["Input 2"], ops["Input 1"]
    assert untimed.stamp_missing and not timed_tag.stamp_missing and ops["Co-Map"].timestamped
    assert untimed.process(["x"]) == [(LONG_MIN, (1, "x"))]
