"""Flink's asynchronous operations (savepoint, stop-with-savepoint, checkpoint), pure: a trigger gets a
request id, and polling that id answers the operation's state. A trigger that repeats its `triggerId`
gets the same operation back (Flink's idempotent retries); ids are Flink's 32 hex digits.

Checkpoints are triggered and polled for real in rest_checkpoints.py. Savepoints are not built yet, so a
savepoint or stop-with-savepoint completes at once with `UNSUPPORTED` as its failure; the REST answers that
as a Flink-shaped 4xx, never as a success.

>>> ops = Operations()
>>> op = ops.trigger(Kind.SAVEPOINT, "j1", "0" * 32)
>>> ops.get(Kind.SAVEPOINT, "j1", "0" * 32) is op and op.status
'COMPLETED'
"""

from __future__ import annotations

import re
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal


class Kind(StrEnum):
    # Stop-with-savepoint is polled at the savepoints path in Flink, so it is a savepoint operation here too.
    SAVEPOINT = "savepoint"
    CHECKPOINT = "checkpoint"


# Checkpoints are triggered for real (rest_checkpoints.py); savepoints are not built yet.
UNSUPPORTED = {
    Kind.SAVEPOINT: "miniflink's runtime takes checkpoints but does not take savepoints yet, so no savepoint "
                    "was taken and the job was left as it was. To end the job, cancel it: flink cancel <jobId>, "
                    "or miniflink cancel <jobId>",
}
TRIGGER_ID = re.compile(r"[0-9a-f]{32}")
# Enough for any client's polling, small enough that a trigger loop cannot grow the JobManager without bound.
MAX_KEPT = 1000


class BadTriggerId(ValueError):
    pass


@dataclass(frozen=True)
class Operation:
    kind: Kind
    job_id: str
    trigger_id: str
    status: Literal["IN_PROGRESS", "COMPLETED"]
    location: str | None = None
    checkpoint_id: int | None = None
    failure: str | None = None

    def result(self) -> dict[str, Any]:
        """Flink's AsynchronousOperationResult body (for a completed success or one in progress)."""
        operation: dict[str, Any] | None = None
        if self.status == "COMPLETED":
            operation = {"checkpointId": self.checkpoint_id} if self.kind == Kind.CHECKPOINT else \
                {"location": self.location}
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

    def trigger(self, kind: Kind, job_id: str, trigger_id: str | None) -> Operation:
        tid = trigger_id_of(trigger_id)
        key = (kind, job_id, tid)
        if key in self._ops:
            return self._ops[key]
        op = Operation(kind, job_id, tid, "COMPLETED", failure=UNSUPPORTED[kind])
        self._ops[key] = op
        while len(self._ops) > self.max_kept:
            self._ops.popitem(last=False)
        return op

    def get(self, kind: Kind, job_id: str, trigger_id: str) -> Operation | None:
        return self._ops.get((kind, job_id, trigger_id.lower()))
