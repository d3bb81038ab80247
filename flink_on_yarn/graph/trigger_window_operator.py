"""Keyed windows with a trigger and/or an evictor (`WindowedStream.trigger(...)`, `.evictor(...)`,
`GlobalWindows`): Flink's general WindowOperator / EvictingWindowOperator, one contents entry, one trigger
state and timers per (key, window), where the default-trigger WindowOperator shares one timer per window.

For each record the trigger's `on_element` decides; its timers call `on_event_time` / `on_processing_time`;
FIRE runs the window function over the contents, PURGE drops them. At the window's cleanup time (its end plus
`allowed_lateness`, in the assigner's time domain) the contents and the trigger's state go. With an evictor
the contents are the window's `(timestamp, value)` records, evicted before / after the function runs.
Merging (session) windows keep the default-trigger operator.
"""

from __future__ import annotations

import copy
from typing import Any

from flink_on_yarn.common.watermark_strategy import LONG_MAX, LONG_MIN
from flink_on_yarn.graph.operators import Convert
from flink_on_yarn.graph.process_context import now_ms
from flink_on_yarn.graph.window_operator import _MISSING, NO_TIMESTAMP, WindowFunctionSpec, WindowOperator
from flink_on_yarn.runtime.state import StateDescriptor, ValueStateDescriptor
from flink_on_yarn.runtime.state_rescale import SCOPED
from flink_on_yarn.runtime.timers import TimerQueue
from flink_on_yarn.runtime.windows import Evictor, Trigger, TriggerResult


class _TriggerContext:
    """The trigger's view of one (key, window): timers and partitioned state scoped to it."""

    def __init__(self, op: TriggerWindowOperator) -> None:
        self.op = op
        self.scope: Any = None  # (key, window)

    def get_current_processing_time(self) -> int:
        return now_ms()

    def get_current_watermark(self) -> int:
        return self.op.watermark

    def register_processing_time_timer(self, time: int) -> None:
        self.op.processing_timers.register(self.scope, int(time))

    def register_event_time_timer(self, time: int) -> None:
        self.op.event_timers.register(self.scope, int(time))

    def delete_processing_time_timer(self, time: int) -> None:
        self.op.processing_timers.delete(self.scope, int(time))

    def delete_event_time_timer(self, time: int) -> None:
        self.op.event_timers.delete(self.scope, int(time))

    def get_partitioned_state(self, state_descriptor: StateDescriptor) -> Any:
        # In the operator's backend (so a checkpoint of it holds the trigger's state too), under a name of its
        # own and keyed by (key, window); the window function's keyed state keeps the plain names and keys.
        scoped = self.op.trigger_descriptors.get(state_descriptor.name)
        if scoped is None:
            scoped = copy.copy(state_descriptor)
            scoped.name = f"_trigger.{state_descriptor.name}"
            self.op.trigger_descriptors[state_descriptor.name] = scoped
        return _Scoped(self.op.backend.get_state(scoped), self)


class _Scoped:
    """A state object whose key is the trigger context's (key, window) while it is used."""

    def __init__(self, state: Any, ctx: _TriggerContext) -> None:
        self._state = state
        self._ctx = ctx

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._state, name)
        backend = self._ctx.op.backend

        def scoped(*args: Any) -> Any:
            previous, backend.current_key = backend.current_key, self._ctx.scope
            try:
                return method(*args)
            finally:
                backend.current_key = previous
        return scoped


