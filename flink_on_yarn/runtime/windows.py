"""Windows as values: Flink's TimeWindow ([start, end) in ms), the CountWindow a count window fires as and
the GlobalWindow; and Flink's triggers (when a window fires) and evictors (what it fires with). Pure, below
the API, so operators and assigners share them."""

from __future__ import annotations

from enum import Enum
from typing import Any, NamedTuple, Protocol

from flink_on_yarn.common.watermark_strategy import LONG_MAX, LONG_MIN
from flink_on_yarn.runtime.state import ReducingStateDescriptor


class TimeWindow(NamedTuple):
    """[start, end) in epoch milliseconds; its last timestamp is end - 1. A tuple, so hashing and comparing
    one (a dict lookup per record in a window operator) stays in C."""

    start: int
    end: int

    def max_timestamp(self) -> int:
        return self.end - 1

    def intersects(self, other: TimeWindow) -> bool:
        return self.start <= other.end and self.end >= other.start

    def cover(self, other: TimeWindow) -> TimeWindow:
        return TimeWindow(min(self.start, other.start), max(self.end, other.end))

    def __repr__(self) -> str:
        return f"TimeWindow(start={self.start}, end={self.end})"


class CountWindow:
    """The window of a count window's firing: count windows live in Flink's single GlobalWindow."""

    def __init__(self, id: int) -> None:
        self.id = id

    def max_timestamp(self) -> int:
        return LONG_MAX

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CountWindow) and other.id == self.id

    def __hash__(self) -> int:
        return self.id

    def __repr__(self) -> str:
        return f"CountWindow(id={self.id})"


def window_start(timestamp: int, offset: int, size: int) -> int:
    """Flink's TimeWindow.getWindowStartWithOffset (Python's % is already non-negative for size > 0)."""
    return timestamp - (timestamp - offset) % size


class CountWindowAssigner:
    """`count_window(size[, slide])`: fires every `slide` records (default `size`) with the last `size` records."""

    is_event_time = False
    is_merging = False

    def __init__(self, size: int, slide: int | None = None) -> None:
        if size <= 0 or (slide is not None and slide <= 0):
            raise ValueError("count windows need a size and a slide of at least 1")
        self.size = size
        self.slide = slide or size


class GlobalWindow:
    """The one window of `GlobalWindows`: every record of a key, until a trigger fires and purges it."""

    _instance: GlobalWindow | None = None

    @staticmethod
    def get() -> GlobalWindow:
        if GlobalWindow._instance is None:
            GlobalWindow._instance = GlobalWindow()
        return GlobalWindow._instance

    def max_timestamp(self) -> int:
        return LONG_MAX

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GlobalWindow)

    def __hash__(self) -> int:
        return 0

    def __reduce__(self) -> str | tuple[Any, ...]:
        return (GlobalWindow.get, ())

    def __repr__(self) -> str:
        return "GlobalWindow"


class TriggerResult(Enum):
    """What a trigger decides for a window: fire its function, purge its contents, both or neither."""

    CONTINUE = (False, False)
    FIRE_AND_PURGE = (True, True)
    FIRE = (True, False)
    PURGE = (False, True)

    def is_fire(self) -> bool:
        return bool(self.value[0])

    def is_purge(self) -> bool:
        return bool(self.value[1])


class TriggerContext(Protocol):
    """What a trigger may do, scoped to the key and window it is called for (Flink's Trigger.TriggerContext)."""

    def get_current_processing_time(self) -> int: ...
    def get_current_watermark(self) -> int: ...
    def register_processing_time_timer(self, time: int) -> None: ...
    def register_event_time_timer(self, time: int) -> None: ...
    def delete_processing_time_timer(self, time: int) -> None: ...
    def delete_event_time_timer(self, time: int) -> None: ...
    def get_partitioned_state(self, state_descriptor: Any) -> Any: ...


