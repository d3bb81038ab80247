"""A timer queue as Flink's InternalTimerService keeps one per time domain: at most one timer per (key,
timestamp), deletable, popped in time order once time reaches them.

>>> q = TimerQueue()
>>> q.register("a", 10); q.register("b", 5); q.register("a", 10); q.register("a", 20); q.delete("a", 20)
>>> q.pop_due(10), q.pop_due(100), q.next_time()
([(5, 'b'), (10, 'a')], [], None)
"""

from __future__ import annotations

import heapq
from typing import Any


class TimerQueue:
    def __init__(self) -> None:
        self._heap: list[tuple[int, int, Any]] = []
        self._live: set[tuple[int, Any]] = set()
        self._seq = 0  # ties in time pop in registration order, and keys need not be comparable

    def register(self, key: Any, timestamp: int) -> None:
        if (timestamp, key) in self._live:
            return
        self._live.add((timestamp, key))
        heapq.heappush(self._heap, (timestamp, self._seq, key))
        self._seq += 1

    def delete(self, key: Any, timestamp: int) -> None:
        self._live.discard((timestamp, key))  # its heap entry is skipped when it comes up

    def next_time(self) -> int | None:
        while self._heap and (self._heap[0][0], self._heap[0][2]) not in self._live:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: int) -> list[tuple[int, Any]]:
        """Every live timer with timestamp <= now, earliest first, removed from the queue."""
        out: list[tuple[int, Any]] = []
        while self._heap and self._heap[0][0] <= now:
            ts, _, key = heapq.heappop(self._heap)
            if (ts, key) in self._live:
                self._live.discard((ts, key))
                out.append((ts, key))
        return out

    def snapshot(self) -> list[tuple[int, Any]]:
        """The live timers, earliest first: what a checkpoint keeps of this queue."""
        return sorted(self._live, key=lambda t: t[0])

    def restore(self, timers: list[tuple[int, Any]]) -> None:
        """Replaces the queue's content in place (contexts holding this queue keep seeing it)."""
        self._heap.clear()
        self._live.clear()
        for ts, key in timers:
            self.register(key, ts)

    def __len__(self) -> int:
        return len(self._live)
