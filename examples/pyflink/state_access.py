"""Keyed state, as PyFlink's `state_access` example: a running sum per name in a ValueState with a TTL, kept
by a KeyedProcessFunction. The amounts are typed FLOAT, so they come back with a Java float's 32 bits
(`110.1` is `110.0999984741211`), exactly as PyFlink hands them to Python.

    python examples/pyflink/state_access.py
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flink_on_yarn.common import Time, Types
from flink_on_yarn.datastream import KeyedProcessFunction, RuntimeContext, StreamExecutionEnvironment
from flink_on_yarn.datastream.state import StateTtlConfig, ValueStateDescriptor

PAYMENTS = [("Alice", 110.1), ("Bob", 30.2), ("Alice", 20.0), ("Bob", 53.1),
            ("Alice", 13.1), ("Bob", 3.1), ("Bob", 16.1), ("Alice", 20.1)]


class Sum(KeyedProcessFunction):
    def __init__(self) -> None:
        self.state: Any = None

    def open(self, runtime_context: RuntimeContext) -> None:
        descriptor = ValueStateDescriptor("state", Types.FLOAT())
        ttl = StateTtlConfig.new_builder(Time.seconds(60)) \
            .set_update_type(StateTtlConfig.UpdateType.OnReadAndWrite) \
            .disable_cleanup_in_background() \
            .build()
        descriptor.enable_time_to_live(ttl)
        self.state = runtime_context.get_state(descriptor)

    def process_element(self, value: tuple[str, float], ctx: KeyedProcessFunction.Context) -> Iterator[Any]:
        current = self.state.value()
        if current is None:
            current = 0
        current += value[1]
        self.state.update(current)
        yield value[0], current


def state_access() -> None:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1)
    ds = env.from_collection(PAYMENTS, type_info=Types.TUPLE([Types.STRING(), Types.FLOAT()]))
    ds.key_by(lambda value: value[0]).process(Sum()).print()
    env.execute()


if __name__ == "__main__":
    state_access()