class Trigger:
    """When a window fires (PyFlink's `Trigger`): subclass it with `on_element`, `on_event_time`,
    `on_processing_time` and `clear`; the timers and state it uses through `ctx` are the window's."""

    def on_element(self, element: Any, timestamp: int, window: Any, ctx: TriggerContext) -> TriggerResult:
        raise NotImplementedError

    def on_processing_time(self, time: int, window: Any, ctx: TriggerContext) -> TriggerResult:
        raise NotImplementedError

    def on_event_time(self, time: int, window: Any, ctx: TriggerContext) -> TriggerResult:
        raise NotImplementedError

    def can_merge(self) -> bool:
        return False

    def on_merge(self, window: Any, ctx: TriggerContext) -> None:
        raise RuntimeError("This trigger does not support merging.")

    def clear(self, window: Any, ctx: TriggerContext) -> None:
        pass


class _EventTimeDomain(Trigger):
    """An event-time trigger: processing time never fires it, and its timers are event-time ones."""

    def on_processing_time(self, time: int, window: Any, ctx: TriggerContext) -> TriggerResult:
        return TriggerResult.CONTINUE

    def _delete_timer(self, ctx: TriggerContext, time: int) -> None:
        ctx.delete_event_time_timer(time)


class _ProcessingTimeDomain(Trigger):
    """A processing-time trigger: event time (watermarks) never fires it, and its timers are processing-time
    ones."""

    def on_event_time(self, time: int, window: Any, ctx: TriggerContext) -> TriggerResult:
        return TriggerResult.CONTINUE

    def _delete_timer(self, ctx: TriggerContext, time: int) -> None:
        ctx.delete_processing_time_timer(time)


class _WindowEndTrigger(Trigger):
    """What the event- and processing-time triggers share: one timer at the window's end, in their time
    domain, which merging windows can keep (Flink's canMerge) and `clear` deletes."""

    def _delete_timer(self, ctx: TriggerContext, time: int) -> None:
        raise NotImplementedError

    def can_merge(self) -> bool:
        return True

    def clear(self, window: Any, ctx: TriggerContext) -> None:
        self._delete_timer(ctx, window.max_timestamp())

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class EventTimeTrigger(_EventTimeDomain, _WindowEndTrigger):
    """Fires once the watermark passes the window's end (the default of event-time windows)."""

    @staticmethod
    def create() -> EventTimeTrigger:
        return EventTimeTrigger()

    def on_element(self, element: Any, timestamp: int, window: Any, ctx: TriggerContext) -> TriggerResult:
        if window.max_timestamp() <= ctx.get_current_watermark():
            return TriggerResult.FIRE  # a late record within the allowed lateness fires at once
        ctx.register_event_time_timer(window.max_timestamp())
        return TriggerResult.CONTINUE

    def on_event_time(self, time: int, window: Any, ctx: TriggerContext) -> TriggerResult:
        return TriggerResult.FIRE if time == window.max_timestamp() else TriggerResult.CONTINUE


class ProcessingTimeTrigger(_ProcessingTimeDomain, _WindowEndTrigger):
    """Fires when processing time passes the window's end (the default of processing-time windows)."""

    @staticmethod
    def create() -> ProcessingTimeTrigger:
        return ProcessingTimeTrigger()

    def on_element(self, element: Any, timestamp: int, window: Any, ctx: TriggerContext) -> TriggerResult:
        ctx.register_processing_time_timer(window.max_timestamp())
        return TriggerResult.CONTINUE

    def on_processing_time(self, time: int, window: Any, ctx: TriggerContext) -> TriggerResult:
        return TriggerResult.FIRE


class NeverTrigger(Trigger):
    """GlobalWindows' default: never fires (set a trigger that does)."""

    def on_element(self, element: Any, timestamp: int, window: Any, ctx: TriggerContext) -> TriggerResult:
        return TriggerResult.CONTINUE

    def on_event_time(self, time: int, window: Any, ctx: TriggerContext) -> TriggerResult:
        return TriggerResult.CONTINUE

    def on_processing_time(self, time: int, window: Any, ctx: TriggerContext) -> TriggerResult:
        return TriggerResult.CONTINUE


def _sum(a: int, b: int) -> int:
    return a + b


def _min(a: int, b: int) -> int:
    return min(a, b)


