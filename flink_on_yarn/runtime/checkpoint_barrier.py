"""Checkpoint barriers and their exactly-once alignment at a task with several input channels, pure.

A barrier travels as its own frame, in order with the batches. Once a channel has delivered barrier n, the
gate reads nothing more from it until every other live channel has delivered n too (Flink's aligned
checkpoint): then the task snapshots, forwards the barrier, and all channels flow again. So the snapshot
holds exactly the records before barrier n from every input. An ended channel counts as aligned. A newer
barrier while an older alignment is open abandons the older checkpoint (Flink's "checkpoint subsumed").

>>> a = BarrierAligner(2)
>>> a.on_barrier(0, 1)          # channel 0 is blocked until channel 1 has barrier 1
(True, None)
>>> a.on_barrier(1, 1)          # aligned: snapshot for checkpoint 1 and unblock both
(False, 1)
>>> a.blocked
set()
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

# A barrier frame's payload: the checkpoint id and its trigger time (epoch ms).
BARRIER_PAYLOAD = struct.Struct("!qq")


@dataclass(frozen=True)
class CheckpointBarrier:
    checkpoint_id: int
    timestamp: int

    def pack(self) -> bytes:
        return BARRIER_PAYLOAD.pack(self.checkpoint_id, self.timestamp)

    @classmethod
    def unpack(cls, payload: bytes) -> CheckpointBarrier:
        cid, ts = BARRIER_PAYLOAD.unpack(payload)
        return cls(cid, ts)


@dataclass
class BarrierAligner:
    channels: int
    ended: set[int] = field(default_factory=set)
    blocked: set[int] = field(default_factory=set)
    current: int | None = None  # the checkpoint being aligned
    last_done: int = 0

    def _live(self) -> int:
        return self.channels - len(self.ended)

    def _check(self) -> int | None:
        if self.current is not None and len(self.blocked) >= self._live():
            done, self.current = self.current, None
            self.last_done = done
            self.blocked.clear()
            return done
        return None

    def on_barrier(self, channel: int, checkpoint_id: int) -> tuple[bool, int | None]:
        """(block this channel?, the checkpoint now aligned, if any)."""
        if checkpoint_id <= self.last_done:
            return False, None  # a barrier of a checkpoint already taken or abandoned here
        if self.current is not None and checkpoint_id > self.current:
            self.blocked.clear()  # the older checkpoint is abandoned; its blocked channels flow again
            self.current = None
        if self.current is None:
            self.current = checkpoint_id
        elif checkpoint_id < self.current:
            return False, None
        self.blocked.add(channel)
        done = self._check()
        return done is None, done

    def on_end(self, channel: int) -> int | None:
        """A channel ended: it counts as aligned; the checkpoint now aligned, if any."""
        self.ended.add(channel)
        self.blocked.discard(channel)
        return self._check()
