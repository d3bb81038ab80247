"""One RM's HA side: wires the elector to the RM's start-up (recovery, the inbox loop) and answers what
the web app asks (haState, the active's address for the standby redirect).

Becoming active is YARN's transitionToActive: the RM's state is rebuilt from Redis by the same recovery
an RM restart runs (work-preserving: AMs re-register and keep their containers, NMs resync), then the
inbox loop starts. Becoming standby stops the loop and drops nothing in Redis; the next activation
starts from a fresh RM rebuilt from Redis, since the standby's memory is stale by then.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from resourcemanager.ha.elector import Elector
from resourcemanager.ha.fence import Fence
from resourcemanager.ha.lease import Holder, Lease
from resourcemanager.inbox import InboxLoop
from resourcemanager.rm import ResourceManager

log = logging.getLogger("resourcemanager.ha")


class HAService:
    """`start_active(rm)` runs recovery and returns the started inbox loop; `fresh_rm()` makes the RM a
    second activation starts from (its fields replace the stale ones in place: the web app holds `rm`)."""

    def __init__(self, rm: ResourceManager, rm_id: str, lease: Lease,
                 start_active: Callable[[ResourceManager], InboxLoop],
                 fresh_rm: Callable[[], ResourceManager]) -> None:
        self.rm = rm
        self.rm_id = rm_id
        self.start_active = start_active
        self.fresh_rm = fresh_rm
        self.fence = Fence(0)
        rm.fence = self.fence
        self.elector = Elector(lease, self._become_active, self._become_standby)
        self.fence.on_fenced = self.elector.fenced
        self.loop: InboxLoop | None = None
        self._was_active = False
        self._lock = threading.Lock()

    @property
    def ha_state(self) -> str:
        return "ACTIVE" if self.elector.is_active and self.loop is not None else "STANDBY"

    def active_address(self) -> str:
        """The active RM's web address ("" when none is known or this RM is it)."""
        holder = self.elector.active
        if holder is None or holder.rm_id == self.rm_id or self.elector.is_active:
            return ""
        return holder.web

    def connection_state(self) -> str:
        """What YARN's haZooKeeperConnectionState says, for our Redis in ZooKeeper's place."""
        return "CONNECTED" if self.elector.connected else "DISCONNECTED"

    def transition_to_standby(self, why: str) -> None:
        """rmadmin -transitionToStandby: give the lease up and sit out one lease, so the other RM takes over.
        Runs on a web worker thread; the elector's lock orders it with its own turns."""
        self.elector.transition_to_standby(why)

    def start(self) -> None:
        self.elector.start()

    def stop(self) -> None:
        self.elector.stop()
        self.elector.join(timeout=3)
        self._stop_loop()

    def _become_active(self, holder: Holder) -> None:
        with self._lock:
            if self._was_active:
                # Standby since: memory is stale. A fresh RM's fields, then recovery fills them from Redis.
                fresh = self.fresh_rm()
                self.rm.__dict__.update(fresh.__dict__)
                # The fresh store's context is `fresh`, not the RM the web app and the loop hold: left so,
                # its first flush swapped `fresh`'s outbox, and every later write and reply (an AM's
                # re-registration answered, then nothing) went into an outbox no flush read.
                self.rm.store.ctx = self.rm
            self._was_active = True
            self.fence.epoch = holder.epoch
            self.rm.fence = self.fence
            try:
                self.loop = self.start_active(self.rm)
            except BaseException:
                self.fence.epoch = 0
                raise

    def _become_standby(self, why: str) -> None:
        with self._lock:
            self.fence.epoch = 0
            self._stop_loop()

    def _stop_loop(self) -> None:
        loop, self.loop = self.loop, None
        if loop is not None:
            loop.stop()
            loop.join(timeout=5)
            if loop.is_alive():
                log.warning("The inbox loop did not stop within 5 s; its writes are fenced")
