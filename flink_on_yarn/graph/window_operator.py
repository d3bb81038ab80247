"""Keyed windows (Flink's WindowOperator with its default triggers): records go to the windows their assigner
names, a window fires when event time (the watermark) or processing time passes its last timestamp, and its
contents then go through the window's function. Session windows merge as records arrive; count windows fire
every `slide` records with the last `size`.

Contents live in the operator's keyed state backend, so a checkpoint of the backend holds them:
* tumbling and sliding windows in `_panes`, window -> {key: contents}: every key of a window fires at the same
  time, so one timer per window stands for Flink's one per (key, window), and a batch of records that fall
  in one window (always, in processing time) costs a dict lookup per record, as a keyed reduce does;
* sessions in `_sessions`, key -> {window: contents}, with a timer per (key, session);
* count windows in `_counts`, key -> [last records, records since the last firing].

A record whose window's event time has passed (beyond `allowed_lateness`) is dropped and counted, as Flink's
`numLateRecordsDropped`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flink_on_yarn.common.watermark_strategy import LONG_MIN
from flink_on_yarn.graph.operators import Convert, Operator, _method, open_with_state
from flink_on_yarn.graph.process_context import WindowContext, now_ms
from flink_on_yarn.graph.task_context import TaskContext
from flink_on_yarn.runtime.state import ValueStateDescriptor
from flink_on_yarn.runtime.state_backend import KeyedStateBackend
from flink_on_yarn.runtime.state_rescale import KEY, NAMESPACE, PANES, SCOPED
from flink_on_yarn.runtime.timers import TimerQueue
from flink_on_yarn.runtime.windows import CountWindow

NO_TIMESTAMP = (
    "Record has Long.MIN_VALUE timestamp (= no timestamp marker). Is the time characteristic set to "
    "'ProcessingTime', or did you forget to call 'DataStream.assign_timestamps_and_watermarks(...)'?")

_MISSING = object()


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
        self.panes: dict[Any, dict[Any, Any]] = self.backend.table(ValueStateDescriptor("_panes"))
        self.sessions: dict[Any, dict[Any, Any]] = self.backend.table(ValueStateDescriptor("_sessions"))
        self.counts: dict[Any, list[Any]] = self.backend.table(ValueStateDescriptor("_counts"))
        # In the assigner's time domain: a window (panes) or a (key, session) at its last timestamp.
        self.timers = TimerQueue()
        self.cleanup = TimerQueue()  # the same, at last timestamp + allowed_lateness (event time)
        self.watermark = LONG_MIN
        self.late_dropped = 0
        self.count_fired = 0
        self.late_tag: str | None = None  # `side_output_late_data(tag)`: late records go there, not away

    def table_scope(self, name: str) -> str:
        if name == "_panes":
            return PANES
        return SCOPED if name.startswith("_trigger.") else KEY  # a trigger's state is per (key, window)

    def timer_scope(self, attr: str) -> str:
        if attr in ("timers", "cleanup"):
            return SCOPED if self.merging else NAMESPACE + "_panes"  # per (key, session), or per pane
        return KEY

    def open(self, ctx: TaskContext) -> None:
        super().open(ctx)
        s = self.spec
        for fn in (s.fn, s.window_fn):
            if fn is not None:
                open_with_state(fn, ctx, self.backend)
        self.key = _method(self.key_selector, "get_key")
        self.is_count = hasattr(self.assigner, "slide") and not hasattr(self.assigner, "assign_windows")
        self.event_time = bool(getattr(self.assigner, "is_event_time", False)) and not self.is_count
        self.merging = bool(getattr(self.assigner, "is_merging", False))
        self.reduce = _method(s.fn, "reduce") if s.kind == "reduce" else None
        self.add: Callable[[Any, Any], Any] = self._adder()

    # contents
    def _adder(self) -> Callable[[Any, Any], Any]:
        """`add(contents or _MISSING, value) -> contents`, chosen once for the window's function."""
        kind = self.spec.kind
        if self.is_count or kind in ("process", "apply"):
            def append(contents: Any, value: Any) -> Any:
                if contents is _MISSING:
                    return [value]
                contents.append(value)
                return contents
            return append
        if kind == "reduce":
            reduce = self.reduce
            assert reduce is not None
            return lambda contents, value: value if contents is _MISSING else reduce(contents, value)
        agg = self.spec.fn
        return lambda contents, value: agg.add(value, agg.create_accumulator() if contents is _MISSING else contents)

    def _merge(self, a: Any, b: Any) -> Any:
        kind = self.spec.kind
        if kind in ("process", "apply"):
            return a + b
        if kind == "reduce":
            assert self.reduce is not None
            return self.reduce(a, b)
        return self.spec.fn.merge(a, b)

    def _results(self, key: Any, window: Any, contents: Any) -> list[Any]:
        s = self.spec
        if self.is_count and s.kind in ("reduce", "aggregate"):
            folded = _MISSING
            for v in contents:
                folded = (self.add if s.kind == "aggregate" else self._fold)(folded, v)
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
        if s.kind == "process" or (s.kind != "apply" and hasattr(fn, "process")):
            ctx = WindowContext(window, self.watermark, now_ms())
            call = _method(fn, "process")
            produced = call(key, ctx, elements) if s.keyed else call(ctx, elements)
        else:
            call = _method(fn, "apply")
            produced = call(key, window, elements) if s.keyed else call(window, elements)
        return list(produced) if produced is not None else []

    def _fold(self, folded: Any, value: Any) -> Any:
        assert self.reduce is not None
        return value if folded is _MISSING else self.reduce(folded, value)

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
        if self.event_time:
            raise RuntimeError(NO_TIMESTAMP)
        out: list[Any] = []
        if self.is_count:
            for value in batch:
                self._count_element(value, out)
        elif self.merging:
            now = now_ms()
            for value in batch:
                self._session_element(value, now, out)
        else:
            self._panes_at(self.assigner.assign_windows(None, now_ms()), batch)
        return out

    def process_ts(self, batch: list[Any]) -> list[Any]:
        if not self.event_time:
            return self.process([v for _, v in batch])
        out: list[Any] = []
        for ts, value in batch:
            if ts == LONG_MIN:
                raise RuntimeError(NO_TIMESTAMP)
            if self.merging:
                self._session_element(value, ts, out)
            else:
                self._pane_element(value, ts, out)
        return out

    def _new_pane(self, window: Any) -> dict[Any, Any]:
        pane: dict[Any, Any] = {}
        self.panes[window] = pane
        self.timers.register(window, window.max_timestamp())
        if self.event_time and self.allowed_lateness:
            self.cleanup.register(window, window.max_timestamp() + self.allowed_lateness)
        return pane

    def _panes_at(self, windows: list[Any], batch: list[Any]) -> None:
        """A batch whose records all fall in `windows` (processing time): the keyed-reduce loop per window."""
        key, add, panes = self.key, self.add, self.panes
        for window in windows:
            pane = panes.get(window)
            if pane is None:
                pane = self._new_pane(window)
            get = pane.get
            for value in batch:
                k = key(value)
                pane[k] = add(get(k, _MISSING), value)

    def _pane_element(self, value: Any, ts: int, out: list[Any]) -> None:
        k = self.key(value)
        for window in self.assigner.assign_windows(value, ts):
            last = window.max_timestamp()
            if last + self.allowed_lateness <= self.watermark:
                self._late(value, ts)
                continue
            pane = self.panes.get(window)
            if pane is None:
                pane = self._new_pane(window)
            pane[k] = self.add(pane.get(k, _MISSING), value)
            if last <= self.watermark:
                # A late record within the allowed lateness fires its window again, as Flink's EventTimeTrigger.
                self._emit(k, window, pane[k], out)

    def _late(self, value: Any, ts: int) -> None:
        if self.late_tag is not None and self.side_outputs is not None:
            self.side_outputs.setdefault(self.late_tag, []).append((ts, value) if self.timestamped else value)
        else:
            self.late_dropped += 1

    def _session_element(self, value: Any, ts: int, out: list[Any]) -> None:
        k = self.key(value)
        per_key = self.sessions.setdefault(k, {})
        for window in self.assigner.assign_windows(value, ts):
            if self.event_time and window.max_timestamp() + self.allowed_lateness <= self.watermark:
                self._late(value, ts)
                continue
            session = self._merge_into(k, per_key, window)
            per_key[session] = self.add(per_key.get(session, _MISSING), value)
            if self.event_time and session.max_timestamp() <= self.watermark:
                self._emit(k, session, per_key[session], out)

    def _merge_into(self, key: Any, per_key: dict[Any, Any], window: Any) -> Any:
        """Merges `window` with every session of the key it touches; returns the resulting session, whose
        timers are registered (the absorbed sessions' deleted; the result may be one of them)."""
        merged = window
        absorbed = [w for w in per_key if w.intersects(window)]
        for w in absorbed:
            merged = merged.cover(w)
        contents = _MISSING
        for w in absorbed:
            part = per_key.pop(w)
            contents = part if contents is _MISSING else self._merge(contents, part)
            self.timers.delete((key, w), w.max_timestamp())
            self.cleanup.delete((key, w), w.max_timestamp() + self.allowed_lateness)
        if contents is not _MISSING:
            per_key[merged] = contents
        self.timers.register((key, merged), merged.max_timestamp())
        if self.event_time and self.allowed_lateness:
            self.cleanup.register((key, merged), merged.max_timestamp() + self.allowed_lateness)
        return merged

    def _count_element(self, value: Any, out: list[Any]) -> None:
        size, slide = self.assigner.size, self.assigner.slide
        k = self.key(value)
        entry = self.counts.get(k)
        if entry is None:
            entry = self.counts[k] = [[], 0]
        elements = entry[0]
        elements.append(value)
        if len(elements) > size:
            del elements[0]  # Flink's CountEvictor keeps the last `size` records
        entry[1] += 1
        if entry[1] >= slide:
            entry[1] = 0
            self.count_fired += 1
            self._emit(k, CountWindow(self.count_fired), list(elements), out)
            if slide == size:
                elements.clear()  # a tumbling count window purges, as Flink's PurgingTrigger

    # time
    def _fire(self, due: list[tuple[int, Any]], out: list[Any]) -> None:
        keep = self.event_time and self.allowed_lateness > 0  # until the cleanup timer
        for _, tkey in due:
            if self.merging:
                key, window = tkey
                per_key = self.sessions.get(key)
                if per_key is None or window not in per_key:
                    continue
                self._emit(key, window, per_key[window], out)
                if not keep:
                    self._drop_session(key, window)
            else:
                pane = self.panes.get(tkey)
                if pane is None:
                    continue
                for key, contents in pane.items():
                    self._emit(key, tkey, contents, out)
                if not keep:
                    del self.panes[tkey]

    def _drop_session(self, key: Any, window: Any) -> None:
        per_key = self.sessions.get(key)
        if per_key is not None:
            per_key.pop(window, None)
            if not per_key:
                del self.sessions[key]

    def on_watermark(self, timestamp: int) -> tuple[list[Any], int | None]:
        self.watermark = timestamp
        out: list[Any] = []
        if self.event_time:
            self._fire(self.timers.pop_due(timestamp), out)
            for _, tkey in self.cleanup.pop_due(timestamp):
                if self.merging:
                    self._drop_session(*tkey)
                else:
                    self.panes.pop(tkey, None)
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
