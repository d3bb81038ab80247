"""Flink's asynchronous savepoint operations (savepoint, stop-with-savepoint), pure: a trigger gets a request
id, and polling that id answers the operation's state. A trigger that repeats its `triggerId` gets the same
operation back (Flink's idempotent retries); ids are Flink's 32 hex digits.

An operation follows the savepoint (a Checkpoint of the coordinator) the job master started for it, or holds
the reason none could start. Checkpoint triggers are tracked in rest_checkpoints.py.

>>> ops = Operations()
>>> op, new = ops.trigger(Kind.SAVEPOINT, "j1", "0" * 32)
>>> new, ops.trigger(Kind.SAVEPOINT, "j1", "0" * 32) == (op, False)
(True, True)
>>> op.attach("the job is not running"); op.status, op.failure
('COMPLETED', 'the job is not running')
"""

from __future__ import annotations

import re
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from flink_on_yarn.runtime.checkpoint_coordinator import Checkpoint


class Kind(StrEnum):
    # Stop-with-savepoint is polled at the savepoints path in Flink, so it is a savepoint operation here too.
    SAVEPOINT = "savepoint"
    CHECKPOINT = "checkpoint"


TRIGGER_ID = re.compile(r"[0-9a-f]{32}")
# Enough for any client's polling, small enough that a trigger loop cannot grow the JobManager without bound.
MAX_KEPT = 1000


class BadTriggerId(ValueError):
    pass


@dataclass
class Operation:
    kind: Kind
    job_id: str
    trigger_id: str
    savepoint: Checkpoint | None = None
    reason: str | None = None  # why no savepoint could start (COMPLETED with this failure at once)
    stop: bool = False  # a stop-with-savepoint's

    def attach(self, outcome: Checkpoint | str) -> None:
        """What the job master answered the trigger: the savepoint it started, or why it could not."""
        if isinstance(outcome, str):
            self.reason = outcome
        else:
            self.savepoint = outcome

    @property
    def status(self) -> Literal["IN_PROGRESS", "COMPLETED"]:
        if self.reason is None and (self.savepoint is None or self.savepoint.status == "IN_PROGRESS"):
            return "IN_PROGRESS"
        return "COMPLETED"

    @property
    def failure(self) -> str | None:
        if self.reason is not None:
            return self.reason
        if self.savepoint is not None and self.savepoint.status == "FAILED":
            return f"CheckpointException: {self.savepoint.failure}"
        return None

    @property
    def location(self) -> str | None:
        return self.savepoint.external_path if self.savepoint is not None else None

    def result(self) -> dict[str, Any]:
        """Flink's AsynchronousOperationResult body (for a completed success or one in progress)."""
        operation = {"location": self.location} if self.status == "COMPLETED" else None
        return {"status": {"id": self.status}, "operation": operation}


def trigger_id_of(given: str | None) -> str:
    """The client's own `triggerId` (Flink's TriggerId, 32 hex digits) or a fresh one."""
    if given is None:
        return uuid.uuid4().hex
    if not TRIGGER_ID.fullmatch(given.lower()):
        raise BadTriggerId(f"Invalid triggerId {given!r}: expected 32 hexadecimal digits")
    return given.lower()


class Operations:
    def __init__(self, max_kept: int = MAX_KEPT) -> None:
        self.max_kept = max_kept
        self._ops: OrderedDict[tuple[Kind, str, str], Operation] = OrderedDict()

    def trigger(self, kind: Kind, job_id: str, trigger_id: str | None) -> tuple[Operation, bool]:
        """The operation of this trigger id, and whether it is new (a repeated id gets the first one)."""
        tid = trigger_id_of(trigger_id)
        key = (kind, job_id, tid)
        if key in self._ops:
            return self._ops[key], False
        op = Operation(kind, job_id, tid)
        self._ops[key] = op
        while len(self._ops) > self.max_kept:
            self._ops.popitem(last=False)
        return op, True

    def get(self, kind: Kind, job_id: str, trigger_id: str) -> Operation | None:
        return self._ops.get((kind, job_id, trigger_id.lower()))
