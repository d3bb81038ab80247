"""Runtime operators, each over a whole batch of records so the per-record cost stays in tight loops.

A chain is a list of operators run one after another inside one task; `finish` is called at end of input,
in chain order, and what it returns flows through the rest of the chain (batch reduce, combiners, sinks).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from flink_on_yarn.common.text import format_lines, format_record
from flink_on_yarn.common.typeinfo import Row
from flink_on_yarn.graph.process_context import KeyedProcessContext, ProcessContext, TimerService
from flink_on_yarn.graph.task_context import TaskContext
from flink_on_yarn.runtime.state import ValueStateDescriptor
from flink_on_yarn.runtime.state_backend import KeyedStateBackend

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


def _close_function(fn: Any) -> None:
    closer = getattr(fn, "close", None)
    if closer is not None and callable(closer) and not hasattr(fn, "__next__"):
        closer()


class Operator:
    """Base: identity on batches, nothing at end of input."""

    name = "Operator"

    def open(self, ctx: TaskContext) -> None:
        self.ctx = ctx

    def process(self, batch: list[Any]) -> list[Any]:
        return batch

    def finish(self) -> list[Any]:
        return []

    def close(self) -> None:
        pass


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


class FilterOperator(UserFunctionOperator):
    method_name = "filter"

    def process(self, batch: list[Any]) -> list[Any]:
        f = self.call
        return [x for x in batch if f(x)]


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
        _open_function(self.reducer, dataclasses.replace(ctx, keyed_state=self.backend))
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
        self.context = ProcessContext(TimerService())

    def process(self, batch: list[Any]) -> list[Any]:
        f, c = self.call, self.context
        out: list[Any] = []
        extend = out.extend
        for x in batch:
            produced = f(x, c)
            if produced is not None:
                extend(produced)
        if self.convert is not None:
            conv = self.convert
            return [conv(x) for x in out]
        return out


class KeyedProcessOperator(UserFunctionOperator):
    """`KeyedStream.process(KeyedProcessFunction)`: the record's key scopes every state the function reads."""

    method_name = "process_element"

    def __init__(self, key_selector: Any, fn: Any, name: str, convert: Convert | None = None) -> None:
        super().__init__(fn, name, convert)
        self.key_selector = key_selector
        self.backend = KeyedStateBackend()

    def open(self, ctx: TaskContext) -> None:
        self.ctx = ctx
        _open_function(self.fn, dataclasses.replace(ctx, keyed_state=self.backend))
        self.call = _method(self.fn, self.method_name)
        self.key = _method(self.key_selector, "get_key")
        self.context = KeyedProcessContext(TimerService())

    def process(self, batch: list[Any]) -> list[Any]:
        f, c, key, backend = self.call, self.context, self.key, self.backend
        out: list[Any] = []
        extend = out.extend
        for x in batch:
            k = key(x)
            backend.current_key = k
            c.current_key = k
            produced = f(x, c)
            if produced is not None:
                extend(produced)
        if self.convert is not None:
            conv = self.convert
            return [conv(x) for x in out]
        return out


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
