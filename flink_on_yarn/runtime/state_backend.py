"""Keyed state on the heap: one table per state name, the current key's entry in each, behind one interface.

An operator sets the key of the record it processes (`set_current_key`), and every state object it handed
out reads and writes that key's entry. `snapshot()` / `restore()` turn all tables into bytes and back: what a
checkpoint stores per subtask (checkpoint_snapshot.py).

TTL (`StateTtlConfig`) is honoured on access: an entry remembers when it was last written (or read, for
`OnReadAndWrite`) and counts as absent once `ttl` has passed, in processing time, as Flink's heap backend does.

>>> from flink_on_yarn.runtime.state import ValueStateDescriptor
>>> backend = KeyedStateBackend()
>>> count = backend.get_state(ValueStateDescriptor("count"))
>>> backend.set_current_key("a"); count.update(2)
>>> backend.set_current_key("b"); count.value() is None
True
>>> backend.set_current_key("a"); count.value()
2
"""

from __future__ import annotations

import pickle
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from flink_on_yarn.runtime.state import (
    AggregatingStateDescriptor,
    ListStateDescriptor,
    MapStateDescriptor,
    ReducingStateDescriptor,
    StateDescriptor,
    StateTtlConfig,
    ValueStateDescriptor,
)

_ABSENT = object()


def _wall_clock_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class _Stamped:
    """A value under TTL and the processing time it was last written (or read)."""

    value: Any
    stamp: int


class _Ttl:
    """Wraps and unwraps entries of a state that has TTL; the identity when TTL is off."""

    def __init__(self, config: StateTtlConfig | None, clock: Callable[[], int]) -> None:
        self.on = config is not None and config.is_enabled()
        self.ttl = config.get_ttl().to_milliseconds() if config is not None else 0
        self.refresh_on_read = config is not None and \
            config.get_update_type() == StateTtlConfig.UpdateType.OnReadAndWrite
        self.return_expired = config is not None and \
            config.get_state_visibility() == StateTtlConfig.StateVisibility.ReturnExpiredIfNotCleanedUp
        self.clock = clock

    def wrap(self, value: Any) -> Any:
        return _Stamped(value, self.clock()) if self.on else value

    def unwrap(self, entry: Any) -> Any:
        """The live value of `entry`, or _ABSENT when it has expired (and is not to be returned)."""
        if not self.on or entry is _ABSENT:
            return entry
        assert isinstance(entry, _Stamped)
        now = self.clock()
        if entry.stamp + self.ttl <= now and not self.return_expired:
            return _ABSENT
        if self.refresh_on_read:
            entry.stamp = now
        return entry.value


class State:
    """Base of the state objects: a table of the backend and the TTL of the descriptor."""

    def __init__(self, backend: KeyedStateBackend, descriptor: StateDescriptor) -> None:
        self._backend = backend
        self._table = backend.table(descriptor)
        self._ttl = _Ttl(descriptor.ttl_config, backend.clock)

    def _entry(self) -> Any:
        return self._table.get(self._backend.current_key, _ABSENT)

    def _set(self, entry: Any) -> None:
        self._table[self._backend.current_key] = entry

    def clear(self) -> None:
        self._table.pop(self._backend.current_key, None)


class ValueState(State):
    def value(self) -> Any:
        v = self._ttl.unwrap(self._entry())
        if v is _ABSENT:
            self.clear()
            return None
        return v

    def update(self, value: Any) -> None:
        if value is None:
            self.clear()
        else:
            self._set(self._ttl.wrap(value))


class ListState(State):
    """Each element has its own TTL, as in Flink."""

    def _live(self) -> list[Any]:
        entry = self._entry()
        if entry is _ABSENT:
            return []
        live = [x for x in entry if self._ttl.unwrap(x) is not _ABSENT] if self._ttl.on else entry
        if len(live) != len(entry):
            if live:
                self._set(live)
            else:
                self.clear()
        return live

    def get(self) -> Iterable[Any]:
        live = self._live()
        return [self._ttl.unwrap(x) for x in live] if self._ttl.on else list(live)

    def add(self, value: Any) -> None:
        if value is None:
            raise ValueError("You cannot add null to a ListState.")
        live = self._live()
        live.append(self._ttl.wrap(value))
        self._set(live)

    def add_all(self, values: list[Any]) -> None:
        for v in values:
            self.add(v)

    def update(self, values: list[Any]) -> None:
        self.clear()
        self.add_all(values)


