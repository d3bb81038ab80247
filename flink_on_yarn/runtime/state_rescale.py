"""Rescaling keyed state as Flink does with key groups: a subtask restored at a new parallelism takes, from
every old subtask's snapshot of its operator, the keyed state and timers of the keys whose key group
(`hash(key) % max_parallelism`) now maps to it (`group * parallelism // max_parallelism`, as the hash edges
route records: graph/partitioning.py).

An operator names how its entries carry their key (`table_scope`, `timer_scope`, graph/operators.py):
KEY, the entry's key is the key; SCOPED, a (key, namespace) pair (a trigger's state, a session's timer);
PANES, a table namespace -> {key: value} (tumbling and sliding windows' panes), whose timers are keyed by
the namespace (NAMESPACE + the table's name) and go wherever a part of that pane goes.

>>> import pickle
>>> from flink_on_yarn.runtime.state_backend import KeyedStateBackend
>>> def snap(counts):
...     b = KeyedStateBackend(); b.tables["count"] = dict(counts); b.kinds["count"] = "value"
...     return {"type": "Op", "keyed": {"backend": b.snapshot()}, "timers": {}, "operator": None}
>>> old = [snap({k: k for k in range(200) if owner(k, 2) == s}) for s in range(2)]
>>> new = [rescale_operator(None, old, s, 3) for s in range(3)]
>>> parts = [pickle.loads(n["keyed"]["backend"])["tables"]["count"] for n in new]
>>> sorted(k for p in parts for k in p) == list(range(200))
True
>>> all(owner(k, 3) == s for s, p in enumerate(parts) for k in p)
True
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any

from flink_on_yarn.graph.partitioning import DEFAULT_MAX_PARALLELISM, subtask_for_key

KEY = "key"
SCOPED = "scoped"
PANES = "panes"
NAMESPACE = "namespace:"  # + the PANES table whose namespaces a timer queue's entries are

HASH_SEED_HINT = ("the job that took the checkpoint/savepoint hashed keys differently (its task processes ran "
                  "with another PYTHONHASHSEED)")


class RescaleError(RuntimeError):
    """State that cannot be split by key group, or that is not where its key groups say it should be."""


def owner(key: Any, parallelism: int, max_parallelism: int = DEFAULT_MAX_PARALLELISM) -> int:
    """The subtask of `key`'s key group at `parallelism`: where the hash edges route its records."""
    return subtask_for_key(key, parallelism, max_parallelism)


def _scope(op: Any, method: str, name: str) -> str:
    fn = getattr(op, method, None)
    return str(fn(name)) if callable(fn) else KEY


def _key_of(scope: str) -> Callable[[Any], Any]:
    return (lambda entry: entry[0]) if scope == SCOPED else (lambda entry: entry)


class _Split:
    """The keys of one new subtask, checking as it goes that each old entry sat in its own key groups."""

    def __init__(self, subtask: int, parallelism: int, old_parallelism: int, max_parallelism: int) -> None:
        self.subtask, self.parallelism = subtask, parallelism
        self.old_parallelism, self.max_parallelism = old_parallelism, max_parallelism

    def mine(self, key: Any, old_subtask: int, where: str) -> bool:
        if owner(key, self.old_parallelism, self.max_parallelism) != old_subtask:
            raise RescaleError(f"key {key!r} of {where} was in subtask {old_subtask} of {self.old_parallelism}, "
                               f"which does not own its key group: {HASH_SEED_HINT}")
        return owner(key, self.parallelism, self.max_parallelism) == self.subtask

    def table(self, scope: str, old: dict[Any, Any], merged: dict[Any, Any], old_subtask: int, where: str) -> None:
        if scope == PANES:
            for namespace, pane in old.items():
                part = {k: v for k, v in pane.items() if self.mine(k, old_subtask, where)}
                if part:
                    merged.setdefault(namespace, {}).update(part)
            return
        key_of = _key_of(scope)
        merged.update({entry: v for entry, v in old.items() if self.mine(key_of(entry), old_subtask, where)})

    def timers(self, scope: str, old: list[tuple[int, Any]], tables: dict[str, dict[Any, Any]], old_subtask: int,
               where: str) -> list[tuple[int, Any]]:
        if scope.startswith(NAMESPACE):
            panes = tables.get(scope[len(NAMESPACE):], {})
            return [(ts, ns) for ts, ns in old if ns in panes]
        key_of = _key_of(scope)
        return [(ts, entry) for ts, entry in old if self.mine(key_of(entry), old_subtask, where)]


def rescale_operator(op: Any, states: list[dict[str, Any]], subtask: int, parallelism: int,
                     max_parallelism: int = DEFAULT_MAX_PARALLELISM) -> dict[str, Any]:
    """One operator snapshot (checkpoint_snapshot's form) for `subtask` of `parallelism`, from the snapshots
    of every old subtask of that operator (`states`, in old subtask order). `op` (opened) names the scopes.
    Operator state (`snapshot_state`) splits only when the operator says it is broadcast state (every
    subtask holds the same): new subtask i takes old subtask i % old parallelism's, as Flink does."""
    split = _Split(subtask, parallelism, len(states), max_parallelism)
    name = type(op).__name__ if op is not None else states[0]["type"]
    keyed: dict[str, bytes] = {}
    all_tables: dict[str, dict[Any, Any]] = {}
    for attr in sorted({a for s in states for a in s["keyed"]}):
        kinds: dict[str, str] = {}
        tables: dict[str, dict[Any, Any]] = {}
        for old_subtask, state in enumerate(states):
            if attr not in state["keyed"]:
                continue
            loaded = pickle.loads(state["keyed"][attr])  # inside a file the caller verified
            kinds.update(loaded["kinds"])
            for table, entries in loaded["tables"].items():
                split.table(_scope(op, "table_scope", table), entries, tables.setdefault(table, {}), old_subtask,
                            f"{name}'s state {table!r}")
        keyed[attr] = pickle.dumps({"kinds": kinds, "tables": tables}, protocol=5)
        all_tables.update(tables)
    timers: dict[str, Any] = {}
    for attr in sorted({a for s in states for a in s["timers"]}):
        scope = _scope(op, "timer_scope", attr)
        where = f"{name}'s timers {attr!r}"
        olds = [(i, s["timers"][attr]) for i, s in enumerate(states) if attr in s["timers"]]
        if isinstance(olds[0][1], dict):  # a TimerClock: its two queues, and the watermark none may pass
            timers[attr] = {
                "watermark": min(t["watermark"] for _, t in olds),
                "event": [x for i, t in olds for x in split.timers(scope, t["event"], all_tables, i, where)],
                "processing": [x for i, t in olds for x in split.timers(scope, t["processing"], all_tables, i,
                                                                         where)]}
        else:
            timers[attr] = sorted((x for i, t in olds for x in split.timers(scope, t, all_tables, i, where)),
                                  key=lambda t: t[0])
    return {"type": states[0]["type"], "keyed": keyed, "timers": timers,
            "operator": _operator_state(op, name, states, subtask)}


def _operator_state(op: Any, name: str, states: list[dict[str, Any]], subtask: int) -> Any:
    present = [s["operator"] for s in states if s["operator"] is not None]
    if not present:
        return None
    if getattr(op, "broadcast_state", False):
        return states[subtask % len(states)]["operator"]
    raise RescaleError(f"the operator {name} holds operator state (not keyed) in {len(present)} of its "
                       f"{len(states)} subtasks, which miniflink cannot split at another parallelism")
