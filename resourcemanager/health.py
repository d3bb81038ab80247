"""Whether the RM's inbox loop is alive: what `/health` answers, from what the loop records each pass.

Pure: the loop calls `passed` after every pass and `failed` when Redis refused or stalled one; the web app
asks `report`. An RM whose loop is dead, stuck or cut off from Redis answers nobody's calls, so its
/health must not say UP (a healthcheck or a load balancer acts on it).

>>> h = LoopHealth(started_ms=0)
>>> h.passed(100); h.report(200)[0]
True
>>> h.failed(300, "TimeoutError: Timeout reading from socket"); h.report(400)[1]["status"]
'DOWN'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# A pass takes milliseconds (it blocks at most 50 ms on an empty inbox); one that has not completed for
# this long is stuck: under the NM (10 s) and AM (60 s) expiry intervals it enforces, and longer
# than a full GC pause or the largest batch a busy RM handles.
STALL_MS = 10_000


@dataclass
class LoopHealth:
    started_ms: int
    last_pass_ms: int = 0
    # When the current run of Redis failures began (0: the last pass reached Redis), and its last error.
    redis_down_since_ms: int = 0
    last_error: str = ""
    stopped: bool = False

    def passed(self, now_ms: int) -> int:
        """A pass completed; returns how long Redis had been failing before it (0 if it was not)."""
        down_for = now_ms - self.redis_down_since_ms if self.redis_down_since_ms else 0
        self.last_pass_ms = now_ms
        self.redis_down_since_ms = 0
        return down_for

    def failed(self, now_ms: int, error: str) -> None:
        if not self.redis_down_since_ms:
            self.redis_down_since_ms = now_ms
        self.last_error = error

    def report(self, now_ms: int) -> tuple[bool, dict[str, Any]]:
        """(healthy, body): DOWN when the loop stopped, cannot reach Redis, or has not passed for STALL_MS."""
        since = max(self.last_pass_ms, self.started_ms)
        body: dict[str, Any] = {"inboxLoop": "RUNNING", "lastPassAgoMs": max(0, now_ms - since)}
        problem = ""
        if self.stopped:
            body["inboxLoop"] = "STOPPED"
            problem = "the inbox loop has stopped"
        elif self.redis_down_since_ms:
            problem = (f"Redis unreachable for {(now_ms - self.redis_down_since_ms) / 1000:.1f}s "
                       f"({self.last_error})")
        elif now_ms - since > STALL_MS:
            body["inboxLoop"] = "STALLED"
            problem = f"the inbox loop has not completed a pass for {(now_ms - since) / 1000:.1f}s"
        body["status"] = "DOWN" if problem else "UP"
        if problem:
            body["reason"] = problem
        return not problem, body
