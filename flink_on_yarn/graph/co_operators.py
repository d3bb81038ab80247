"""Two-input operators: `connect` (CoMap, CoFlatMap, CoProcess, KeyedCoProcess) and broadcast state
((Keyed)BroadcastProcess), run by the one-input task unchanged.

Each input first goes through an `InputTagOperator`, which makes its records `(input_index, value)`; the
inputs then union into the co-operator's task, whose input gate reads every channel of both (so watermarks
are the minimum over both inputs and barrier alignment covers both, as Flink's two-input tasks). A
broadcast input's records are `(1, value, route)`, one copy per consumer subtask: `route` is a key that the
HASH edge sends to exactly that subtask (`BroadcastRoutes`), Flink's BROADCAST partitioner over the hash one.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from typing import Any

from flink_on_yarn.common.watermark_strategy import LONG_MIN
from flink_on_yarn.graph.operators import (
    Convert,
    KeyedProcessOperator,
    Operator,
    UserFunctionOperator,
    _method,
    _open_function,
    _WatermarkOnly,
)
from flink_on_yarn.graph.output_tag import split_side_outputs
from flink_on_yarn.graph.partitioning import DEFAULT_MAX_PARALLELISM, key_group_table
from flink_on_yarn.graph.process_context import (
    BroadcastProcessContext,
    ProcessContext,
    TimerClock,
    TimerService,
)
from flink_on_yarn.graph.task_context import TaskContext


class InputTagOperator(Operator):
    """Marks the records of one input of a two-input operator with the input's index."""

    # Set by the job graph when the other input carries timestamps and this one does not.
    stamp_missing = False

    def __init__(self, index: int) -> None:
        self.index = index
        self.name = f"Input {index + 1}"

    def process(self, batch: list[Any]) -> list[Any]:
        i = self.index
        if self.stamp_missing:
            return [(LONG_MIN, (i, v)) for v in batch]
        return [(i, v) for v in batch]

    def process_ts(self, batch: list[Any]) -> list[Any]:
        i = self.index
        return [(t, (i, v)) for t, v in batch]


def broadcast_routes(consumers: int, max_parallelism: int = DEFAULT_MAX_PARALLELISM) -> list[int]:
    """For each consumer subtask, an int key that hash partitioning sends there (hash(g) == g for small ints,
    and key group g goes to subtask `g * n // max_parallelism`: the first key group of each subtask).

    >>> broadcast_routes(3)
    [0, 43, 86]
    """
    table = key_group_table(consumers, max_parallelism)
    first: dict[int, int] = {}
    for g, subtask in enumerate(table):
        first.setdefault(subtask, g)
    if len(first) != consumers:
        raise ValueError(f"cannot broadcast to {consumers} subtasks: more than max parallelism {max_parallelism}")
    return [first[j] for j in range(consumers)]


class BroadcastOperator(Operator):
    """The broadcast input's tag: one `(1, value, route)` copy of each record per consumer subtask. The job
    graph sets `consumers` once it knows the co-operator's parallelism."""

    stamp_missing = False  # as InputTagOperator's

    def __init__(self) -> None:
        self.name = "Broadcast"
        self.consumers = 1

    def open(self, ctx: TaskContext) -> None:
        super().open(ctx)
        self.routes = broadcast_routes(self.consumers)

    def process(self, batch: list[Any]) -> list[Any]:
        if self.stamp_missing:
            return [(LONG_MIN, (1, v, r)) for v in batch for r in self.routes]
        return [(1, v, r) for v in batch for r in self.routes]

    def process_ts(self, batch: list[Any]) -> list[Any]:
        return [(t, (1, v, r)) for t, v in batch for r in self.routes]


class BroadcastRouteKey:
    """The key selector of the broadcast input's HASH edge: the copy's route."""

    def get_key(self, record: Any) -> Any:
        return record[2]


class TaggedKey:
    """The key of a tagged record: `key1` of input 0's values, `key2` of input 1's (PyFlink's
    `connect(...).key_by(key_selector1, key_selector2)`)."""

    def __init__(self, key1: Any, key2: Any) -> None:
        self.key1 = key1
        self.key2 = key2

    def get_key(self, record: Any) -> Any:
        if record[0] == 0:
            return _method(self.key1, "get_key")(record[1])
        return _method(self.key2, "get_key")(record[1])


class _RunsBatches:
    """`process`/`process_ts` of an operator whose `_run(batch, timestamped)` serves both."""

    def _run(self, batch: list[Any], timestamped: bool) -> list[Any]:
        raise NotImplementedError

    def process(self, batch: list[Any]) -> list[Any]:
        return self._run(batch, False)

    def process_ts(self, batch: list[Any]) -> list[Any]:
        return self._run(batch, True)


