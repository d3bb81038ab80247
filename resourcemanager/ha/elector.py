"""The elector: one thread that keeps this RM's lease while it is active and tries to take it while it is
standby, as YARN's EmbeddedElector (ActiveStandbyElector) does with ZooKeeper.

Active: renew every lease/4. A renewal the lease refused (another RM took it), or no renewal for a whole
lease (Redis unreachable: the other RM may have taken it by now, as a ZooKeeper session expires), turns
this RM standby. Standby: try to take the lease every TRY_EVERY_MS; the one that takes it becomes active
by running the RM's recovery (the work-preserving restart path) and then consuming the inbox.
`transition_to_standby` (rmadmin -transitionToStandby --forcemanual) gives the lease up and stays out of
the election for one lease, so the other RM takes over.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis

from resourcemanager.ha.lease import Holder, Lease

log = logging.getLogger("resourcemanager.ha")

# A standby tries for the lease this often: a failover takes at most the lease plus this (plus recovery).
TRY_EVERY_MS = 200
# Redis errors are logged once, then at most this often.
LOG_EVERY_S = 10.0


@dataclass(frozen=True)
class Timing:
    """When to renew and when a lease not renewed must count as lost (pure: monotonic seconds in).

    >>> t = Timing(lease_ms=2000)
    >>> t.renew_every_s, t.lost(last_renewed=10.0, now=11.9), t.lost(last_renewed=10.0, now=12.0)
    (0.5, False, True)
    """

    lease_ms: int

    @property
    def renew_every_s(self) -> float:
        return self.lease_ms / 4000

    def lost(self, last_renewed: float, now: float) -> bool:
        # `last_renewed` is taken before the renewal is sent, so Redis's own expiry is never earlier.
        return now - last_renewed >= self.lease_ms / 1000


class Elector(threading.Thread):
    def __init__(self, lease: Lease, on_active: Callable[[Holder], None],
                 on_standby: Callable[[str], None]) -> None:
        super().__init__(name="rm-elector", daemon=True)
        self.lease = lease
        self.timing = Timing(lease.lease_ms)
        self.on_active = on_active
        self.on_standby = on_standby
        self.mine: Holder | None = None  # set while this RM is active
        self.active: Holder | None = None  # who holds the lease, as last read (for redirects)
        self.connected = False  # the last call to Redis got an answer
        self.stopping = threading.Event()
        self.wake = threading.Event()
        self._lock = threading.Lock()
        self._last_renewed = 0.0
        self._sit_out_until = 0.0
        self._fenced = ""
        self._last_error_log = 0.0

    @property
    def is_active(self) -> bool:
        return self.mine is not None

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()

    def fenced(self, why: str) -> None:
        """From a writer the fence refused: turn standby at once (on this thread's next turn)."""
        self._fenced = why
        self.wake.set()

    def transition_to_standby(self, why: str) -> None:
        with self._lock:
            mine = self.mine
            if mine is not None:
                self._demote(f"{why}")
                try:
                    self.lease.release(mine)
                except redis.RedisError as e:
                    log.warning("Could not give the lease up (%s); it expires in %d ms", e, self.lease.lease_ms)
            self._sit_out_until = time.monotonic() + self.lease.lease_ms / 1000

    def run(self) -> None:
        while not self.stopping.is_set():
            with self._lock:
                try:
                    self._turn()
                    self.connected = True
                except redis.RedisError as e:
                    self.connected = False
                    self._redis_failed(e)
            wait = self.timing.renew_every_s if self.mine is not None else TRY_EVERY_MS / 1000
            self.wake.wait(wait)
            self.wake.clear()
        with self._lock:
            mine = self.mine
            if mine is not None:
                self._demote("the ResourceManager is stopping")
                try:
                    self.lease.release(mine)
                except redis.RedisError:
                    pass

    def _turn(self) -> None:
        if self._fenced:
            why, self._fenced = self._fenced, ""
            if self.mine is not None:
                self._demote(f"fenced: {why}")
        if self.mine is not None:
            sent = time.monotonic()
            if self.lease.renew(self.mine):
                self._last_renewed = sent
            else:
                self._demote("another ResourceManager holds the lease")
            return
        if time.monotonic() < self._sit_out_until:
            self.active = self.lease.holder()
            return
        sent = time.monotonic()
        got = self.lease.acquire()
        if got is None:
            self.active = self.lease.holder()
            return
        self._last_renewed = sent
        self.mine = self.active = got
        log.info("Acquired the leader lease with epoch %d; transitioning to active", got.epoch)
        try:
            self.on_active(got)
        except Exception as e:  # recovery could not finish: let the other RM try
            log.exception("Could not become active; giving the lease up")
            self._demote(f"the transition to active failed ({type(e).__name__}: {e})")
            try:
                self.lease.release(got)
            except redis.RedisError:
                pass
            self._sit_out_until = time.monotonic() + self.lease.lease_ms / 1000
            return
        log.info("Transitioned to active (epoch %d)", got.epoch)

    def _redis_failed(self, e: redis.RedisError) -> None:
        now = time.monotonic()
        if now - self._last_error_log >= LOG_EVERY_S:
            self._last_error_log = now
            log.warning("The leader election cannot reach Redis (%s: %s); retrying", type(e).__name__, e)
        if self.mine is not None and self.timing.lost(self._last_renewed, now):
            self._demote(f"the lease could not be renewed for {self.lease.lease_ms} ms (Redis unreachable)")

    def _demote(self, why: str) -> None:
        mine, self.mine = self.mine, None
        if mine is None:
            return
        if self.active == mine:
            self.active = None
        log.warning("Transitioning to standby (epoch %d): %s", mine.epoch, why)
        self.on_standby(why)
        log.info("Transitioned to standby")
