"""PyFlink's user-function base classes; a plain callable works wherever one of these is accepted."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flink_on_yarn.graph.process_context import (
    BroadcastProcessContext,
    KeyedProcessContext,
    ProcessContext,
    TimeDomain,
    TimerService,
    UnsupportedOperationException,
    WindowContext,
)

__all__ = ["TimeDomain", "TimerService", "UnsupportedOperationException"]


class Function:
    def open(self, runtime_context: Any) -> None:
        pass

    def close(self) -> None:
        pass


class MapFunction(Function):
    def map(self, value: Any) -> Any:
        raise NotImplementedError


class FlatMapFunction(Function):
    def flat_map(self, value: Any) -> Iterable[Any]:
        raise NotImplementedError


class FilterFunction(Function):
    def filter(self, value: Any) -> bool:
        raise NotImplementedError


class ReduceFunction(Function):
    def reduce(self, value1: Any, value2: Any) -> Any:
        raise NotImplementedError


class KeySelector(Function):
    def get_key(self, value: Any) -> Any:
        raise NotImplementedError


class SinkFunction(Function):
    def invoke(self, value: Any, context: Any) -> None:
        raise NotImplementedError


class RuntimeContext:
    """Documented for signatures; the runtime passes a flink_on_yarn.graph.task_context.TaskContext, which has
    PyFlink's `get_index_of_this_subtask()`, ... and, on a keyed stream, `get_state(descriptor)` and the others."""


class AggregateFunction(Function):
    """Incremental aggregation through an accumulator, as Flink's: create, add, merge, get_result."""

    def create_accumulator(self) -> Any:
        raise NotImplementedError

    def add(self, value: Any, accumulator: Any) -> Any:
        raise NotImplementedError

    def get_result(self, accumulator: Any) -> Any:
        raise NotImplementedError

    def merge(self, acc_a: Any, acc_b: Any) -> Any:
        raise NotImplementedError


class ProcessFunction(Function):
    """`DataStream.process(f)`: `process_element(value, ctx)` yields (or returns an iterable of) its outputs."""

    Context = ProcessContext

    def process_element(self, value: Any, ctx: ProcessContext) -> Iterable[Any]:
        raise NotImplementedError


class _KeyedTimers(Function):
    """What PyFlink's keyed process functions share (not a PyFlink class): their contexts, and `on_timer`."""

    Context = KeyedProcessContext
    OnTimerContext = KeyedProcessContext

    def on_timer(self, timestamp: int, ctx: KeyedProcessContext) -> Iterable[Any]:
        """Called when a timer registered through `ctx.timer_service()` fires; yields outputs too."""
        return ()


class KeyedProcessFunction(_KeyedTimers):
    """`KeyedStream.process(f)`: as ProcessFunction, with keyed state through the RuntimeContext of `open()`."""

    def process_element(self, value: Any, ctx: KeyedProcessContext) -> Iterable[Any]:
        raise NotImplementedError


class ProcessWindowFunction(Function):
    """`process(key, context, elements)` yields the window's results; `context.window()` is the window."""

    Context = WindowContext

    def process(self, key: Any, context: WindowContext, elements: Iterable[Any]) -> Iterable[Any]:
        raise NotImplementedError

    def clear(self, context: WindowContext) -> None:
        pass


class ProcessAllWindowFunction(Function):
    Context = WindowContext

    def process(self, context: WindowContext, elements: Iterable[Any]) -> Iterable[Any]:
        raise NotImplementedError


class WindowFunction(Function):
    """`apply(key, window, inputs)` returns (or yields) the window's results."""

    def apply(self, key: Any, window: Any, inputs: Iterable[Any]) -> Iterable[Any]:
        raise NotImplementedError


class AllWindowFunction(Function):
    def apply(self, window: Any, inputs: Iterable[Any]) -> Iterable[Any]:
        raise NotImplementedError


class CoMapFunction(Function):
    """`ConnectedStreams.map(f)`: `map1` for the first stream's records, `map2` for the second's."""

    def map1(self, value: Any) -> Any:
        raise NotImplementedError

    def map2(self, value: Any) -> Any:
        raise NotImplementedError


class CoFlatMapFunction(Function):
    def flat_map1(self, value: Any) -> Iterable[Any]:
        raise NotImplementedError

    def flat_map2(self, value: Any) -> Iterable[Any]:
        raise NotImplementedError


class CoProcessFunction(Function):
    """`ConnectedStreams.process(f)` off a keyed stream: no state, no timers (Flink refuses them)."""

    Context = ProcessContext

    def process_element1(self, value: Any, ctx: ProcessContext) -> Iterable[Any]:
        raise NotImplementedError

    def process_element2(self, value: Any, ctx: ProcessContext) -> Iterable[Any]:
        raise NotImplementedError


class KeyedCoProcessFunction(_KeyedTimers):
    """`ConnectedStreams.key_by(k1, k2).process(f)`: keyed state and timers, as KeyedProcessFunction."""

    def process_element1(self, value: Any, ctx: KeyedProcessContext) -> Iterable[Any]:
        raise NotImplementedError

    def process_element2(self, value: Any, ctx: KeyedProcessContext) -> Iterable[Any]:
        raise NotImplementedError


class _BroadcastSides(Function):
    """What PyFlink's two broadcast process functions share (not a PyFlink class; neither is the other's
    subclass there, so neither is here): the contexts and the two sides' methods."""

    Context = BroadcastProcessContext
    ReadOnlyContext = BroadcastProcessContext

    def process_element(self, value: Any, ctx: BroadcastProcessContext) -> Iterable[Any]:
        raise NotImplementedError

    def process_broadcast_element(self, value: Any, ctx: BroadcastProcessContext) -> Iterable[Any]:
        raise NotImplementedError


class BroadcastProcessFunction(_BroadcastSides):
    """`DataStream.connect(broadcast_stream).process(f)`: `ctx.get_broadcast_state(descriptor)` is read-only in
    `process_element`, read-write in `process_broadcast_element`."""


class KeyedBroadcastProcessFunction(_BroadcastSides):
    """`KeyedStream.connect(broadcast_stream).process(f)`: as BroadcastProcessFunction, with keyed state and
    timers on the keyed side (`on_timer` reads the broadcast state)."""

    def on_timer(self, timestamp: int, ctx: BroadcastProcessContext) -> Iterable[Any]:
        return ()