def _stamped(batch: list[Any], timestamped: bool, c: ProcessContext) -> Iterator[tuple[int, Any]]:
    """`(timestamp, record)` of each record in `batch` (LONG_MIN without timestamps), with the context's
    `timestamp()` set to it before the record is handled."""
    for item in batch:
        t, r = item if timestamped else (LONG_MIN, item)
        c.record_timestamp = None if t == LONG_MIN else t
        yield t, r


def _open_calls(op: UserFunctionOperator, ctx: TaskContext, first: str, second: str) -> tuple[Any, Any]:
    """Opens `op`'s function and gives its methods `first` and `second`, one per input (no `map`, so not
    UserFunctionOperator.open)."""
    op.ctx = ctx
    _open_function(op.fn, ctx)
    return _method(op.fn, first), _method(op.fn, second)


def _finish_batch(op: UserFunctionOperator, out: list[Any], timestamped: bool) -> list[Any]:
    """The tail of a non-keyed co-operator's batch: side outputs split off, then the output conversion."""
    out = split_side_outputs(out, timestamped, op.side_outputs if op.side_outputs is not None else {})
    conv = op.convert
    if conv is None:
        return out
    return [(t, conv(y)) for t, y in out] if timestamped else [conv(y) for y in out]


def _call_broadcast(call: Any, value: Any, c: BroadcastProcessContext) -> list[Any] | None:
    """`process_broadcast_element`: the only call that may write the broadcast state (Flink's read-only
    context everywhere else). Its outputs are drawn while writable: the function is often a generator."""
    c.writable = True
    try:
        produced = call(value, c)
        return None if produced is None else list(produced)
    finally:
        c.writable = False


class CoMapOperator(UserFunctionOperator):
    """`ConnectedStreams.map(CoMapFunction)`: `map1` for input 0's records, `map2` for input 1's."""

    def open(self, ctx: TaskContext) -> None:
        self.call1, self.call2 = _open_calls(self, ctx, "map1", "map2")

    def _one(self, r: Any) -> Any:
        y = self.call1(r[1]) if r[0] == 0 else self.call2(r[1])
        return y if self.convert is None else self.convert(y)

    def process(self, batch: list[Any]) -> list[Any]:
        one = self._one
        return [one(r) for r in batch]

    def process_ts(self, batch: list[Any]) -> list[Any]:
        one = self._one
        return [(t, one(r)) for t, r in batch]


class CoFlatMapOperator(CoMapOperator):
    """`ConnectedStreams.flat_map(CoFlatMapFunction)`: `flat_map1` / `flat_map2` yield any number of outputs."""

    def open(self, ctx: TaskContext) -> None:
        self.call1, self.call2 = _open_calls(self, ctx, "flat_map1", "flat_map2")

    def _many(self, r: Any) -> list[Any]:
        produced = self.call1(r[1]) if r[0] == 0 else self.call2(r[1])
        if produced is None:
            return []
        c = self.convert
        return [y if c is None else c(y) for y in produced]

    def process(self, batch: list[Any]) -> list[Any]:
        out: list[Any] = []
        for r in batch:
            out.extend(self._many(r))
        return out

    def process_ts(self, batch: list[Any]) -> list[Any]:
        out: list[Any] = []
        for t, r in batch:
            out.extend([(t, y) for y in self._many(r)])
        return out


class CoProcessOperator(_RunsBatches, UserFunctionOperator):
    """`ConnectedStreams.process(CoProcessFunction)`: `process_element1/2(value, ctx)`; the context has the
    record's timestamp, the watermark and side outputs, and refuses timers (not a keyed stream), as Flink."""

    def open(self, ctx: TaskContext) -> None:
        self.call1, self.call2 = _open_calls(self, ctx, "process_element1", "process_element2")
        self.clock = TimerClock()
        self.context = ProcessContext(_WatermarkOnly(self.clock))

    def _run(self, batch: list[Any], timestamped: bool) -> list[Any]:
        c = self.context
        out: list[Any] = []
        for t, r in _stamped(batch, timestamped, c):
            produced = self.call1(r[1], c) if r[0] == 0 else self.call2(r[1], c)
            if produced is not None:
                out.extend([(t, y) for y in produced] if timestamped else produced)
        return _finish_batch(self, out, timestamped)

    def on_watermark(self, timestamp: int) -> tuple[list[Any], int | None]:
        self.clock.watermark = timestamp
        return [], timestamp


class KeyedCoProcessOperator(_RunsBatches, KeyedProcessOperator):
    """`ConnectedStreams.key_by(k1, k2).process(KeyedCoProcessFunction)`: the keyed process function's state,
    event- and processing-time timers and `on_timer`, with `process_element1/2` for the two inputs."""

    method_name = "process_element1"

    def __init__(self, key_selector: TaggedKey, fn: Any, name: str, convert: Convert | None = None) -> None:
        super().__init__(key_selector, fn, name, convert)

    def open(self, ctx: TaskContext) -> None:
        super().open(ctx)
        self.call1 = self.call
        self.call2 = _method(self.fn, "process_element2")

    def _run(self, batch: list[Any], timestamped: bool) -> list[Any]:
        c, key = self.context, self.key
        out: list[Any] = []
        for item in batch:
            t, r = item if timestamped else (LONG_MIN, item)
            self._set_key(key(r))
            c.record_timestamp = None if t == LONG_MIN else t
            self._out(self.call1(r[1], c) if r[0] == 0 else self.call2(r[1], c), t if timestamped else None, out)
        return out


