"""Flink's task (execution) states and their legal transitions, pure.

A subtask attempt goes CREATED → SCHEDULED → DEPLOYING → INITIALIZING → RUNNING → FINISHED, or leaves the
happy path for CANCELING/CANCELED or FAILED.
"""

from __future__ import annotations

from enum import StrEnum


class ExecutionState(StrEnum):
    CREATED = "CREATED"
    SCHEDULED = "SCHEDULED"
    DEPLOYING = "DEPLOYING"
    INITIALIZING = "INITIALIZING"
    RUNNING = "RUNNING"
    FINISHED = "FINISHED"
    CANCELING = "CANCELING"
    CANCELED = "CANCELED"
    FAILED = "FAILED"

    @property
    def is_terminal(self) -> bool:
        return self in (ExecutionState.FINISHED, ExecutionState.CANCELED, ExecutionState.FAILED)


_ORDER = [ExecutionState.CREATED, ExecutionState.SCHEDULED, ExecutionState.DEPLOYING,
          ExecutionState.INITIALIZING, ExecutionState.RUNNING, ExecutionState.FINISHED]


def can_transition(current: ExecutionState, target: ExecutionState) -> bool:
    """Forward along the happy path, or to CANCELING/CANCELED/FAILED from any live state."""
    if current.is_terminal:
        return False
    if target in (ExecutionState.CANCELING, ExecutionState.CANCELED, ExecutionState.FAILED):
        return target != ExecutionState.CANCELING or current != ExecutionState.CANCELING
    if current == ExecutionState.CANCELING:
        return False
    if target in _ORDER and current in _ORDER:
        return _ORDER.index(target) > _ORDER.index(current)
    return False


def merge(current: ExecutionState, reported: ExecutionState) -> ExecutionState:
    """The state after a report; stale or out-of-order reports leave the state as it was. A subtask that fails
    while being cancelled (its input was cancelled first, its TaskManager went away) is CANCELED, as in Flink."""
    if current == ExecutionState.CANCELING and reported == ExecutionState.FAILED:
        return ExecutionState.CANCELED
    return reported if can_transition(current, reported) else current


def aggregate(states: list[ExecutionState]) -> ExecutionState:
    """A vertex's state from its subtasks', as Flink's dashboard shows it (the least advanced live one)."""
    if not states:
        return ExecutionState.CREATED
    for bad in (ExecutionState.FAILED, ExecutionState.CANCELING, ExecutionState.CANCELED):
        if bad in states:
            return bad
    return min(states, key=lambda s: _ORDER.index(s) if s in _ORDER else 0)


def status_counts(states: list[ExecutionState]) -> dict[str, int]:
    counts = {s.value: 0 for s in ExecutionState}
    for s in states:
        counts[s.value] += 1
    return counts
