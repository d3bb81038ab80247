"""Keyed windows (Flink's WindowOperator with its default triggers): records go to the windows their assigner
names, a window fires when event time (the watermark) or processing time passes its last timestamp, and its
contents then go through the window's function. Session windows merge as records arrive; count windows fire
every `slide` records with the last `size`.

Contents live in the operator's keyed state backend (table `_windows`: key -> {window: contents}), so a
checkpoint of the backend holds them. A record whose window event time has already passed (beyond
`allowed_lateness`) is dropped and counted, as Flink's `numLateRecordsDropped`.
"""

from __future__ import annotations

from typing import Any

from flink_on_yarn.common.watermark_strategy import LONG_MIN
from flink_on_yarn.graph.operators import Convert, Operator, _method, open_with_state
from flink_on_yarn.graph.process_context import WindowContext, now_ms
from flink_on_yarn.graph.task_context import TaskContext
from flink_on_yarn.runtime.state import ValueStateDescriptor
from flink_on_yarn.runtime.state_backend import KeyedStateBackend
from flink_on_yarn.runtime.timers import TimerQueue
from flink_on_yarn.runtime.windows import CountWindow

NO_TIMESTAMP = (
    "Record has Long.MIN_VALUE timestamp (= no timestamp marker). Is the time characteristic set to "
    "'ProcessingTime', or did you forget to call 'DataStream.assign_timestamps_and_watermarks(...)'?")


class WindowFunctionSpec:
    """How a window's contents become results. `kind`: reduce | aggregate | process | apply; `window_fn`
    optionally follows a reduce/aggregate (PyFlink's `reduce(f, window_function=...)`); `keyed` False for
    `window_all`, whose functions take no key."""

    def __init__(self, kind: str, fn: Any, window_fn: Any = None, keyed: bool = True) -> None:
        self.kind = kind
        self.fn = fn
        self.window_fn = window_fn
        self.keyed = keyed