class CountTrigger(Trigger):
    """Fires every `count` records of a window (the count lives in the window's partitioned state)."""

    def __init__(self, count: int) -> None:
        if count <= 0:
            raise ValueError("count must be at least 1")
        self.count = count
        self.state = ReducingStateDescriptor("count", _sum)

    @staticmethod
    def of(count: int) -> CountTrigger:
        return CountTrigger(count)

    def on_element(self, element: Any, timestamp: int, window: Any, ctx: TriggerContext) -> TriggerResult:
        seen = ctx.get_partitioned_state(self.state)
        seen.add(1)
        if seen.get() >= self.count:
            seen.clear()
            return TriggerResult.FIRE
        return TriggerResult.CONTINUE

    def on_event_time(self, time: int, window: Any, ctx: TriggerContext) -> TriggerResult:
        return TriggerResult.CONTINUE

    def on_processing_time(self, time: int, window: Any, ctx: TriggerContext) -> TriggerResult:
        return TriggerResult.CONTINUE

    def clear(self, window: Any, ctx: TriggerContext) -> None:
        ctx.get_partitioned_state(self.state).clear()

    def __repr__(self) -> str:
        return f"CountTrigger({self.count})"


class PurgingTrigger(Trigger):
    """Another trigger whose every FIRE becomes FIRE_AND_PURGE."""

    def __init__(self, nested: Trigger) -> None:
        self.nested = nested

    @staticmethod
    def of(nested_trigger: Trigger) -> PurgingTrigger:
        return PurgingTrigger(nested_trigger)

    @staticmethod
    def _purging(result: TriggerResult) -> TriggerResult:
        return TriggerResult.FIRE_AND_PURGE if result.is_fire() else result

    def on_element(self, element: Any, timestamp: int, window: Any, ctx: TriggerContext) -> TriggerResult:
        return self._purging(self.nested.on_element(element, timestamp, window, ctx))

    def on_event_time(self, time: int, window: Any, ctx: TriggerContext) -> TriggerResult:
        return self._purging(self.nested.on_event_time(time, window, ctx))

    def on_processing_time(self, time: int, window: Any, ctx: TriggerContext) -> TriggerResult:
        return self._purging(self.nested.on_processing_time(time, window, ctx))

    def can_merge(self) -> bool:
        return self.nested.can_merge()

    def clear(self, window: Any, ctx: TriggerContext) -> None:
        self.nested.clear(window, ctx)

    def __repr__(self) -> str:
        return f"PurgingTrigger({self.nested!r})"


def _interval_ms(interval: Any) -> int:
    ms = int(interval.to_milliseconds() if hasattr(interval, "to_milliseconds") else interval)
    if ms <= 0:
        raise ValueError("the interval must be positive")
    return ms


class _ContinuousTrigger(Trigger):
    """What the two continuous triggers share: the interval, and the next firing time (one timer in their
    time domain) kept in the window's state."""

    def __init__(self, interval: Any) -> None:
        self.interval = _interval_ms(interval)
        self.state = ReducingStateDescriptor("fire-time", _min)

    def _delete_timer(self, ctx: TriggerContext, time: int) -> None:
        raise NotImplementedError

    def clear(self, window: Any, ctx: TriggerContext) -> None:
        fire_at = ctx.get_partitioned_state(self.state)
        if fire_at.get() is not None:
            self._delete_timer(ctx, fire_at.get())
            fire_at.clear()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.interval})"


class ContinuousEventTimeTrigger(_EventTimeDomain, _ContinuousTrigger):
    """Fires every `interval` of event time within the window, and once more at its end (Flink's: the next
    firing time is kept in the window's state, the minimum of those registered)."""


    @staticmethod
    def of(interval: Any) -> ContinuousEventTimeTrigger:
        return ContinuousEventTimeTrigger(interval)

    def _next(self, time: int, window: Any, ctx: TriggerContext) -> None:
        fire_at = min(time, window.max_timestamp())
        ctx.get_partitioned_state(self.state).add(fire_at)
        ctx.register_event_time_timer(fire_at)

    def on_element(self, element: Any, timestamp: int, window: Any, ctx: TriggerContext) -> TriggerResult:
        if window.max_timestamp() <= ctx.get_current_watermark():
            return TriggerResult.FIRE
        ctx.register_event_time_timer(window.max_timestamp())
        if ctx.get_partitioned_state(self.state).get() is None:
            self._next(timestamp - timestamp % self.interval + self.interval, window, ctx)
        return TriggerResult.CONTINUE

    def on_event_time(self, time: int, window: Any, ctx: TriggerContext) -> TriggerResult:
        if time == window.max_timestamp():
            return TriggerResult.FIRE
        fire_at = ctx.get_partitioned_state(self.state)
        if fire_at.get() == time:
            fire_at.clear()
            self._next(time + self.interval, window, ctx)
            return TriggerResult.FIRE
        return TriggerResult.CONTINUE