class MapState(State):
    """Each user key has its own TTL, as in Flink."""

    def _map(self, create: bool = False) -> dict[Any, Any]:
        entry = self._entry()
        if entry is _ABSENT:
            entry = {}
            if create:
                self._set(entry)
        return entry  # type: ignore[no-any-return]

    def get(self, key: Any) -> Any:
        m = self._map()
        v = self._ttl.unwrap(m.get(key, _ABSENT))
        if v is _ABSENT:
            m.pop(key, None)
            return None
        return v

    def put(self, key: Any, value: Any) -> None:
        self._map(create=True)[key] = self._ttl.wrap(value)

    def put_all(self, dict_value: dict[Any, Any]) -> None:
        for k, v in dict_value.items():
            self.put(k, v)

    def remove(self, key: Any) -> None:
        self._map().pop(key, None)

    def contains(self, key: Any) -> bool:
        return self.get(key) is not None

    def items(self) -> Iterator[tuple[Any, Any]]:
        m = self._map()
        for k in list(m):
            v = self._ttl.unwrap(m[k])
            if v is _ABSENT:
                del m[k]
            else:
                yield k, v

    def keys(self) -> Iterator[Any]:
        return (k for k, _ in self.items())

    def values(self) -> Iterator[Any]:
        return (v for _, v in self.items())

    def is_empty(self) -> bool:
        return next(self.items(), None) is None

    def __getitem__(self, key: Any) -> Any:
        return self.get(key)

    def __setitem__(self, key: Any, value: Any) -> None:
        self.put(key, value)

    def __delitem__(self, key: Any) -> None:
        self.remove(key)

    def __contains__(self, key: Any) -> bool:
        return self.contains(key)

    def __iter__(self) -> Iterator[Any]:
        return self.keys()


def _call(fn: Any, name: str) -> Callable[..., Any]:
    method = getattr(fn, name, None)
    return method if callable(method) else fn  # type: ignore[no-any-return]


class ReducingState(ValueState):
    def __init__(self, backend: KeyedStateBackend, descriptor: ReducingStateDescriptor) -> None:
        super().__init__(backend, descriptor)
        self._reduce = _call(descriptor.reduce_function, "reduce")

    def get(self) -> Any:
        return self.value()

    def add(self, value: Any) -> None:
        current = self.value()
        self.update(value if current is None else self._reduce(current, value))


class AggregatingState(ValueState):
    """Keeps the accumulator; `get()` is the AggregateFunction's result of it."""

    def __init__(self, backend: KeyedStateBackend, descriptor: AggregatingStateDescriptor) -> None:
        super().__init__(backend, descriptor)
        self._agg = descriptor.agg_function

    def get(self) -> Any:
        acc = self.value()
        return None if acc is None else self._agg.get_result(acc)

    def add(self, value: Any) -> None:
        acc = self.value()
        if acc is None:
            acc = self._agg.create_accumulator()
        self.update(self._agg.add(value, acc))


_KINDS: dict[type[StateDescriptor], Callable[[KeyedStateBackend, Any], State]] = {
    ValueStateDescriptor: ValueState,
    ListStateDescriptor: ListState,
    MapStateDescriptor: MapState,
    ReducingStateDescriptor: ReducingState,
    AggregatingStateDescriptor: AggregatingState,
}


class KeyedStateBackend:
    """All keyed state of one operator in one subtask."""

    def __init__(self, clock: Callable[[], int] = _wall_clock_ms) -> None:
        self.tables: dict[str, dict[Any, Any]] = {}
        self.kinds: dict[str, str] = {}
        self.current_key: Any = None
        self.clock = clock

    def set_current_key(self, key: Any) -> None:
        self.current_key = key

    def get_current_key(self) -> Any:
        return self.current_key

    def table(self, descriptor: StateDescriptor) -> dict[Any, Any]:
        known = self.kinds.setdefault(descriptor.name, descriptor.kind)
        if known != descriptor.kind:
            raise ValueError(f"state {descriptor.name!r} is a {known} state; it cannot be used as a "
                             f"{descriptor.kind} state")
        return self.tables.setdefault(descriptor.name, {})

    def get_state(self, descriptor: StateDescriptor) -> Any:
        factory = _KINDS.get(type(descriptor))
        if factory is None:
            raise TypeError(f"{type(descriptor).__name__} is not a state descriptor this backend knows")
        return factory(self, descriptor)

    def keys(self, name: str) -> list[Any]:
        return list(self.tables.get(name, {}))

    def snapshot(self) -> bytes:
        """Every table as bytes: a consistent copy, later writes do not change it."""
        return pickle.dumps({"kinds": self.kinds, "tables": self.tables}, protocol=5)

    def restore(self, data: bytes) -> None:
        """Replaces every table's content in place, so state objects handed out before stay valid."""
        loaded = pickle.loads(data)
        self.kinds.update(loaded["kinds"])
        for table in self.tables.values():
            table.clear()
        for name, table in loaded["tables"].items():
            self.tables.setdefault(name, {}).update(table)
