"""Event-time timers, as PyFlink's `event_time_timer` example: a running sum per name in keyed state, and per
record a timer one millisecond after its event time; each timer prints the key's sum when event time passes
it. The collection is bounded, so its final watermark (Long.MAX) fires every timer after the last record,
in timestamp order: each line shows the key's final sum.

    python examples/pyflink/event_time_timer.py
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flink_on_yarn.common import Duration, Types, WatermarkStrategy
from flink_on_yarn.common.watermark_strategy import TimestampAssigner
from flink_on_yarn.datastream import KeyedProcessFunction, RuntimeContext, StreamExecutionEnvironment
from flink_on_yarn.datastream.state import ValueStateDescriptor

PAYMENTS = [(1000, "Alice", 110.1), (4000, "Bob", 30.2), (3000, "Alice", 20.0), (2000, "Bob", 53.1),
            (5000, "Alice", 13.1), (3500, "Bob", 3.1), (7000, "Bob", 16.1), (10000, "Alice", 20.1)]


class FirstField(TimestampAssigner):
    def extract_timestamp(self, value: Any, record_timestamp: int) -> int:
        return int(value[0])


class Sum(KeyedProcessFunction):
    def __init__(self) -> None:
        self.state: Any = None

    def open(self, runtime_context: RuntimeContext) -> None:
        self.state = runtime_context.get_state(ValueStateDescriptor("state", Types.FLOAT()))

    def process_element(self, value: Any, ctx: KeyedProcessFunction.Context) -> Iterator[Any]:
        current = self.state.value()
        if current is None:
            current = 0
        self.state.update(current + value[2])
        timestamp = ctx.timestamp()
        assert timestamp is not None
        ctx.timer_service().register_event_time_timer(timestamp + 1)
        return iter(())

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext) -> Iterator[Any]:
        yield ctx.get_current_key(), timestamp, self.state.value()


def event_time_timer() -> None:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1)
    ds = env.from_collection(PAYMENTS, type_info=Types.TUPLE([Types.LONG(), Types.STRING(), Types.FLOAT()]))
    ds = ds.assign_timestamps_and_watermarks(
        WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_seconds(2))
        .with_timestamp_assigner(FirstField()))
    ds.key_by(lambda value: value[1]).process(Sum()).print()
    env.execute()


if __name__ == "__main__":
    event_time_timer()
