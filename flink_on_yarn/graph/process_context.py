"""The contexts user functions get (PyFlink's `ProcessFunction.Context`, `KeyedProcessFunction.OnTimerContext`,
`ProcessWindowFunction.Context`) and the `TimerService`. Kept below the DataStream API, so operators make
them without importing the API; the API's classes alias them."""

from __future__ import annotations

import time
from enum import Enum
from typing import Any

from flink_on_yarn.common.watermark_strategy import LONG_MIN
from flink_on_yarn.runtime.timers import TimerQueue


def now_ms() -> int:
    return int(time.time() * 1000)


class UnsupportedOperationException(RuntimeError):
    """Java's name for what Flink refuses to do (timers off a keyed stream)."""


class TimeDomain(Enum):
    EVENT_TIME = 0
    PROCESSING_TIME = 1


class TimerClock:
    """What a TimerService reads and writes: the operator's watermark, its timer queues and current key."""

    def __init__(self) -> None:
        self.watermark = LONG_MIN
        self.event_timers = TimerQueue()
        self.processing_timers = TimerQueue()
        self.current_key: Any = None


class TimerService:
    """Time as the function sees it; timers need a keyed stream (`clock`), as in Flink."""

    def __init__(self, clock: TimerClock | None = None) -> None:
        self._clock = clock

    def current_processing_time(self) -> int:
        return now_ms()

    def current_watermark(self) -> int:
        return self._clock.watermark if self._clock is not None else LONG_MIN

    def _keyed(self) -> TimerClock:
        if self._clock is None:
            raise UnsupportedOperationException("Setting timers is only supported on a keyed streams.")
        return self._clock

    def register_event_time_timer(self, timestamp: int) -> None:
        c = self._keyed()
        c.event_timers.register(c.current_key, int(timestamp))

    def register_processing_time_timer(self, timestamp: int) -> None:
        c = self._keyed()
        c.processing_timers.register(c.current_key, int(timestamp))

    def delete_event_time_timer(self, timestamp: int) -> None:
        c = self._keyed()
        c.event_timers.delete(c.current_key, int(timestamp))

    def delete_processing_time_timer(self, timestamp: int) -> None:
        c = self._keyed()
        c.processing_timers.delete(c.current_key, int(timestamp))


class ProcessContext:
    def __init__(self, timer_service: TimerService) -> None:
        self._timer_service = timer_service
        self.record_timestamp: int | None = None

    def timestamp(self) -> int | None:
        """The record's event timestamp (the timer's, in `on_timer`); None for a record without one."""
        return self.record_timestamp

    def timer_service(self) -> TimerService:
        return self._timer_service


class KeyedProcessContext(ProcessContext):
    def __init__(self, timer_service: TimerService) -> None:
        super().__init__(timer_service)
        self.current_key: Any = None
        self.domain: TimeDomain | None = None

    def get_current_key(self) -> Any:
        return self.current_key

    def time_domain(self) -> TimeDomain | None:
        """In `on_timer`: which kind of timer fired."""
        return self.domain


class WindowContext:
    """`ProcessWindowFunction.Context`: the window being fired and the time it fires at."""

    def __init__(self, window: Any, watermark: int, processing_time: int) -> None:
        self._window = window
        self._watermark = watermark
        self._processing_time = processing_time

    def window(self) -> Any:
        return self._window

    def current_watermark(self) -> int:
        return self._watermark

    def current_processing_time(self) -> int:
        return self._processing_time


class ReadOnlyBroadcastState:
    """The broadcast state as the non-broadcast side sees it (Flink's ReadOnlyBroadcastState): every subtask
    holds the same map, which only the broadcast side may change."""

    def __init__(self, table: dict[Any, Any]) -> None:
        self._table = table

    def get(self, key: Any) -> Any:
        return self._table.get(key)

    def contains(self, key: Any) -> bool:
        return key in self._table

    def items(self) -> Any:
        return self._table.items()

    def keys(self) -> Any:
        return self._table.keys()

    def values(self) -> Any:
        return self._table.values()

    def is_empty(self) -> bool:
        return not self._table

    def __iter__(self) -> Any:
        return iter(self._table)


class BroadcastState(ReadOnlyBroadcastState):
    """The broadcast side's read-write view (`process_broadcast_element`)."""

    def put(self, key: Any, value: Any) -> None:
        self._table[key] = value

    def put_all(self, dict_value: dict[Any, Any]) -> None:
        self._table.update(dict_value)

    def remove(self, key: Any) -> None:
        self._table.pop(key, None)

    def clear(self) -> None:
        self._table.clear()


# Flink's words for a broadcast state descriptor that was not passed to `broadcast()`.
NO_SUCH_BROADCAST_STATE = "The requested state does not exist. Check for typos in your state descriptor name."


class BroadcastProcessContext(KeyedProcessContext):
    """`(Keyed)BroadcastProcessFunction.Context` and `ReadOnlyContext`: the contexts of the two sides, told
    apart by `writable` (True while `process_broadcast_element` runs)."""

    def __init__(self, timer_service: TimerService, states: dict[str, dict[Any, Any]]) -> None:
        super().__init__(timer_service)
        self._states = states
        self.writable = False

    def get_broadcast_state(self, state_descriptor: Any) -> Any:
        """A BroadcastState on the broadcast side, a ReadOnlyBroadcastState on the other."""
        table = self._states.get(getattr(state_descriptor, "name", state_descriptor))
        if table is None:
            raise ValueError(NO_SUCH_BROADCAST_STATE)
        return BroadcastState(table) if self.writable else ReadOnlyBroadcastState(table)

    def current_processing_time(self) -> int:
        return now_ms()

    def current_watermark(self) -> int:
        return self.timer_service().current_watermark()