class ContinuousProcessingTimeTrigger(_ProcessingTimeDomain, _ContinuousTrigger):
    """Fires every `interval` of processing time within the window, and at its end."""

    @staticmethod
    def of(interval: Any) -> ContinuousProcessingTimeTrigger:
        return ContinuousProcessingTimeTrigger(interval)

    def on_element(self, element: Any, timestamp: int, window: Any, ctx: TriggerContext) -> TriggerResult:
        fire_at = ctx.get_partitioned_state(self.state)
        if fire_at.get() is None:
            now = ctx.get_current_processing_time()
            first = min(now - now % self.interval + self.interval, window.max_timestamp())
            fire_at.add(first)
            ctx.register_processing_time_timer(first)
        return TriggerResult.CONTINUE

    def on_processing_time(self, time: int, window: Any, ctx: TriggerContext) -> TriggerResult:
        fire_at = ctx.get_partitioned_state(self.state)
        if fire_at.get() == time:
            fire_at.clear()
            following = min(time + self.interval, window.max_timestamp())
            if following > time:
                fire_at.add(following)
                ctx.register_processing_time_timer(following)
            return TriggerResult.FIRE
        return TriggerResult.CONTINUE


class Evictor:
    """Removes records from a window before and/or after its function runs (Flink's Evictor); `elements` is the
    window's `[(timestamp, value), ...]`, changed in place."""

    def evict_before(self, elements: list[tuple[int, Any]], size: int, window: Any) -> None:
        pass

    def evict_after(self, elements: list[tuple[int, Any]], size: int, window: Any) -> None:
        pass


class _BeforeOrAfterEvictor(Evictor):
    """What CountEvictor and TimeEvictor share: one eviction, before the window function or (with
    `do_evict_after`) after it."""

    do_evict_after = False

    def _evict(self, elements: list[tuple[int, Any]]) -> None:
        raise NotImplementedError

    def evict_before(self, elements: list[tuple[int, Any]], size: int, window: Any) -> None:
        if not self.do_evict_after:
            self._evict(elements)

    def evict_after(self, elements: list[tuple[int, Any]], size: int, window: Any) -> None:
        if self.do_evict_after:
            self._evict(elements)


class CountEvictor(_BeforeOrAfterEvictor):
    """Keeps the last `max_count` records of a window."""

    def __init__(self, max_count: int, do_evict_after: bool = False) -> None:
        if max_count <= 0:
            raise ValueError("max_count must be at least 1")
        self.max_count = max_count
        self.do_evict_after = do_evict_after

    @staticmethod
    def of(max_count: int, do_evict_after: bool = False) -> CountEvictor:
        return CountEvictor(max_count, do_evict_after)

    def _evict(self, elements: list[tuple[int, Any]]) -> None:
        if len(elements) > self.max_count:
            del elements[:len(elements) - self.max_count]


class TimeEvictor(_BeforeOrAfterEvictor):
    """Keeps the records within `window_size` of the window's latest timestamp (none without timestamps)."""

    def __init__(self, window_size: Any, do_evict_after: bool = False) -> None:
        self.window_size = _interval_ms(window_size)
        self.do_evict_after = do_evict_after

    @staticmethod
    def of(window_size: Any, do_evict_after: bool = False) -> TimeEvictor:
        return TimeEvictor(window_size, do_evict_after)

    def _evict(self, elements: list[tuple[int, Any]]) -> None:
        if not elements or elements[0][0] == LONG_MIN:
            return  # Flink's hasTimestamp: a processing-time stream keeps everything
        cutoff = max(t for t, _ in elements) - self.window_size
        elements[:] = [e for e in elements if e[0] > cutoff]