class TriggerWindowOperator(WindowOperator):
    def __init__(self, key_selector: Any, assigner: Any, spec: WindowFunctionSpec, name: str, trigger: Trigger,
                 evictor: Evictor | None = None, convert: Convert | None = None, allowed_lateness: int = 0) -> None:
        super().__init__(key_selector, assigner, spec, name, convert, allowed_lateness)
        if getattr(assigner, "is_merging", False):
            raise ValueError("a custom trigger or evictor on merging (session) windows is not supported")
        self.trigger = trigger
        self.evictor = evictor
        # key -> {window: contents}; contents as the default operator's, or [(timestamp, value)] with an evictor
        self.windows: dict[Any, dict[Any, Any]] = self.backend.table(ValueStateDescriptor("_trigger_windows"))
        self.event_timers = TimerQueue()  # (key, window) at the trigger's times and the cleanup time
        self.processing_timers = TimerQueue()
        self.trigger_descriptors: dict[str, StateDescriptor] = {}

    def open(self, ctx: Any) -> None:
        super().open(ctx)
        self.trigger_ctx = _TriggerContext(self)

    def timer_scope(self, attr: str) -> str:
        return SCOPED if attr in ("event_timers", "processing_timers") else super().timer_scope(attr)

    def _cleanup_time(self, window: Any) -> int:
        end = window.max_timestamp()
        if not self.event_time:
            return int(end)
        return LONG_MAX if end >= LONG_MAX - self.allowed_lateness else int(end + self.allowed_lateness)

    def _call(self, key: Any, window: Any, call: Any) -> TriggerResult:
        self.trigger_ctx.scope = (key, window)
        result = call(self.trigger_ctx)
        if not isinstance(result, TriggerResult):
            raise TypeError(f"{type(self.trigger).__name__} returned {result!r}, not a TriggerResult")
        return result

    def _contents_add(self, contents: Any, value: Any, ts: int) -> Any:
        if self.evictor is None:
            return self.add(contents, value)
        if contents is _MISSING:
            return [(ts, value)]
        contents.append((ts, value))
        return contents

    def _fire_window(self, key: Any, window: Any, per_key: dict[Any, Any], out: list[Any]) -> None:
        contents = per_key.get(window, _MISSING)
        if contents is _MISSING:
            return
        self.backend.current_key = key
        if self.evictor is None:
            self._emit(key, window, contents, out)
            return
        elements = list(contents)
        self.evictor.evict_before(elements, len(elements), window)
        values = [v for _, v in elements]
        kind = self.spec.kind
        if kind in ("reduce", "aggregate"):
            folded: Any = _MISSING
            for v in values:
                folded = self.add(folded, v)
            if folded is not _MISSING:
                self._emit(key, window, folded, out)
        else:
            self._emit(key, window, values, out)
        self.evictor.evict_after(elements, len(elements), window)
        per_key[window] = elements

    def _result(self, key: Any, window: Any, result: TriggerResult, out: list[Any]) -> None:
        per_key = self.windows.get(key)
        if per_key is None:
            return
        if result.is_fire():
            self._fire_window(key, window, per_key, out)
        if result.is_purge():
            per_key.pop(window, None)
            if not per_key:
                del self.windows[key]

    def _element(self, value: Any, ts: int, window_time: int, out: list[Any]) -> None:
        k = self.key(value)
        skipped = True
        for window in self.assigner.assign_windows(value, window_time):
            cleanup = self._cleanup_time(window)
            if self.event_time and cleanup <= self.watermark:
                continue  # late: past its cleanup time
            skipped = False
            per_key = self.windows.setdefault(k, {})
            per_key[window] = self._contents_add(per_key.get(window, _MISSING), value, ts)
            result = self._call(k, window, lambda c, w=window: self.trigger.on_element(value, ts, w, c))
            self._result(k, window, result, out)
            if cleanup != LONG_MAX:
                (self.event_timers if self.event_time else self.processing_timers).register((k, window), cleanup)
        if skipped and self.event_time and ts + self.allowed_lateness <= self.watermark:
            self._late(value, ts)

    def process(self, batch: list[Any]) -> list[Any]:
        out: list[Any] = []
        if self.event_time and batch:
            raise RuntimeError(NO_TIMESTAMP)
        now = now_ms()
        for value in batch:
            self._element(value, LONG_MIN, now, out)
        return out

    def process_ts(self, batch: list[Any]) -> list[Any]:
        out: list[Any] = []
        now = now_ms()
        for ts, value in batch:
            if self.event_time and ts == LONG_MIN:
                raise RuntimeError(NO_TIMESTAMP)
            self._element(value, ts, ts if self.event_time else now, out)
        return out

    def _timers(self, queue: TimerQueue, now: int, event: bool, out: list[Any]) -> None:
        while True:
            due = queue.pop_due(now)
            if not due:
                return
            for ts, (key, window) in due:
                if event:
                    result = self._call(key, window, lambda c, t=ts, w=window: self.trigger.on_event_time(t, w, c))
                else:
                    result = self._call(key, window,
                                        lambda c, t=ts, w=window: self.trigger.on_processing_time(t, w, c))
                self._result(key, window, result, out)
                if event == self.event_time and ts == self._cleanup_time(window):
                    self._clear(key, window)

    def _clear(self, key: Any, window: Any) -> None:
        per_key = self.windows.get(key)
        if per_key is not None:
            per_key.pop(window, None)
            if not per_key:
                del self.windows[key]
        self.trigger_ctx.scope = (key, window)
        self.trigger.clear(window, self.trigger_ctx)

    def on_watermark(self, timestamp: int) -> tuple[list[Any], int | None]:
        self.watermark = timestamp
        out: list[Any] = []
        self._timers(self.event_timers, timestamp, True, out)
        return out, timestamp

    def next_processing_time(self) -> int | None:
        return self.processing_timers.next_time()

    def on_processing_time(self, now: int) -> list[Any]:
        out: list[Any] = []
        self._timers(self.processing_timers, now, False, out)
        return out
