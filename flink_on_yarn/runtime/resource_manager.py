"""The JobManager's resource manager: registered TaskManagers, their slots, slot requests, liveness, idleness.

Jobs declare how many slots they require and request them; requests wait until enough slots are free. Every
change of demand or supply calls the worker driver (standalone or active) and the demand listeners.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flink_on_yarn.common.config import Configuration
from flink_on_yarn.runtime import allocation_history as ev
from flink_on_yarn.runtime.allocation_history import AllocationHistory
from flink_on_yarn.runtime.messages import Shutdown
from flink_on_yarn.runtime.rpc import Gateway
from flink_on_yarn.runtime.worker_driver import SlotDemand, WorkerDriver

SlotId = tuple[str, int]  # (TaskManager id, slot index)


@dataclass
class TaskManagerRecord:
    id: str
    host: str
    slots: int
    gateway: Gateway
    pid: int = 0
    hardware: dict[str, Any] = field(default_factory=dict)
    registered_at: float = field(default_factory=time.time)
    last_heartbeat: float = field(default_factory=time.monotonic)
    owners: list[str | None] = field(default_factory=list)  # job id per slot
    idle_since: float | None = field(default_factory=time.monotonic)

    @property
    def free_slots(self) -> int:
        return sum(1 for o in self.owners if o is None)


@dataclass
class SlotRequest:
    job_id: str
    slots: int
    future: asyncio.Future[list[SlotId]]
    created: float = field(default_factory=time.monotonic)


class ResourceManager:
    def __init__(self, config: Configuration, driver: WorkerDriver) -> None:
        self.config = config
        self.driver = driver
        self.taskmanagers: dict[str, TaskManagerRecord] = {}
        self.requests: list[SlotRequest] = []
        self.job_requirements: dict[str, int] = {}
        self.history = AllocationHistory()
        self.demand_listeners: list[Callable[[SlotDemand], None]] = []
        self.loss_listeners: list[Callable[[str, str], None]] = []
        self.heartbeat_timeout_s = config.get_duration_ms("heartbeat.timeout") / 1000
        self.idle_timeout_s = config.get_duration_ms("resourcemanager.taskmanager-timeout") / 1000
        self._monitor: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.driver.start(self)
        self._monitor = asyncio.create_task(self._monitor_loop())

    async def stop(self) -> None:
        if self._monitor is not None:
            self._monitor.cancel()
        await self.driver.stop()

    # demand
    def demand(self) -> SlotDemand:
        return SlotDemand(
            required_slots=sum(self.job_requirements.values()),
            registered_slots=sum(t.slots for t in self.taskmanagers.values()),
            free_slots=sum(t.free_slots for t in self.taskmanagers.values()),
            pending_slot_requests=len(self.requests),
            waiting_slots=sum(r.slots for r in self.requests),
            taskmanagers=tuple(self.taskmanagers),
        )

    def _demand_changed(self) -> None:
        d = self.demand()
        self.driver.on_demand_changed(d)
        for listener in self.demand_listeners:
            listener(d)

    def set_job_requirement(self, job_id: str, slots: int) -> None:
        """A job's required slots (0 clears it); the sum over jobs is the cluster's demand."""
        if slots > 0:
            self.job_requirements[job_id] = slots
        else:
            self.job_requirements.pop(job_id, None)
        self._demand_changed()

    # TaskManagers
    def register(self, tm: TaskManagerRecord) -> None:
        tm.owners = [None] * tm.slots
        self.taskmanagers[tm.id] = tm
        self.history.record(ev.TASKMANAGER_REGISTERED, taskmanager=tm.id, slots=tm.slots)
        self.driver.on_taskmanager_registered(tm.id)
        self._fulfil()
        self._demand_changed()

    def heartbeat(self, tm_id: str) -> None:
        tm = self.taskmanagers.get(tm_id)
        if tm is not None:
            tm.last_heartbeat = time.monotonic()

    def unregister(self, tm_id: str, cause: str, lost: bool = True, close: bool = True) -> None:
        tm = self.taskmanagers.pop(tm_id, None)
        if tm is None:
            return
        if close:
            tm.gateway.close()
        self.history.record(ev.TASKMANAGER_LOST if lost else ev.TASKMANAGER_RELEASED, taskmanager=tm_id,
                            slots=tm.slots, detail=cause)
        for listener in self.loss_listeners:
            listener(tm_id, cause)
        if lost:
            self.driver.on_taskmanager_lost(tm_id)
        self._demand_changed()

    def release_taskmanager(self, tm_id: str, reason: str) -> None:
        """Tells a TaskManager to shut down (an active driver's release of an idle worker)."""
        tm = self.taskmanagers.get(tm_id)
        if tm is None:
            return

        async def tell_then_close() -> None:
            await tm.gateway.tell(Shutdown(reason=reason))
            tm.gateway.close()

        asyncio.get_running_loop().create_task(tell_then_close())
        self.unregister(tm_id, reason, lost=False, close=False)

    def idle_taskmanagers(self) -> list[str]:
        now = time.monotonic()
        return [t.id for t in self.taskmanagers.values()
                if t.idle_since is not None and now - t.idle_since >= self.idle_timeout_s]

    async def _monitor_loop(self) -> None:
        while True:
            # Checked every second: heartbeat timeouts are seconds long, so a second of slack is noise.
            await asyncio.sleep(1.0)
            now = time.monotonic()
            for tm in list(self.taskmanagers.values()):
                if now - tm.last_heartbeat > self.heartbeat_timeout_s:
                    self.unregister(tm.id, f"The heartbeat of TaskManager with id {tm.id} timed out.")
            idle = self.idle_taskmanagers()
            if idle:
                self.driver.on_idle_taskmanagers(idle)

    # slots
    def request_slots(self, job_id: str, slots: int) -> SlotRequest:
        req = SlotRequest(job_id, slots, asyncio.get_running_loop().create_future())
        self.requests.append(req)
        self.history.record(ev.SLOTS_REQUESTED, job=job_id, slots=slots)
        self._fulfil()
        self._demand_changed()
        return req

    def cancel_request(self, req: SlotRequest, timed_out: bool = False) -> None:
        if req in self.requests:
            self.requests.remove(req)
            if timed_out:
                self.history.record(ev.SLOTS_REQUEST_TIMEOUT, job=req.job_id, slots=req.slots)
            self._demand_changed()

    def _fulfil(self) -> None:
        for req in list(self.requests):
            free = [(t.id, i) for t in self.taskmanagers.values() for i, o in enumerate(t.owners) if o is None]
            if len(free) < req.slots:
                continue
            taken = free[:req.slots]
            for tm_id, i in taken:
                tm = self.taskmanagers[tm_id]
                tm.owners[i] = req.job_id
                tm.idle_since = None
            self.requests.remove(req)
            self.history.record(ev.SLOTS_ALLOCATED, job=req.job_id, slots=req.slots,
                                detail=", ".join(f"{t}#{i}" for t, i in taken))
            if not req.future.done():
                req.future.set_result(taken)

    def release_job(self, job_id: str) -> None:
        released = 0
        for tm in self.taskmanagers.values():
            for i, owner in enumerate(tm.owners):
                if owner == job_id:
                    tm.owners[i] = None
                    released += 1
            if tm.free_slots == tm.slots and tm.idle_since is None:
                tm.idle_since = time.monotonic()
        if released:
            self.history.record(ev.SLOTS_RELEASED, job=job_id, slots=released)
        self._fulfil()
        self._demand_changed()
