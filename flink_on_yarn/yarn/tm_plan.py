"""How many TaskManager containers to ask YARN for, which to give back: Flink's rule, no I/O.

required slots = Σ over the jobs' slot-sharing groups of the group's largest parallelism;
TaskManagers to ask for = ceil((required − slots registered or pending) / slots per TaskManager).
A TaskManager whose slots have all been free for `resourcemanager.taskmanager-timeout` goes back,
unless the slots still required need it. Failed starts are limited per minute
(`resourcemanager.start-worker.max-failure-rate`), as Flink's active resource manager does.

>>> plan = TaskManagerPlan(slots_per_tm=2)
>>> plan.to_request(required_slots=4, registered_slots=0, pending_tms=0)
2
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field


@dataclass
class IdleTaskManager:
    tm_id: str
    slots: int
    idle_since_ms: int | None  # None while any slot is in use


@dataclass
class TaskManagerPlan:
    slots_per_tm: int
    idle_timeout_ms: int = 30_000
    max_failures_per_minute: float = 10.0
    failures_ms: deque[int] = field(default_factory=deque)

    def to_request(self, required_slots: int, registered_slots: int, pending_tms: int) -> int:
        """New TaskManager containers to ask for (never negative)."""
        missing = required_slots - registered_slots - pending_tms * self.slots_per_tm
        return max(0, math.ceil(missing / self.slots_per_tm))

    def excess_pending(self, required_slots: int, registered_slots: int, pending_tms: int) -> int:
        """Pending requests no longer needed (a job finished or was cancelled before they came)."""
        needed = max(0, math.ceil(max(0, required_slots - registered_slots) / self.slots_per_tm))
        return max(0, pending_tms - needed)

    def to_release(self, now_ms: int, required_slots: int, tms: list[IdleTaskManager]) -> list[str]:
        """Idle TaskManagers past the timeout whose slots the jobs do not need."""
        total = sum(t.slots for t in tms)
        out = []
        for tm in sorted(tms, key=lambda t: t.idle_since_ms or 0):
            if tm.idle_since_ms is None or now_ms - tm.idle_since_ms < self.idle_timeout_ms:
                continue
            if total - tm.slots >= required_slots:
                out.append(tm.tm_id)
                total -= tm.slots
        return out

    def record_failure(self, now_ms: int) -> None:
        self.failures_ms.append(now_ms)

    def may_start_worker(self, now_ms: int) -> bool:
        """False while the failures of the last minute exceed the allowed rate."""
        while self.failures_ms and now_ms - self.failures_ms[0] > 60_000:
            self.failures_ms.popleft()
        return len(self.failures_ms) < self.max_failures_per_minute
