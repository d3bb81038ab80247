"""Flink's CheckpointCoordinator, pure: when to trigger, which subtasks must acknowledge, when a checkpoint is
complete, aborted or expired, which completed ones to keep, and the statistics the REST API shows.

No I/O: the job master sends the triggers, writes `_metadata` and deletes what `complete()` says to discard.

>>> c = CheckpointCoordinator(CheckpointConfig(interval_ms=100))
>>> p = c.trigger(now_ms=100, tasks={"a", "b"})
>>> c.acknowledge(p.id, "a", "chk-1/a", 10, now_ms=110) is None
True
>>> done = c.acknowledge(p.id, "b", "chk-1/b", 5, now_ms=120)
>>> done.id, done.state_size, sorted(done.handles)
(1, 15, ['a', 'b'])
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from flink_on_yarn.common.config import Configuration, parse_duration_ms

# Flink's CheckpointingOptions defaults.
DEFAULT_TIMEOUT_MS = 600_000
DEFAULT_HISTORY = 10  # web.checkpoints.history


@dataclass
class CheckpointConfig:
    interval_ms: int = 0  # 0: periodic checkpoints off
    timeout_ms: int = DEFAULT_TIMEOUT_MS
    max_concurrent: int = 1
    min_pause_ms: int = 0
    num_retained: int = 1
    directory: str = ""
    # `execution.checkpointing.checkpoints-after-tasks-finish` (Flink 1.15+, default true): checkpoints go on
    # while some subtasks have finished, and a subtask at the end of its input waits for a final one.
    after_tasks_finish: bool = True

    @property
    def enabled(self) -> bool:
        return self.interval_ms > 0

    @classmethod
    def from_config(cls, conf: Configuration) -> CheckpointConfig:
        def ms(key: str, default: int) -> int:
            raw = conf.get(key, "")
            return parse_duration_ms(raw) if raw else default

        def num(key: str, default: int) -> int:
            raw = conf.get(key, "")
            return int(raw) if raw else default

        def flag(key: str, default: bool) -> bool:
            raw = conf.get(key, "").strip().lower()
            if raw in ("", "true", "false"):
                return default if not raw else raw == "true"
            raise ValueError(f"Could not parse value '{conf.get(key, '')}' for key '{key}'.")

        return cls(interval_ms=ms("execution.checkpointing.interval", 0),
                   timeout_ms=ms("execution.checkpointing.timeout", DEFAULT_TIMEOUT_MS),
                   max_concurrent=max(1, num("execution.checkpointing.max-concurrent-checkpoints", 1)),
                   min_pause_ms=ms("execution.checkpointing.min-pause", 0),
                   num_retained=max(1, num("state.checkpoints.num-retained", 1)),
                   directory=conf.get("state.checkpoints.dir", ""),
                   after_tasks_finish=flag("execution.checkpointing.checkpoints-after-tasks-finish", True))


@dataclass
class Checkpoint:
    """One checkpoint as Flink's REST shows it (status IN_PROGRESS, COMPLETED or FAILED)."""

    id: int
    trigger_ms: int
    tasks: frozenset[str]
    is_savepoint: bool = False
    status: str = "IN_PROGRESS"
    handles: dict[str, str] = field(default_factory=dict)  # task -> its state file
    sizes: dict[str, int] = field(default_factory=dict)
    ack_ms: dict[str, int] = field(default_factory=dict)
    end_ms: int = -1
    failure: str | None = None
    external_path: str | None = None

    @property
    def state_size(self) -> int:
        return sum(self.sizes.values())

    @property
    def latest_ack_ms(self) -> int:
        return max(self.ack_ms.values(), default=-1)


