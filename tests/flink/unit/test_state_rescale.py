"""Rescaling keyed state by key group, on real operators: old subtasks process the keys their key groups own
and are snapshotted; the planned restore puts them into subtasks of another parallelism (2 -> 3, 4 -> 2);
every key lands exactly once, in the subtask that owns its key group now, with every state kind (value with
TTL, list, map, reducing, aggregating), its timers and its window contents (panes, sessions, a custom
trigger's state); and time then fires the same
results the old subtasks would have. A savepoint taken by processes hashing with another PYTHONHASHSEED is
refused, not scattered."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from flink_on_yarn.common import Types
from flink_on_yarn.common.time import Time
from flink_on_yarn.datastream import KeyedProcessFunction
from flink_on_yarn.datastream.functions import AggregateFunction
from flink_on_yarn.datastream.state import (
    AggregatingStateDescriptor,
    ListStateDescriptor,
    MapStateDescriptor,
    ReducingStateDescriptor,
    StateTtlConfig,
    ValueStateDescriptor,
)
from flink_on_yarn.datastream.window import EventTimeSessionWindows, TumblingEventTimeWindows
from flink_on_yarn.graph.operators import KeyedProcessOperator, Operator
from flink_on_yarn.graph.task_context import TaskContext
from flink_on_yarn.graph.trigger_window_operator import TriggerWindowOperator
from flink_on_yarn.graph.window_operator import WindowFunctionSpec, WindowOperator
from flink_on_yarn.runtime.checkpoint_snapshot import RestoreError, restore_planned, snapshot_chain
from flink_on_yarn.runtime.state_rescale import owner
from flink_on_yarn.runtime.task_deployment import RestorePlan
from flink_on_yarn.runtime.taskmanager import TASK_HASH_SEED
from flink_on_yarn.runtime.windows import CountTrigger

ROOT = Path(__file__).resolve().parents[3]
KEYS: list[Any] = [f"k{i}" for i in range(60)] + list(range(20)) + [("t", i) for i in range(10)]


class Mean(AggregateFunction):  # type: ignore[misc]
    def create_accumulator(self) -> Any:
        return (0, 0)

    def add(self, value: Any, accumulator: Any) -> Any:
        return (accumulator[0] + value, accumulator[1] + 1)

    def get_result(self, accumulator: Any) -> Any:
        return accumulator[0] / accumulator[1]

    def merge(self, a: Any, b: Any) -> Any:
        return (a[0] + b[0], a[1] + b[1])


class AllKinds(KeyedProcessFunction):  # type: ignore[misc]
    """Every keyed state kind, a TTL on the count, an event-time timer per record; the timer reports all."""

    def open(self, runtime_context: Any) -> None:
        count = ValueStateDescriptor("count", Types.LONG())
        count.enable_time_to_live(StateTtlConfig.new_builder(Time.hours(1)).build())
        self.count = runtime_context.get_state(count)
        self.seen = runtime_context.get_list_state(ListStateDescriptor("seen", Types.LONG()))
        self.by = runtime_context.get_map_state(MapStateDescriptor("by", Types.STRING(), Types.LONG()))
        self.total = runtime_context.get_reducing_state(
            ReducingStateDescriptor("total", lambda a, b: a + b, Types.LONG()))
        self.mean = runtime_context.get_aggregating_state(AggregatingStateDescriptor("mean", Mean(), Types.LONG()))

    def process_element(self, value: Any, ctx: Any) -> Any:
        n = (self.count.value() or 0) + 1
        self.count.update(n)
        self.seen.add(value[1])
        self.by.put(f"n{n}", value[1])
        self.total.add(value[1])
        self.mean.add(value[1])
        ctx.timer_service().register_event_time_timer(1000 + value[1])
        return None

    def on_timer(self, timestamp: int, ctx: Any) -> Iterable[Any]:
        yield repr((ctx.get_current_key(), timestamp, self.count.value(), sorted(self.seen.get()),
                    sorted(self.by.items()), self.total.get(), self.mean.get()))


def key_of(record: Any) -> Any:
    return record[0]


def records() -> list[Any]:
    return [(k, i * 7 % 5 + j) for i, k in enumerate(KEYS) for j in range(i % 3 + 1)]


def rescale(make: Callable[[int, int], Operator], feed: Callable[[Operator, list[Any]], None], old_p: int,
            new_p: int) -> tuple[list[Any], list[Any]]:
    """`old_p` operators fed the records their key groups own, snapshotted, and `new_p` restored from all."""
    olds = [make(s, old_p) for s in range(old_p)]
    for s, op in enumerate(olds):
        feed(op, [r for r in records() if owner(r[0], old_p) == s])
    files = {f"f{s}": snapshot_chain([op], None, 1) for s, op in enumerate(olds)}
    plan = RestorePlan(files=list(files), operators=[None], rescaled=[[(s, 0) for s in range(old_p)]])
    news = [make(i, new_p) for i in range(new_p)]
    for i, op in enumerate(news):
        restore_planned([op], None, plan, files.__getitem__, subtask=i, parallelism=new_p)
    return olds, news


def keyed_process(subtask: int, parallelism: int) -> Operator:
    op = KeyedProcessOperator(key_of, AllKinds(), "KeyedProcess")
    op.timestamped = True
    op.open(TaskContext("j", "t", subtask, parallelism))
    return op


def feed_stamped(op: Operator, batch: list[Any]) -> None:
    op.process_ts([(r[1], r) for r in batch])


def fired(ops: list[Operator], watermark: int) -> list[Any]:
    return sorted(repr(v) for op in ops for v in op.on_watermark(watermark)[0])


@pytest.mark.parametrize(("old_p", "new_p"), [(2, 3), (4, 2)])
def test_keyed_state_and_timers_go_to_their_key_groups(old_p: int, new_p: int) -> None:
    olds, news = rescale(keyed_process, feed_stamped, old_p, new_p)
    stamps = {k: e.stamp for op in olds for k, e in op.backend.tables["count"].items()}
    placed: list[Any] = []
    for i, op in enumerate(news):
        tables = op.backend.tables
        assert set(tables) == {"count", "seen", "by", "total", "mean"}
        keys = set(tables["count"])
        assert all(owner(k, new_p) == i for k in keys) and keys, (i, keys)
        assert all(set(t) == keys for t in tables.values())  # every kind of state of a key came with it
        assert {k: e.stamp for k, e in tables["count"].items()} == {k: stamps[k] for k in keys}  # TTL kept
        timers = op.clock.event_timers.snapshot()
        assert {k for _, k in timers} == keys
        placed += keys
    assert sorted(map(repr, placed)) == sorted(map(repr, KEYS))  # each key once
    # Time fires every key's timers, with its whole state, exactly as the old subtasks would have.
    expected = fired(olds, 10**6)
    assert fired(news, 10**6) == expected and len(expected) == len(set(records()))


def summing_windows(assigner: Any, subtask: int, parallelism: int) -> Operator:
    op = WindowOperator(key_of, assigner, WindowFunctionSpec("reduce", lambda a, b: (a[0], a[1] + b[1])), "Window")
    op.timestamped = True
    op.open(TaskContext("j", "t", subtask, parallelism))
    return op


def tumbling(subtask: int, parallelism: int) -> Operator:
    return summing_windows(TumblingEventTimeWindows.of(Time.milliseconds(3)), subtask, parallelism)


def sessions(subtask: int, parallelism: int) -> Operator:
    return summing_windows(EventTimeSessionWindows.with_gap(Time.milliseconds(2)), subtask, parallelism)


def triggered(subtask: int, parallelism: int) -> Operator:
    """A custom trigger: contents per key and window, the trigger's count state and timers per (key, window)."""
    op = TriggerWindowOperator(key_of, TumblingEventTimeWindows.of(Time.milliseconds(3)),
                               WindowFunctionSpec("reduce", lambda a, b: (a[0], a[1] + b[1])), "Window",
                               CountTrigger.of(3))
    op.timestamped = True
    op.open(TaskContext("j", "t", subtask, parallelism))
    return op