class WindowOperator(Operator):
    def __init__(self, key_selector: Any, assigner: Any, spec: WindowFunctionSpec, name: str,
                 convert: Convert | None = None, allowed_lateness: int = 0) -> None:
        self.key_selector = key_selector
        self.assigner = assigner
        self.spec = spec
        self.name = name
        self.convert = convert
        self.allowed_lateness = allowed_lateness
        self.backend = KeyedStateBackend()
        self.windows: dict[Any, dict[Any, Any]] = self.backend.table(ValueStateDescriptor("_windows"))
        self.timers = TimerQueue()  # (key, window) at window.max_timestamp(), in the assigner's time domain
        self.cleanup = TimerQueue()  # (key, window) at max_timestamp + allowed_lateness (event time)
        self.watermark = LONG_MIN
        self.late_dropped = 0
        self.count_fired = 0

    def open(self, ctx: TaskContext) -> None:
        super().open(ctx)
        s = self.spec
        for fn in (s.fn, s.window_fn):
            if fn is not None:
                open_with_state(fn, ctx, self.backend)
        self.key = _method(self.key_selector, "get_key")
        self.is_count = hasattr(self.assigner, "slide") and not hasattr(self.assigner, "assign_windows")
        self.event_time = bool(getattr(self.assigner, "is_event_time", False))
        if s.kind == "reduce":
            self.reduce = _method(s.fn, "reduce")

    # contents
    def _add(self, contents: Any, value: Any) -> Any:
        kind = self.spec.kind
        if self.is_count or kind in ("process", "apply"):
            if contents is None:
                return [value]
            contents.append(value)
            return contents
        if kind == "reduce":
            return value if contents is None else self.reduce(contents, value)
        agg = self.spec.fn
        return agg.add(value, agg.create_accumulator() if contents is None else contents)

    def _merge(self, a: Any, b: Any) -> Any:
        kind = self.spec.kind
        if kind in ("process", "apply"):
            return a + b
        if kind == "reduce":
            return self.reduce(a, b)
        return self.spec.fn.merge(a, b)

    def _results(self, key: Any, window: Any, contents: Any) -> list[Any]:
        s = self.spec
        if self.is_count and s.kind in ("reduce", "aggregate"):
            folded = None
            for v in contents:
                folded = self._add(folded, v) if s.kind == "aggregate" else \
                    (v if folded is None else self.reduce(folded, v))
            contents = folded
        if s.kind == "aggregate":
            elements: list[Any] = [s.fn.get_result(contents)]
        elif s.kind == "reduce":
            elements = [contents]
        else:
            elements = contents
        fn = s.fn if s.kind in ("process", "apply") else s.window_fn
        if fn is None:
            return elements
        use_process = s.kind == "process" or (s.kind != "apply" and hasattr(fn, "process"))
        if use_process:
            ctx = WindowContext(window, self.watermark, now_ms())
            call = _method(fn, "process")
            produced = call(key, ctx, elements) if s.keyed else call(ctx, elements)
        else:
            call = _method(fn, "apply")
            produced = call(key, window, elements) if s.keyed else call(window, elements)
        return list(produced) if produced is not None else []

    def _emit(self, key: Any, window: Any, contents: Any, out: list[Any]) -> None:
        results = self._results(key, window, contents)
        if self.convert is not None:
            c = self.convert
            results = [c(r) for r in results]
        if self.timestamped:
            ts = window.max_timestamp()
            out.extend([(ts, r) for r in results])
        else:
            out.extend(results)

    # records
    def process(self, batch: list[Any]) -> list[Any]:
        if self.event_time and not self.is_count:
            raise RuntimeError(NO_TIMESTAMP)
        now = now_ms()
        out: list[Any] = []
        for value in batch:
            self._element(value, now, out)
        return out

    def process_ts(self, batch: list[Any]) -> list[Any]:
        out: list[Any] = []
        event_time = self.event_time
        now = 0 if event_time else now_ms()
        for ts, value in batch:
            if event_time and ts == LONG_MIN:
                raise RuntimeError(NO_TIMESTAMP)
            self._element(value, ts if event_time else now, out)
        return out

    def _element(self, value: Any, ts: int, out: list[Any]) -> None:
        key = self.key(value)
        per_key = self.windows.setdefault(key, {})
        if self.is_count:
            self._count_element(key, per_key, value, out)
            return
        for window in self.assigner.assign_windows(value, ts):
            if self.event_time and window.max_timestamp() + self.allowed_lateness <= self.watermark:
                self.late_dropped += 1
                continue
            if self.assigner.is_merging:
                window = self._merge_into(key, per_key, window)
            contents = per_key.get(window)
            per_key[window] = self._add(contents, value)
            if contents is None:
                # A window's timers are registered when it gets its first record (or merges): while it has
                # contents its timer is pending, so the records after the first skip the timer queue.
                self.timers.register((key, window), window.max_timestamp())
                if self.event_time and self.allowed_lateness:
                    self.cleanup.register((key, window), window.max_timestamp() + self.allowed_lateness)
            if self.event_time:
                if window.max_timestamp() <= self.watermark:
                    # A late record within the allowed lateness fires its window again, as Flink's EventTimeTrigger.
                    self._emit(key, window, per_key[window], out)

    def _merge_into(self, key: Any, per_key: dict[Any, Any], window: Any) -> Any:
        """Merges `window` with every session of the key it touches; returns the resulting session."""
        merged = window
        absorbed = [w for w in per_key if w.intersects(window)]
        contents = None
        for w in absorbed:
            merged = merged.cover(w)
        for w in absorbed:
            part = per_key.pop(w)
            contents = part if contents is None else self._merge(contents, part)
            self.timers.delete((key, w), w.max_timestamp())
            self.cleanup.delete((key, w), w.max_timestamp() + self.allowed_lateness)
        if contents is not None:
            per_key[merged] = contents
            # The merged session's timers (the absorbed windows' were deleted; `merged` may be one of them).
            self.timers.register((key, merged), merged.max_timestamp())
            if self.event_time and self.allowed_lateness:
                self.cleanup.register((key, merged), merged.max_timestamp() + self.allowed_lateness)
        return merged

    def _count_element(self, key: Any, per_key: dict[Any, Any], value: Any, out: list[Any]) -> None:
        size, slide = self.assigner.size, self.assigner.slide
        entry = per_key.get("count")
        if entry is None:
            entry = per_key["count"] = [[], 0]
        elements, since = entry
        elements.append(value)
        if len(elements) > size:
            del elements[0]  # Flink's CountEvictor keeps the last `size` records
        since += 1
        if since >= slide:
            since = 0
            self.count_fired += 1
            self._emit(key, CountWindow(self.count_fired), list(elements), out)
            if slide == size:
                elements.clear()  # a tumbling count window purges, as Flink's PurgingTrigger
        entry[1] = since

    # time
    def _fire(self, due: list[tuple[int, Any]], out: list[Any]) -> None:
        for _, (key, window) in due:
            per_key = self.windows.get(key)
            if per_key is None or window not in per_key:
                continue
            self._emit(key, window, per_key[window], out)
            if not (self.event_time and self.allowed_lateness):
                self._drop(key, window)

    def _drop(self, key: Any, window: Any) -> None:
        per_key = self.windows.get(key)
        if per_key is not None:
            per_key.pop(window, None)
            if not per_key:
                del self.windows[key]

    def on_watermark(self, timestamp: int) -> tuple[list[Any], int | None]:
        self.watermark = timestamp
        out: list[Any] = []
        if self.event_time and not self.is_count:
            self._fire(self.timers.pop_due(timestamp), out)
            for _, (key, window) in self.cleanup.pop_due(timestamp):
                self._drop(key, window)
        return out, timestamp

    def next_processing_time(self) -> int | None:
        return None if self.event_time or self.is_count else self.timers.next_time()

    def on_processing_time(self, now: int) -> list[Any]:
        out: list[Any] = []
        if not self.event_time and not self.is_count:
            self._fire(self.timers.pop_due(now), out)
        return out

    def close(self) -> None:
        for fn in (self.spec.fn, self.spec.window_fn):
            closer = getattr(fn, "close", None)
            if callable(closer):
                closer()