@dataclass
class CheckpointCoordinator:
    config: CheckpointConfig
    next_id: int = 1
    pending: dict[int, Checkpoint] = field(default_factory=dict)
    completed: list[Checkpoint] = field(default_factory=list)  # retained, oldest first
    history: deque[Checkpoint] = field(default_factory=lambda: deque(maxlen=DEFAULT_HISTORY))
    counts: dict[str, int] = field(default_factory=lambda: {"restored": 0, "total": 0, "in_progress": 0,
                                                            "completed": 0, "failed": 0})
    last_completion_ms: int = -1
    last_trigger_ms: int = -1
    # No periodic checkpoint before this (`start_periodic`).
    not_before_ms: int = -1
    latest_failed: Checkpoint | None = None
    restored: tuple[int, int, str] | None = None  # (checkpoint id, restore time, path)

    def start_periodic(self, now_ms: int) -> None:
        """The periodic checkpoints of an attempt start now: the first is due one interval later. (Flink's
        scheduler waits a random initial delay between the min pause and the interval; a fixed one keeps a
        job's checkpoints where its user expects them, and none is triggered the moment its tasks run.)"""
        self.not_before_ms = now_ms + self.config.interval_ms

    def due(self, now_ms: int) -> bool:
        """A periodic checkpoint is due: past the attempt's initial delay, interval since the last trigger,
        min-pause since the last end."""
        c = self.config
        if not c.enabled or len(self.pending) >= c.max_concurrent or now_ms < self.not_before_ms:
            return False
        if self.last_trigger_ms >= 0 and now_ms - self.last_trigger_ms < c.interval_ms:
            return False
        return not (self.last_completion_ms >= 0 and now_ms - self.last_completion_ms < c.min_pause_ms)

    def trigger(self, now_ms: int, tasks: set[str], is_savepoint: bool = False) -> Checkpoint:
        p = Checkpoint(self.next_id, now_ms, frozenset(tasks), is_savepoint)
        self.next_id += 1
        self.last_trigger_ms = now_ms
        self.pending[p.id] = p
        self.history.appendleft(p)
        self.counts["total"] += 1
        self.counts["in_progress"] += 1
        return p

    def acknowledge(self, checkpoint_id: int, task: str, handle: str, size: int, now_ms: int) -> Checkpoint | None:
        """Records one subtask's acknowledgement; the checkpoint once every subtask has acknowledged it."""
        p = self.pending.get(checkpoint_id)
        if p is None or task not in p.tasks:
            return None  # late, for an aborted checkpoint, or from a stranger: Flink discards it too
        p.handles[task] = handle
        p.sizes[task] = size
        p.ack_ms[task] = now_ms
        if len(p.handles) < len(p.tasks):
            return None
        return p

    def complete(self, checkpoint_id: int, now_ms: int, external_path: str) -> list[Checkpoint]:
        """Marks a fully acknowledged checkpoint completed (its `_metadata` written); returns those to discard:
        older pending ones (subsumed, as in Flink) and completed ones past `state.checkpoints.num-retained`."""
        p = self.pending.pop(checkpoint_id)
        p.status, p.end_ms, p.external_path = "COMPLETED", now_ms, external_path
        self.counts["in_progress"] -= 1
        self.counts["completed"] += 1
        self.last_completion_ms = now_ms
        discard: list[Checkpoint] = []
        for older in [q for q in self.pending.values() if q.id < checkpoint_id]:
            self._fail(older, f"Checkpoint {older.id} was subsumed by checkpoint {checkpoint_id}.", now_ms)
            discard.append(older)
        if not p.is_savepoint:
            self.completed.append(p)
            while len(self.completed) > self.config.num_retained:
                discard.append(self.completed.pop(0))
        return discard

    def _fail(self, p: Checkpoint, reason: str, now_ms: int) -> None:
        self.pending.pop(p.id, None)
        p.status, p.end_ms, p.failure = "FAILED", now_ms, reason
        self.counts["in_progress"] -= 1
        self.counts["failed"] += 1
        self.last_completion_ms = now_ms
        self.latest_failed = p

    def abort(self, checkpoint_id: int, reason: str, now_ms: int) -> Checkpoint | None:
        p = self.pending.get(checkpoint_id)
        if p is not None:
            self._fail(p, reason, now_ms)
        return p

    def abort_all(self, reason: str, now_ms: int) -> list[Checkpoint]:
        aborted = list(self.pending.values())
        for p in aborted:
            self._fail(p, reason, now_ms)
        return aborted

    def expire(self, now_ms: int) -> list[Checkpoint]:
        """Pending checkpoints older than `execution.checkpointing.timeout`, aborted (Flink's words)."""
        late = [p for p in self.pending.values() if now_ms - p.trigger_ms >= self.config.timeout_ms]
        for p in late:
            self._fail(p, "Checkpoint expired before completing.", now_ms)
        return late

    def latest(self) -> Checkpoint | None:
        return self.completed[-1] if self.completed else None

    def on_restore(self, checkpoint_id: int, now_ms: int, path: str) -> None:
        self.restored = (checkpoint_id, now_ms, path)
        self.counts["restored"] += 1
        # Ids keep growing across restores, as Flink's counter does (recovered from the checkpoint store).
        self.next_id = max(self.next_id, checkpoint_id + 1)
