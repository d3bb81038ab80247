"""Runtime operators, each over a whole batch of records so the per-record cost stays in tight loops.

A chain is a list of operators run one after another inside one task; `finish` is called at end of input,
in chain order, and what it returns flows through the rest of the chain (batch reduce, combiners, sinks).

Behind `assign_timestamps_and_watermarks` records carry their event time: the graph sets `timestamped` on
every operator downstream of it, the records travel as `(timestamp, value)` pairs, and the task calls
`process_ts` instead of `process` (results keep the timestamp of the record they came from, as in Flink;
Long.MIN_VALUE marks "no timestamp"). Watermarks reach each operator through `on_watermark`, which returns
what fired and the watermark to pass on; processing-time timers through `on_processing_time`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from flink_on_yarn.common.text import format_lines, format_record
from flink_on_yarn.common.typeinfo import Row
from flink_on_yarn.common.watermark_strategy import LONG_MAX, LONG_MIN
from flink_on_yarn.graph.output_tag import OutputTag, split_side_outputs
from flink_on_yarn.graph.process_context import (
    KeyedProcessContext,
    ProcessContext,
    TimeDomain,
    TimerClock,
    TimerService,
    now_ms,
)
from flink_on_yarn.graph.task_context import TaskContext
from flink_on_yarn.runtime.state import ValueStateDescriptor
from flink_on_yarn.runtime.state_backend import KeyedStateBackend
from flink_on_yarn.runtime.state_rescale import KEY

Convert = Callable[[Any], Any]


def _method(fn: Any, name: str) -> Callable[..., Any]:
    """A user function may be a callable or a PyFlink-style Function object with a `map`/`flat_map`/... method."""
    method = getattr(fn, name, None)
    if method is not None and callable(method):
        return method  # type: ignore[no-any-return]
    if callable(fn):
        return fn  # type: ignore[no-any-return]
    raise TypeError(f"{type(fn).__name__} is neither callable nor has a {name}() method")


def _open_function(fn: Any, ctx: TaskContext) -> None:
    opener = getattr(fn, "open", None)
    if opener is not None and callable(opener) and not isinstance(fn, type):
        opener(ctx)


def open_with_state(fn: Any, ctx: TaskContext, backend: KeyedStateBackend) -> None:
    """Opens a user function on a keyed stream: its RuntimeContext hands out state of `backend`."""
    _open_function(fn, dataclasses.replace(ctx, keyed_state=backend))


def _close_function(fn: Any) -> None:
    closer = getattr(fn, "close", None)
    if closer is not None and callable(closer) and not hasattr(fn, "__next__"):
        closer()


class Operator:
    """Base: identity on batches, nothing at end of input, watermarks passed on."""

    name = "Operator"
    # Set by the job graph: records arrive as (timestamp, value) pairs (see the module docstring).
    timestamped = False
    # True for the operator that makes watermarks (it has `take_watermark`).
    generates_watermarks = False
    # Where the task collects this operator's side outputs (tag id -> records); None: nobody reads them.
    side_outputs: dict[str, list[Any]] | None = None
    # Set by the task: after `finish` a final checkpoint comes (Flink 1.15+'s checkpoints after tasks
    # finish), so what `finish` leaves to commit waits for its `notify_checkpoint_complete`.
    final_checkpoint = False

    def open(self, ctx: TaskContext) -> None:
        self.ctx = ctx

    def process(self, batch: list[Any]) -> list[Any]:
        return batch

    def process_ts(self, batch: list[Any]) -> list[Any]:
        """Timestamped records; the base (a sink's) drops the timestamps and processes the values."""
        return self.process([v for _, v in batch])

    def on_watermark(self, timestamp: int) -> tuple[list[Any], int | None]:
        """Records that fire at this watermark, and the watermark to pass on (None: swallow it)."""
        return [], timestamp

    def next_processing_time(self) -> int | None:
        """When this operator's earliest processing-time timer is due (epoch ms), if it has one."""
        return None

    def on_processing_time(self, now: int) -> list[Any]:
        return []

    def finish(self) -> list[Any]:
        return []

    def close(self) -> None:
        pass

    # Checkpoints. Keyed state (an operator's KeyedStateBackend) and timers are snapshotted by the task
    # (runtime/checkpoint_snapshot.py); these hooks are for an operator's own, non-keyed state.
    def snapshot_state(self, checkpoint_id: int) -> bytes | None:
        """The operator's non-keyed state as the barrier passes it, before the barrier goes on."""
        return None

    def snapshot_durability(self, checkpoint_id: int) -> Callable[[], None] | None:
        """Called right after `snapshot_state`: work the checkpoint needs done before it is acknowledged that
        need not hold up the records behind the barrier (Flink's asynchronous part of a snapshot), run on the
        task's checkpoint-writer thread; e.g. a sink's fsync of what it wrote. An OSError declines the
        checkpoint."""
        return None

    def restore_state(self, data: bytes) -> None:
        """After `open`, before any record: what `snapshot_state` returned in the checkpoint restored."""

    # Rescaling (runtime/state_rescale.py) splits keyed state and timers by key group. True: what
    # `snapshot_state` returns is the same in every subtask (broadcast state), so any copy will do.
    broadcast_state = False

    def table_scope(self, name: str) -> str:
        """How the entries of keyed table `name` carry their key (state_rescale's KEY, SCOPED, PANES)."""
        return KEY

    def timer_scope(self, attr: str) -> str:
        """How the timers of queue (or TimerClock) `attr` carry their key."""
        return KEY

    def notify_checkpoint_complete(self, checkpoint_id: int) -> None:
        """The JobManager completed checkpoint `checkpoint_id` (e.g. a sink commits what it made durable)."""


class UserFunctionOperator(Operator):
    """A user function; `convert` (from a declared output type, e.g. FLOAT's 32 bits) applies to what it returns."""

    method_name = "map"

    def __init__(self, fn: Any, name: str, convert: Convert | None = None) -> None:
        self.fn = fn
        self.name = name
        self.convert = convert

    def open(self, ctx: TaskContext) -> None:
        super().open(ctx)
        _open_function(self.fn, ctx)
        self.call = _method(self.fn, self.method_name)

    def close(self) -> None:
        _close_function(self.fn)


class MapOperator(UserFunctionOperator):
    method_name = "map"

    def process(self, batch: list[Any]) -> list[Any]:
        f = self.call
        out = [f(x) for x in batch]
        if self.convert is not None:
            c = self.convert
            return [c(x) for x in out]
        return out

    def process_ts(self, batch: list[Any]) -> list[Any]:
        f = self.call
        if self.convert is not None:
            c = self.convert
            return [(t, c(f(x))) for t, x in batch]
        return [(t, f(x)) for t, x in batch]


class FlatMapOperator(UserFunctionOperator):
    method_name = "flat_map"

    def process(self, batch: list[Any]) -> list[Any]:
        f = self.call
        out: list[Any] = []
        extend = out.extend
        for x in batch:
            produced = f(x)
            if produced is not None:
                extend(produced)
        if self.convert is not None:
            c = self.convert
            return [c(x) for x in out]
        return out

    def process_ts(self, batch: list[Any]) -> list[Any]:
        f = self.call
        c = self.convert
        out: list[Any] = []
        for t, x in batch:
            produced = f(x)
            if produced is not None:
                out.extend([(t, c(y) if c is not None else y) for y in produced])
        return out


class FilterOperator(UserFunctionOperator):
    method_name = "filter"

    def process(self, batch: list[Any]) -> list[Any]:
        f = self.call
        return [x for x in batch if f(x)]

    def process_ts(self, batch: list[Any]) -> list[Any]:
        f = self.call
        return [r for r in batch if f(r[1])]


class KeyedReduceOperator(Operator):
    """Keyed rolling reduce: STREAMING emits every updated value, BATCH only the final one per key."""

    def __init__(self, key_selector: Any, reducer: Any, name: str = "Keyed Reduce") -> None:
        self.key_selector = key_selector
        self.reducer = reducer
        self.name = name
        self.backend = KeyedStateBackend()
        # The backend's table itself, a plain dict (no TTL): the loop below stays a dict lookup per record.
        self.state: dict[Any, Any] = self.backend.table(ValueStateDescriptor("_reduce"))

    def open(self, ctx: TaskContext) -> None:
        super().open(ctx)
        open_with_state(self.reducer, ctx, self.backend)
        self.key = _method(self.key_selector, "get_key")
        self.reduce = _method(self.reducer, "reduce")
        self.emit_each = ctx.runtime_mode != "BATCH"

    def process(self, batch: list[Any]) -> list[Any]:
        state = self.state
        key, reduce = self.key, self.reduce
        get = state.get
        out: list[Any] = []
        emit = out.append
        missing = _MISSING
        for record in batch:
            k = key(record)
            current = get(k, missing)
            value = record if current is missing else reduce(current, record)
            state[k] = value
            emit(value)
        return out if self.emit_each else []

    def process_ts(self, batch: list[Any]) -> list[Any]:
        # The state keeps (timestamp, value); an update carries the timestamp of the record that made it.
        state, key, reduce = self.state, self.key, self.reduce
        out: list[Any] = []
        for t, record in batch:
            k = key(record)
            current = state.get(k, _MISSING)
            value = record if current is _MISSING else reduce(current[1], record)
            state[k] = (t, value)
            out.append((t, value))
        return out if self.emit_each else []

    def finish(self) -> list[Any]:
        return [] if self.emit_each else list(self.state.values())


_MISSING = object()


class SumReducer:
    """`KeyedStream.sum(position)`: adds field `position`, keeps the other fields of the first record."""

    def __init__(self, position: int) -> None:
        self.position = position

    def reduce(self, a: Any, b: Any) -> Any:
        p = self.position
        if type(a) is Row:
            return Row._make([*a[:p], a[p] + b[p], *a[p + 1:]], a._fields, a._kind)
        if isinstance(a, tuple):
            if p == 1 and len(a) == 2:
                return (a[0], a[1] + b[1])
            return (*a[:p], a[p] + b[p], *a[p + 1:])
        if isinstance(a, list):
            out = list(a)
            out[p] = a[p] + b[p]
            return out
        return a + b


class CombineOperator(KeyedReduceOperator):
    """BATCH-mode pre-aggregation before a hash exchange, as Flink's DataSet combiners do for reduce."""

    def open(self, ctx: TaskContext) -> None:
        super().open(ctx)
        self.emit_each = False


class ProcessOperator(UserFunctionOperator):
    """`DataStream.process(ProcessFunction)`: `process_element(value, ctx)` yields any number of outputs."""

    method_name = "process_element"

    def open(self, ctx: TaskContext) -> None:
        super().open(ctx)
        self.clock = TimerClock()
        self.context = ProcessContext(_WatermarkOnly(self.clock))

    def process(self, batch: list[Any]) -> list[Any]:
        f, c = self.call, self.context
        out: list[Any] = []
        extend = out.extend
        for x in batch:
            produced = f(x, c)
            if produced is not None:
                extend(produced)
        out = self._main(out, False)
        if self.convert is not None:
            conv = self.convert
            return [conv(x) for x in out]
        return out

    def _main(self, out: list[Any], timestamped: bool) -> list[Any]:
        """Side-output records (`yield tag, value`) leave the main output; kept only if someone reads them."""
        return split_side_outputs(out, timestamped, self.side_outputs if self.side_outputs is not None else {})

    def process_ts(self, batch: list[Any]) -> list[Any]:
        f, c, conv = self.call, self.context, self.convert
        out: list[Any] = []
        for t, x in batch:
            c.record_timestamp = None if t == LONG_MIN else t
            produced = f(x, c)
            if produced is not None:
                out.extend([(t, y) for y in produced])
        out = self._main(out, True)
        return [(t, conv(y)) for t, y in out] if conv is not None else out

    def on_watermark(self, timestamp: int) -> tuple[list[Any], int | None]:
        self.clock.watermark = timestamp
        return [], timestamp


class _WatermarkOnly(TimerService):
    """A non-keyed process function's timer service: the watermark, and Flink's refusal of timers."""

    def __init__(self, clock: TimerClock) -> None:
        super().__init__(None)
        self._watermark_clock = clock

    def current_watermark(self) -> int:
        return self._watermark_clock.watermark


class KeyedProcessOperator(UserFunctionOperator):
    """`KeyedStream.process(KeyedProcessFunction)`: the record's key scopes every state the function reads
    and every timer it registers; timers call `on_timer(timestamp, ctx)` when time passes them."""

    method_name = "process_element"

    def __init__(self, key_selector: Any, fn: Any, name: str, convert: Convert | None = None) -> None:
        super().__init__(fn, name, convert)
        self.key_selector = key_selector
        self.backend = KeyedStateBackend()
        self.clock = TimerClock()

    def open(self, ctx: TaskContext) -> None:
        self.ctx = ctx
        open_with_state(self.fn, ctx, self.backend)
        self.call = _method(self.fn, self.method_name)
        self.key = _method(self.key_selector, "get_key")
        self.context = KeyedProcessContext(TimerService(self.clock))
        self.on_timer = getattr(self.fn, "on_timer", None)

    def _set_key(self, k: Any) -> None:
        self.backend.current_key = k
        self.clock.current_key = k
        self.context.current_key = k

    def _out(self, produced: Any, t: int | None, out: list[Any]) -> None:
        """The function's outputs into `out` (with timestamp `t` unless None), side outputs to theirs."""
        if produced is None:
            return
        conv = self.convert
        sides = self.side_outputs if self.side_outputs is not None else {}
        for y in produced:
            if type(y) is tuple and len(y) == 2 and isinstance(y[0], OutputTag):
                sides.setdefault(y[0].tag_id, []).append(y[1] if t is None else (t, y[1]))
                continue
            if conv is not None:
                y = conv(y)
            out.append(y if t is None else (t, y))

    def process(self, batch: list[Any]) -> list[Any]:
        f, c, key, backend, clock = self.call, self.context, self.key, self.backend, self.clock
        out: list[Any] = []
        extend = out.extend
        for x in batch:
            k = key(x)
            backend.current_key = clock.current_key = c.current_key = k
            produced = f(x, c)
            if produced is not None:
                extend(produced)
        out = split_side_outputs(out, False, self.side_outputs if self.side_outputs is not None else {})
        if self.convert is not None:
            conv = self.convert
            return [conv(x) for x in out]
        return out

    def process_ts(self, batch: list[Any]) -> list[Any]:
        f, c, key = self.call, self.context, self.key
        out: list[Any] = []
        for t, x in batch:
            self._set_key(key(x))
            c.record_timestamp = None if t == LONG_MIN else t
            self._out(f(x, c), t, out)
        return out

    def _fire(self, queue: Any, now: int, domain: TimeDomain) -> list[Any]:
        out: list[Any] = []
        c = self.context
        while True:
            due = queue.pop_due(now)
            if not due:
                return out
            for ts, k in due:
                if self.on_timer is None:
                    continue
                self._set_key(k)
                c.domain = domain
                c.record_timestamp = ts
                produced = self.on_timer(ts, c)
                # Event-time timer output carries the timer's time; processing-time output has none (Flink).
                stamp = ts if domain == TimeDomain.EVENT_TIME else LONG_MIN
                self._out(produced, stamp if self.timestamped else None, out)
            c.domain = None

    def on_watermark(self, timestamp: int) -> tuple[list[Any], int | None]:
        self.clock.watermark = timestamp
        return self._fire(self.clock.event_timers, timestamp, TimeDomain.EVENT_TIME), timestamp

    def next_processing_time(self) -> int | None:
        return self.clock.processing_timers.next_time()

    def on_processing_time(self, now: int) -> list[Any]:
        return self._fire(self.clock.processing_timers, now, TimeDomain.PROCESSING_TIME)


class KeyedFunction:
    """A map / flat_map / filter function on a keyed stream, run as a keyed process function so that its
    RuntimeContext has keyed state (PyFlink runs `KeyedStream.map` and the others the same way)."""

    def __init__(self, fn: Any, kind: str) -> None:
        if kind not in ("map", "flat_map", "filter"):
            raise ValueError(f"no keyed {kind} function")
        self.fn = fn
        self.kind = kind

    def open(self, runtime_context: TaskContext) -> None:
        _open_function(self.fn, runtime_context)
        self.call = _method(self.fn, self.kind)

    def close(self) -> None:
        _close_function(self.fn)

    def process_element(self, value: Any, ctx: Any) -> Any:
        if self.kind == "map":
            return (self.call(value),)
        if self.kind == "flat_map":
            return self.call(value)
        return (value,) if self.call(value) else ()


class TimestampsAndWatermarksOperator(Operator):
    """`assign_timestamps_and_watermarks(strategy)`: stamps each record with its event time and makes
    watermarks, every `pipeline.auto-watermark-interval` of processing time while records flow, as Flink's
    periodic generators. Upstream watermarks stop here (Flink's operator ignores them), all but the final
    Long.MAX one at end of input."""

    generates_watermarks = True

    def __init__(self, strategy: Any, interval_ms: int = 200) -> None:
        self.strategy = strategy
        self.interval_ms = interval_ms
        self.name = "Timestamps/Watermarks"

    def open(self, ctx: TaskContext) -> None:
        super().open(ctx)
        assigner = self.strategy.timestamp_assigner
        self.extract = None if assigner is None else _method(assigner, "extract_timestamp")
        self.generator = self.strategy.create_generator()
        self.last_emit = now_ms()
        self.emitted = LONG_MIN
        self.pending: int | None = None
        # `with_idleness`: the generator says its input is idle; a record makes the output active at once,
        # ahead of that record (Flink's WatermarksWithIdleness and SourceOperator's markActive).
        self.idle = False
        self.pending_status: bool | None = None

    def _stamp(self, value: Any, previous: int) -> int:
        if self.extract is None:
            return previous
        ts = int(self.extract(value, previous))
        self.generator.on_event(ts)
        return ts

    def _maybe_watermark(self) -> None:
        if self.interval_ms <= 0:
            return
        now = now_ms()
        if now - self.last_emit >= self.interval_ms:
            self.last_emit = now
            wm = self.generator.on_periodic_emit()
            idle = bool(getattr(self.generator, "idle", False))
            if idle != self.idle:
                self.idle, self.pending_status = idle, idle
            if wm is not None and wm > self.emitted:
                self.emitted = wm
                self.pending = wm

    def _activity(self, batch: list[Any]) -> None:
        if batch and self.idle:
            self.idle, self.pending_status = False, False

    def process(self, batch: list[Any]) -> list[Any]:
        self._activity(batch)
        out = [(self._stamp(v, LONG_MIN), v) for v in batch]
        self._maybe_watermark()
        return out

    def process_ts(self, batch: list[Any]) -> list[Any]:
        self._activity(batch)
        out = [(self._stamp(v, t), v) for t, v in batch]
        self._maybe_watermark()
        return out

    def take_watermark(self) -> int | None:
        wm, self.pending = self.pending, None
        return wm

    def take_status(self) -> bool | None:
        """The output's new status if it changed (True: idle, False: active again), else None."""
        status, self.pending_status = self.pending_status, None
        return status

    def on_watermark(self, timestamp: int) -> tuple[list[Any], int | None]:
        if timestamp == LONG_MAX:
            self.emitted = LONG_MAX
            return [], LONG_MAX
        return [], None


class PrintSinkOperator(Operator):
    """`print()`: one line per record on the task's stdout, prefixed `N> ` when the sink runs with p > 1.
    `formatter` writes a record as PyFlink prints its type (flink_on_yarn.common.typeinfo.RecordFormatter)."""

    def __init__(self, identifier: str | None = None, to_stderr: bool = False,
                 formatter: Callable[[Any], str] | None = None) -> None:
        self.identifier = identifier
        self.to_stderr = to_stderr
        self.formatter = formatter
        self.name = "Print to Std. Err" if to_stderr else "Print to Std. Out"

    def open(self, ctx: TaskContext) -> None:
        super().open(ctx)
        prefix = self.identifier + ":" if self.identifier else ""
        if ctx.parallelism > 1:
            prefix += f"{ctx.subtask + 1}"
        self.prefix = prefix + "> " if prefix else ""
        self.stream = ctx.stderr if self.to_stderr else ctx.stdout

    def process(self, batch: list[Any]) -> list[Any]:
        if batch:
            p = self.prefix
            fmt = self.formatter
            if fmt is None or fmt is format_record:
                self.stream.write(format_lines(batch, p))
            else:
                self.stream.write("".join([f"{p}{fmt(r)}\n" for r in batch]))
            self.stream.flush()
        return []


class FunctionSinkOperator(UserFunctionOperator):
    """`add_sink(fn)`: a callable or a SinkFunction-style object with `invoke(value, context)`."""

    method_name = "invoke"

    def process(self, batch: list[Any]) -> list[Any]:
        f = self.call
        if getattr(self.fn, "invoke", None) is not None:
            for x in batch:
                f(x, self.ctx)
        else:
            for x in batch:
                f(x)
        return []
