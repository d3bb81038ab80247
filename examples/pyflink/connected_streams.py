"""Two inputs into one operator, as PyFlink writes them: `connect` with a CoMapFunction, a keyed
`KeyedCoProcessFunction` joining orders with payments in event time (an order unpaid 10 ms after it was
placed times out), and broadcast state: rules broadcast to every subtask, read by a (keyed) broadcast
process function.

    python examples/pyflink/connected_streams.py co_map|keyed_co_process|broadcast|keyed_broadcast
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

from flink_on_yarn.common import Duration, Types, WatermarkStrategy
from flink_on_yarn.datastream import (
    BroadcastProcessFunction,
    CoMapFunction,
    KeyedBroadcastProcessFunction,
    KeyedCoProcessFunction,
    RuntimeContext,
    StreamExecutionEnvironment,
)
from flink_on_yarn.datastream.state import MapStateDescriptor, ValueStateDescriptor
from flink_on_yarn.graph.process_context import BroadcastProcessContext, KeyedProcessContext


class SecondField:
    """A TimestampAssigner: the event time is the record's second field."""

    def extract_timestamp(self, value: Any, record_timestamp: int) -> int:
        return int(value[1])


def event_time(stream: Any) -> Any:
    strategy = WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_millis(0)) \
        .with_timestamp_assigner(SecondField())
    return stream.assign_timestamps_and_watermarks(strategy)


class Tag(CoMapFunction):
    def map1(self, value: Any) -> Any:
        return f"number {value}"

    def map2(self, value: Any) -> Any:
        return f"word {value}"


def co_map(env: StreamExecutionEnvironment) -> None:
    numbers = env.from_collection([1, 2, 3])
    words = env.from_collection(["flink", "yarn"])
    numbers.connect(words).map(Tag(), Types.STRING()).print()


class OrderPayment(KeyedCoProcessFunction):
    """Orders (id, time) and payments (id, time) by id: paid when both came, timed out if no payment came by
    the order's time + 10 ms (an event-time timer)."""

    def open(self, runtime_context: RuntimeContext) -> None:
        self.order = runtime_context.get_state(ValueStateDescriptor("order", Types.LONG()))
        self.payment = runtime_context.get_state(ValueStateDescriptor("payment", Types.LONG()))

    def process_element1(self, value: Any, ctx: KeyedProcessContext) -> Iterator[Any]:
        if self.payment.value() is not None:
            yield f"{value[0]} paid at {self.payment.value()}"
            return
        self.order.update(value[1])
        ctx.timer_service().register_event_time_timer(value[1] + 10)

    def process_element2(self, value: Any, ctx: KeyedProcessContext) -> Iterator[Any]:
        if self.order.value() is not None:
            yield f"{value[0]} paid at {value[1]}"
            self.order.clear()
        else:
            self.payment.update(value[1])

    def on_timer(self, timestamp: int, ctx: KeyedProcessContext) -> Iterator[Any]:
        if self.order.value() is not None:
            yield f"{ctx.get_current_key()} timed out at {timestamp}"
            self.order.clear()


def keyed_co_process(env: StreamExecutionEnvironment) -> None:
    orders = event_time(env.from_collection([("o1", 1), ("o2", 2), ("o3", 5), ("o4", 30)]))
    payments = event_time(env.from_collection([("o2", 3), ("o1", 8), ("o4", 35)]))
    orders.connect(payments).key_by(lambda o: o[0], lambda p: p[0]).process(OrderPayment(), Types.STRING()).print()


RULES = MapStateDescriptor("rules", Types.STRING(), Types.INT())


class SeenBy(BroadcastProcessFunction):
    """Every subtask gets every rule: it says so, with its index; values pass if above the rule `min`."""

    def open(self, runtime_context: RuntimeContext) -> None:
        self.subtask = runtime_context.get_index_of_this_subtask()

    def process_element(self, value: Any, ctx: BroadcastProcessContext) -> Iterator[Any]:
        low = ctx.get_broadcast_state(RULES).get("min")
        if low is not None and value > low:
            yield f"value {value}"

    def process_broadcast_element(self, value: Any, ctx: BroadcastProcessContext) -> Iterator[Any]:
        ctx.get_broadcast_state(RULES).put(value[0], value[1])
        yield f"rule {value[0]}={value[1]} at subtask {self.subtask}"


def broadcast(env: StreamExecutionEnvironment) -> None:
    env.set_parallelism(3)
    rules = env.from_collection([("min", 100)]).broadcast(RULES)
    env.from_collection([1, 2]).connect(rules).process(SeenBy(), Types.STRING()).print()


class Limit(KeyedBroadcastProcessFunction):
    """Counts each user's clicks; at the end of event time compares the count with the broadcast limit."""

    def open(self, runtime_context: RuntimeContext) -> None:
        self.clicks = runtime_context.get_state(ValueStateDescriptor("clicks", Types.INT()))

    def process_element(self, value: Any, ctx: BroadcastProcessContext) -> Iterator[Any]:
        self.clicks.update((self.clicks.value() or 0) + 1)
        ctx.timer_service().register_event_time_timer(100)
        return iter(())

    def process_broadcast_element(self, value: Any, ctx: BroadcastProcessContext) -> Iterator[Any]:
        ctx.get_broadcast_state(RULES).put("limit", value)
        return iter(())

    def on_timer(self, timestamp: int, ctx: BroadcastProcessContext) -> Iterator[Any]:
        limit = ctx.get_broadcast_state(RULES).get("limit")
        n = self.clicks.value()
        yield f"{ctx.get_current_key()} {n} clicks, {'over' if n > limit else 'within'} the limit {limit}"


def keyed_broadcast(env: StreamExecutionEnvironment) -> None:
    env.set_parallelism(2)
    clicks = event_time(env.from_collection([("alice", 1), ("bob", 2), ("alice", 3), ("alice", 4), ("carol", 9)]))
    # The limits carry no timestamps (nor watermarks): the operator's event time waits for their end, as Flink's.
    limits = env.from_collection([2]).broadcast(RULES)
    clicks.key_by(lambda c: c[0]).connect(limits).process(Limit(), Types.STRING()).print()


PROGRAMS = {"co_map": co_map, "keyed_co_process": keyed_co_process, "broadcast": broadcast,
            "keyed_broadcast": keyed_broadcast}

if __name__ == "__main__":
    environment = StreamExecutionEnvironment.get_execution_environment()
    environment.set_parallelism(1)
    PROGRAMS[sys.argv[1]](environment)
    environment.execute(f"connected streams: {sys.argv[1]}")