@pytest.mark.parametrize(("old_p", "new_p"), [(2, 3), (4, 2)])
@pytest.mark.parametrize("make", [tumbling, sessions, triggered], ids=["panes", "sessions", "trigger"])
def test_window_contents_and_their_timers_split_by_key(make: Callable[[int, int], Operator], old_p: int,
                                                       new_p: int) -> None:
    olds, news = rescale(make, feed_stamped, old_p, new_p)
    for i, op in enumerate(news):
        assert isinstance(op, WindowOperator)
        if isinstance(op, TriggerWindowOperator):
            assert op.windows and all(owner(k, new_p) == i for k in op.windows)
            assert {k for _, (k, _w) in op.event_timers.snapshot()} == set(op.windows)
            counts = op.backend.tables["_trigger.count"]
            assert counts and all(owner(k, new_p) == i for k, _w in counts)
        elif op.merging:
            assert op.sessions and all(owner(k, new_p) == i for k in op.sessions)
            assert {k for _, (k, _w) in op.timers.snapshot()} == set(op.sessions)
        else:
            assert op.panes and all(owner(k, new_p) == i for pane in op.panes.values() for k in pane)
            assert {w for _, w in op.timers.snapshot()} == set(op.panes)  # a pane's timer where a part of it is
    assert sorted(repr(k) for op in news for k in _window_keys(op)) == sorted(map(repr, KEYS))
    # One more record of every key, then time: the new subtasks fire what the old ones would have.
    expected = proceed(olds, old_p)
    assert proceed(news, new_p) == expected and expected


