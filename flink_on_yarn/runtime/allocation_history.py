"""A bounded record of resource events — TaskManagers and slots requested, allocated, registered, released."""

from __future__ import annotations

import time
from collections import deque
from typing import Any

# Events the JobManager and worker drivers record; the REST API serves them in order.
SLOTS_REQUESTED = "slots-requested"
SLOTS_ALLOCATED = "slots-allocated"
SLOTS_RELEASED = "slots-released"
SLOTS_REQUEST_TIMEOUT = "slots-request-timeout"
TASKMANAGER_REQUESTED = "taskmanager-requested"
TASKMANAGER_ALLOCATED = "taskmanager-allocated"
TASKMANAGER_REGISTERED = "taskmanager-registered"
TASKMANAGER_RELEASED = "taskmanager-released"
TASKMANAGER_LOST = "taskmanager-lost"

# Enough for hours of a busy session cluster; older events fall off.
MAX_EVENTS = 5000


class AllocationHistory:
    def __init__(self) -> None:
        self.events: deque[dict[str, Any]] = deque(maxlen=MAX_EVENTS)

    def record(self, event: str, *, taskmanager: str | None = None, slots: int | None = None,
               job: str | None = None, detail: str | None = None) -> dict[str, Any]:
        entry: dict[str, Any] = {"timestamp": int(time.time() * 1000), "event": event}
        if taskmanager is not None:
            entry["taskmanager"] = taskmanager
        if slots is not None:
            entry["slots"] = slots
        if job is not None:
            entry["job"] = job
        if detail is not None:
            entry["detail"] = detail
        self.events.append(entry)
        return entry

    def as_list(self) -> list[dict[str, Any]]:
        return list(self.events)