class _BroadcastStates:
    """The broadcast state of one subtask, one map per descriptor given to `broadcast()`: operator state,
    snapshotted by the operator itself at a checkpoint (every subtask holds the same maps)."""

    def __init__(self, descriptors: list[Any]) -> None:
        names = [d.name for d in descriptors]
        if not names:
            raise ValueError("broadcast() needs at least one MapStateDescriptor")
        self.names = names

    def new(self) -> dict[str, dict[Any, Any]]:
        return {n: {} for n in self.names}

    def snapshot(self, states: dict[str, dict[Any, Any]]) -> bytes:
        return pickle.dumps(states)

    def restore(self, states: dict[str, dict[Any, Any]], data: bytes) -> None:
        # In place: the operator's context holds these very maps.
        restored = pickle.loads(data)
        for name in self.names:
            states[name].clear()
            states[name].update(restored.get(name, {}))


class BroadcastProcessOperator(_RunsBatches, UserFunctionOperator):
    """`DataStream.connect(broadcast_stream).process(BroadcastProcessFunction)`: `process_element(value, ctx)`
    reads the broadcast state, `process_broadcast_element(value, ctx)` writes it."""

    broadcast_state = True

    def __init__(self, fn: Any, descriptors: list[Any], name: str, convert: Convert | None = None) -> None:
        super().__init__(fn, name, convert)
        self.layout = _BroadcastStates(descriptors)

    def open(self, ctx: TaskContext) -> None:
        self.call1, self.call2 = _open_calls(self, ctx, "process_element", "process_broadcast_element")
        self.states = self.layout.new()
        self.clock = TimerClock()
        self.context = BroadcastProcessContext(self._timer_service(), self.states)

    def _timer_service(self) -> TimerService:
        return _WatermarkOnly(self.clock)

    def _out(self, produced: Any, t: int | None, out: list[Any]) -> None:
        if produced is not None:
            out.extend(produced if t is None else [(t, y) for y in produced])

    def _run(self, batch: list[Any], timestamped: bool) -> list[Any]:
        c = self.context
        out: list[Any] = []
        for t, r in _stamped(batch, timestamped, c):
            stamp = t if timestamped else None
            if r[0] == 0:
                self._out(self.call1(r[1], c), stamp, out)
            else:
                self._out(_call_broadcast(self.call2, r[1], c), stamp, out)
        return _finish_batch(self, out, timestamped)

    def on_watermark(self, timestamp: int) -> tuple[list[Any], int | None]:
        self.clock.watermark = timestamp
        return [], timestamp

    def snapshot_state(self, checkpoint_id: int) -> bytes | None:
        return self.layout.snapshot(self.states)

    def restore_state(self, data: bytes) -> None:
        self.layout.restore(self.states, data)


class KeyedBroadcastProcessOperator(_RunsBatches, KeyedProcessOperator):
    """`KeyedStream.connect(broadcast_stream).process(KeyedBroadcastProcessFunction)`: `process_element` with
    keyed state, timers and the read-only broadcast state; `process_broadcast_element` (no key) writes it;
    `on_timer` reads it."""

    broadcast_state = True

    def __init__(self, key_selector: Any, fn: Any, descriptors: list[Any], name: str,
                 convert: Convert | None = None) -> None:
        super().__init__(key_selector, fn, name, convert)
        self.layout = _BroadcastStates(descriptors)

    def open(self, ctx: TaskContext) -> None:
        super().open(ctx)
        self.call2 = _method(self.fn, "process_broadcast_element")
        self.states = self.layout.new()
        self.context = BroadcastProcessContext(TimerService(self.clock), self.states)

    def _run(self, batch: list[Any], timestamped: bool) -> list[Any]:
        c, key = self.context, self.key
        assert isinstance(c, BroadcastProcessContext)
        out: list[Any] = []
        for t, r in _stamped(batch, timestamped, c):
            stamp = t if timestamped else None
            if r[0] == 0:
                self._set_key(key(r[1]))
                self._out(self.call(r[1], c), stamp, out)
            else:
                # The broadcast side has no key: keyed state and timers are not its to touch (Flink).
                self._set_key(None)
                self._out(_call_broadcast(self.call2, r[1], c), stamp, out)
        return out

    def snapshot_state(self, checkpoint_id: int) -> bytes | None:
        return self.layout.snapshot(self.states)

    def restore_state(self, data: bytes) -> None:
        self.layout.restore(self.states, data)