def proceed(ops: list[Any], parallelism: int) -> list[str]:
    out: list[Any] = []
    for s, op in enumerate(ops):
        out += op.process_ts([(2, (k, 1)) for k in KEYS if owner(k, parallelism) == s])
        out += op.on_watermark(10**6)[0]
    return sorted(repr(v) for v in out)


def _window_keys(op: Operator) -> set[Any]:
    if isinstance(op, TriggerWindowOperator):
        return set(op.windows)
    assert isinstance(op, WindowOperator)
    return set(op.sessions) if op.merging else {k for pane in op.panes.values() for k in pane}


class Pending(Operator):
    """Operator state, as a sink's pending files: not keyed, not splittable."""

    def snapshot_state(self, checkpoint_id: int) -> bytes | None:
        return b"pending part-0-0"


def test_operator_state_is_refused_not_dropped() -> None:
    files = {f"f{s}": snapshot_chain([Pending()], None, 1) for s in range(2)}
    plan = RestorePlan(files=list(files), operators=[None], rescaled=[[(0, 0), (1, 0)]])
    with pytest.raises(RestoreError, match="cannot rescale Pending from 2 to 3 subtasks: the operator Pending "
                                           "holds operator state"):
        restore_planned([Pending()], None, plan, files.__getitem__, subtask=0, parallelism=3)


# Makes two subtasks' snapshots of a keyed count in this process (its hash seed), as hex on stdout; or,
# given them, restores subtask 0 of 3 and prints how many keys it took.
SEEDED = '''
import json, sys
from flink_on_yarn.graph.task_context import TaskContext
from flink_on_yarn.runtime.checkpoint_snapshot import restore_planned, snapshot_chain
from flink_on_yarn.runtime.state_rescale import owner
from flink_on_yarn.runtime.task_deployment import RestorePlan
from tests.flink.unit.test_state_rescale import keyed_process, feed_stamped, records
if sys.argv[1] == "take":
    ops = [keyed_process(s, 2) for s in range(2)]
    for s, op in enumerate(ops):
        feed_stamped(op, [r for r in records() if owner(r[0], 2) == s])
    print(json.dumps([snapshot_chain([op], None, 1).hex() for op in ops]))
else:
    files = {f"f{s}": bytes.fromhex(h) for s, h in enumerate(json.loads(sys.stdin.read()))}
    op = keyed_process(0, 3)
    plan = RestorePlan(files=list(files), operators=[None], rescaled=[[(0, 0), (1, 0)]])
    restore_planned([op], None, plan, files.__getitem__, subtask=0, parallelism=3)
    print(len(op.backend.tables["count"]))
'''


def _seeded(seed: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", SEEDED, *args], input=stdin, capture_output=True, text=True,
                          timeout=60, cwd=ROOT, env=dict(os.environ, PYTHONHASHSEED=seed))


def test_a_savepoint_hashed_under_another_seed_is_refused() -> None:
    """Task processes hash with TASK_HASH_SEED, a constant: a new job or cluster hashes keys as the old
    one did. Had the seed changed, keys would not be in the subtasks their key groups say; the restore says so."""
    assert TASK_HASH_SEED == "0"
    taken = _seeded("1", "take")
    assert taken.returncode == 0, taken.stderr
    same = _seeded("1", "restore", stdin=taken.stdout)
    assert same.returncode == 0 and int(same.stdout) > 0, same.stderr
    other = _seeded(TASK_HASH_SEED, "restore", stdin=taken.stdout)
    assert other.returncode != 0
    assert "another PYTHONHASHSEED" in other.stderr and "cannot rescale KeyedProcessOperator" in other.stderr, \
        other.stderr
    assert json.loads(taken.stdout) and len(json.loads(taken.stdout)) == 2
