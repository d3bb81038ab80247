"""What a subtask puts in a checkpoint, and how it gets it back: for each operator of its chain the keyed
state (every KeyedStateBackend it holds), its timers (every TimerQueue, and a TimerClock's watermark) and its
own `snapshot_state` bytes; and the source's position.

Taking the snapshot is synchronous and cheap to hand off: `pickle.dumps` makes the consistent copy at the
barrier; sealing and writing it to the checkpoint directory happen on a writer thread.

>>> from flink_on_yarn.runtime.state import ValueStateDescriptor
>>> from flink_on_yarn.runtime.state_backend import KeyedStateBackend
from flink_on_yarn.runtime.task_deployment import RestorePlan
>>> class Op:
...     def __init__(self): self.backend = KeyedStateBackend()
...     def snapshot_state(self, n): return None
...     def restore_state(self, data): pass
>>> a, b = Op(), Op()
>>> a.backend.table(ValueStateDescriptor("count"))["k"] = 3
>>> restore_chain([b], None, snapshot_chain([a], None, 1))
>>> b.backend.table(ValueStateDescriptor("count"))
{'k': 3}
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any

from flink_on_yarn.graph.process_context import TimerClock
from flink_on_yarn.graph.sources import Source
from flink_on_yarn.runtime.state_backend import KeyedStateBackend
from flink_on_yarn.runtime.state_rescale import RescaleError, rescale_operator
from flink_on_yarn.runtime.task_deployment import RestorePlan
from flink_on_yarn.runtime.timers import TimerQueue


class RestoreError(RuntimeError):
    """A checkpoint does not fit the job it is restored into (another chain, another operator)."""


def _operator_snapshot(op: Any, checkpoint_id: int) -> dict[str, Any]:
    keyed: dict[str, bytes] = {}
    timers: dict[str, Any] = {}
    for name, value in sorted(vars(op).items()):
        if isinstance(value, KeyedStateBackend):
            keyed[name] = value.snapshot()
        elif isinstance(value, TimerQueue):
            timers[name] = value.snapshot()
        elif isinstance(value, TimerClock):
            timers[name] = {"watermark": value.watermark, "event": value.event_timers.snapshot(),
                            "processing": value.processing_timers.snapshot()}
    return {"type": type(op).__name__, "keyed": keyed, "timers": timers,
            "operator": op.snapshot_state(checkpoint_id)}


def snapshot_chain(operators: list[Any], source: Source | None, checkpoint_id: int) -> bytes:
    """The subtask's state at the barrier of `checkpoint_id`, as bytes (later changes do not alter them)."""
    return pickle.dumps({"operators": [_operator_snapshot(op, checkpoint_id) for op in operators],
                         "source": source.position if source is not None else None}, protocol=5)


def _check_type(op: Any, state: dict[str, Any]) -> None:
    if state["type"] != type(op).__name__:
        raise RestoreError(f"the checkpoint holds the state of a {state['type']} where the job has a "
                           f"{type(op).__name__}: it was taken of another job graph")


def _restore_operator(op: Any, state: dict[str, Any]) -> None:
    _check_type(op, state)
    attrs = vars(op)
    for name, data_ in state["keyed"].items():
        backend = attrs.get(name)
        if isinstance(backend, KeyedStateBackend):
            backend.restore(data_)
    for name, timers in state["timers"].items():
        value = attrs.get(name)
        if isinstance(value, TimerQueue):
            value.restore(timers)
        elif isinstance(value, TimerClock):
            value.watermark = timers["watermark"]
            value.event_timers.restore(timers["event"])
            value.processing_timers.restore(timers["processing"])
    if state["operator"] is not None:
        op.restore_state(state["operator"])


def restore_chain(operators: list[Any], source: Source | None, data: bytes) -> None:
    """Puts a snapshot back: call after every operator's `open`, before the first record. `data` must
    come from an authenticated checkpoint file (checkpoint_storage), never from anywhere else."""
    snap = pickle.loads(data)  # sealed by the cluster secret and verified by the caller
    states = snap["operators"]
    if len(states) != len(operators):
        raise RestoreError(f"the checkpoint holds {len(states)} operators for this task, the job has "
                           f"{len(operators)}: it was taken of another job graph")
    for op, state in zip(operators, states, strict=True):
        _restore_operator(op, state)
    if source is not None and snap["source"] is not None:
        source.restore_position(snap["source"])


def restore_planned(operators: list[Any], source: Source | None, plan: RestorePlan,
                    read: Callable[[str], bytes], subtask: int = 0, parallelism: int = 1) -> None:
    """`restore_chain` for a RestorePlan of `subtask` of `parallelism`; `read` must verify each file
    (CheckpointStorage.read_state). A rescaled operator takes its key groups from every old subtask."""
    snaps = [pickle.loads(read(path)) for path in plan.files]  # each verified by `read` before unpickling
    if len(plan.operators) != len(operators):
        raise RestoreError(f"the restore plan names {len(plan.operators)} operators, the task has {len(operators)}")
    rescaled = plan.rescaled + [[]] * (len(operators) - len(plan.rescaled))
    for op, where, olds in zip(operators, plan.operators, rescaled, strict=True):
        if olds:
            states = [snaps[f]["operators"][i] for f, i in olds]
            for state in states:
                _check_type(op, state)
            try:
                _restore_operator(op, rescale_operator(op, states, subtask, parallelism, plan.max_parallelism))
            except RescaleError as e:
                raise RestoreError(f"cannot rescale {type(op).__name__} from {len(states)} to {parallelism} "
                                   f"subtasks: {e}") from None
        elif where is not None:
            _restore_operator(op, snaps[where[0]]["operators"][where[1]])
    if source is not None and plan.source is not None and snaps[plan.source]["source"] is not None:
        source.restore_position(snaps[plan.source]["source"])
