"""The JobManager's YARN driver: keeps TaskManager containers equal to what the jobs' slots need.

It speaks the AMRM protocol from the JobManager's event loop: every call runs in a worker thread under
one lock (the AMRM client has one reply channel), asks are reconciled with the slot demand just before
each allocate, and what comes back — containers, completions — is handled on the loop, where the
JobManager's resource manager lives. The allocate call is also the AM's heartbeat.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from flink_on_yarn.common.config import Configuration
from flink_on_yarn.runtime import allocation_history as ev
from flink_on_yarn.runtime.resource_manager import ResourceManager
from flink_on_yarn.runtime.worker_driver import SlotDemand, WorkerDriver
from flink_on_yarn.yarn.bootstrap import (
    TM_PRIORITY,
    EarlyState,
    LaunchContextFactory,
    ask_for_taskmanager,
    log_received,
    start_taskmanager,
)
from flink_on_yarn.yarn.options import slots_per_taskmanager, taskmanager_resource
from flink_on_yarn.yarn.tm_plan import IdleTaskManager, TaskManagerPlan
from miniyarn.client.amrm_client import AMRMClient, ContainerRequest
from miniyarn.client.nm_client import NMClient
from miniyarn.exit_status import ContainerExitStatus
from miniyarn.protocol import AllocateResponse
from miniyarn.records import Container, ContainerStatus, Resource
from miniyarn.rpc import YarnRemoteError
from miniyarn.states.application import FinalApplicationStatus

log = logging.getLogger("flink_on_yarn.yarn.YarnResourceManagerDriver")

# While containers are asked for or starting, ask often: this is most of a deployment's latency.
# Otherwise every second, well inside the AM liveness expiry.
FAST_S = 0.02
SLOW_S = 1.0



class YarnWorkerDriver(WorkerDriver):
    def __init__(self, config: Configuration, amrm: AMRMClient, nm: NMClient,
                 launch_context: LaunchContextFactory) -> None:
        conf = config.as_dict()
        self.slots = slots_per_taskmanager(conf)
        memory, vcores = taskmanager_resource(conf)
        self.capability = Resource(memory=memory, vcores=vcores)
        self.plan = TaskManagerPlan(
            slots_per_tm=self.slots, idle_timeout_ms=config.get_duration_ms("resourcemanager.taskmanager-timeout"),
            max_failures_per_minute=float(config.get("resourcemanager.start-worker.max-failure-rate", "10")))
        self.amrm = amrm
        self.nm = nm
        self.launch_context = launch_context
        self.requested = 0                          # asked for, not yet allocated
        self.starting: dict[str, Container] = {}    # launched, TaskManager not registered yet
        self.running: dict[str, Container] = {}     # TaskManager registered
        self.released: set[str] = set()             # given back by us: their completion is no failure
        # Every container YARN reported completed or we gave back: a TaskManager still running in one (its
        # NM was lost, it outlived its node) must not register again, its replacement may run already.
        self.ended: set[str] = set()
        self.pending_reason = ""
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._stopping = False
        # What the AM's head start did (bootstrap.py), taken over when the JobManager starts.
        self.early: EarlyState | None = None
        # Called once when YARN no longer knows this attempt; the ApplicationMaster stops the JobManager.
        self.on_fatal: Callable[[], None] = lambda: None

    # --- lifecycle -------------------------------------------------------------------------------

    async def start(self, rm: ResourceManager) -> None:
        self.rm = rm
        if self.early is not None:
            # Before the JobManager accepts TaskManagers: every early container is still "starting" here.
            self.adopt(self.early)
            self.early = None

    def adopt(self, early: EarlyState) -> None:
        """Takes over what the AM's head start asked for and launched (see bootstrap.py)."""
        self.requested = early.requested
        for cid, container in early.starting.items():
            (self.running if cid in self.rm.taskmanagers else self.starting)[cid] = container
        self.pending_reason = early.pending_reason
        self.rm.history.events.extend(early.history.events)
        for status in early.completed:
            self._on_completed(status)

    def start_heartbeat(self) -> None:
        self._loop_task = asyncio.get_running_loop().create_task(self._heartbeat_loop(), name="amrm-heartbeat")

    async def unregister(self, final: FinalApplicationStatus, diagnostics: str, tracking_url: str = "") -> None:
        self._stopping = True
        self._wake.set()
        async with self._lock:
            log.info("Unregister application from the YARN Resource Manager with final status %s.", final.value)
            await asyncio.to_thread(self.amrm.unregister, final, diagnostics, tracking_url)

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._loop_task is not None:
            try:
                await asyncio.wait_for(self._loop_task, 5)
            except (TimeoutError, asyncio.CancelledError):
                self._loop_task.cancel()

    # --- hooks from the JobManager's resource manager --------------------------------------------

    def on_demand_changed(self, demand: SlotDemand) -> None:
        self._wake.set()

    def refusal(self, tm_id: str) -> str | None:
        if tm_id in self.ended:
            return f"its container {tm_id} has completed in YARN (or was released by this JobManager)"
        if tm_id not in self.starting and tm_id not in self.running:
            return f"{tm_id} is not a container this JobManager started"
        return None

    def on_taskmanager_registered(self, tm_id: str) -> None:
        container = self.starting.pop(tm_id, None)
        if container is not None:
            self.running[tm_id] = container
            log.info("Registering TaskManager with ResourceID %s (container on %s) at ResourceManager",
                     tm_id, container.node_id)

    def on_taskmanager_lost(self, tm_id: str) -> None:
        container = self.running.pop(tm_id, None) or self.starting.pop(tm_id, None)
        if container is None:
            return
        # A TaskManager that stopped heartbeating may still hold its container: give it back.
        self._release(container.id)
        self.plan.record_failure(now_ms())
        log.info("Worker %s is terminated; a new one is requested if the jobs still need its slots.", tm_id)
        self._wake.set()

    def on_idle_taskmanagers(self, tm_ids: list[str]) -> None:
        idle = {*tm_ids}
        tms = [IdleTaskManager(t.id, t.slots, int(t.idle_since * 1000) if t.id in idle and t.idle_since is not None
                               else None) for t in self.rm.taskmanagers.values()]
        required = self.rm.demand().required_slots
        for tm_id in self.plan.to_release(now_ms(), required, tms):
            log.info("Releasing idle TaskManager %s.", tm_id)
            self.running.pop(tm_id, None)
            self.rm.release_taskmanager(tm_id, "TaskManager was idle for longer than "
                                               f"resourcemanager.taskmanager-timeout ({self.plan.idle_timeout_ms} ms)")
            self._release(tm_id)
        self._wake.set()

    # --- the AMRM heartbeat ----------------------------------------------------------------------

    async def _heartbeat_loop(self) -> None:
        while not self._stopping:
            # Cleared before the demand is read: a change during the allocate call wakes the next one.
            self._wake.clear()
            async with self._lock:
                if self._stopping:
                    return
                self._reconcile()
                try:
                    resp = await asyncio.to_thread(self.amrm.allocate, 0.0)
                except YarnRemoteError as e:
                    if e.exception != "ApplicationAttemptNotFoundException":
                        raise
                    # YARN has given up on this attempt (its node was lost, a newer attempt runs): a
                    # JobManager left running would run the job twice. Flink treats this as fatal too.
                    log.error("Fatal error of the YARN ResourceManager driver, shutting down: %s", e.message)
                    self._stopping = True
                    self.on_fatal()
                    return
                except Exception as e:  # the RM restarting, Redis hiccup: keep heartbeating
                    log.warning("allocate failed, retrying: %s", e)
                    resp = None
            if resp is not None:
                self._on_response(resp)
            busy = self.requested > 0 or bool(self.starting) or bool(self.amrm.releases) or bool(self.amrm.changed)
            if busy and resp is not None:
                await asyncio.sleep(FAST_S)
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), SLOW_S)
            except TimeoutError:
                pass

    def _reconcile(self) -> None:
        d = self.rm.demand()
        pending = self.requested + len(self.starting)
        wanted = self.plan.to_request(d.required_slots, d.registered_slots, pending)
        if wanted > 0:
            if not self.plan.may_start_worker(now_ms()):
                log.warning("Not requesting new TaskManagers: more than %s workers failed to start within a "
                            "minute (resourcemanager.start-worker.max-failure-rate)", self.plan.max_failures_per_minute)
            else:
                for _ in range(wanted):
                    self.requested += 1
                    ask_for_taskmanager(self.amrm, self.capability, self.slots, self.requested, self.rm.history)
            return
        excess = min(self.requested,
                     self.plan.excess_pending(d.required_slots, d.registered_slots, pending))
        for _ in range(excess):
            self.amrm.remove_container_request(ContainerRequest(capability=self.capability, priority=TM_PRIORITY))
            self.requested -= 1
        if excess:
            log.info("Removed %d unneeded TaskManager container requests. Number pending requests %d.",
                     excess, self.requested)

    def _on_response(self, resp: AllocateResponse) -> None:
        if resp.pending_reason != self.pending_reason and resp.pending_reason:
            log.info("TaskManager containers pending at YARN: %s", resp.pending_reason)
        self.pending_reason = resp.pending_reason
        if resp.allocated_containers:
            self._on_allocated(resp.allocated_containers)
        for status in resp.completed_container_statuses:
            self._on_completed(status)

    def _on_allocated(self, containers: list[Container]) -> None:
        self.requested = max(0, self.requested - len(containers))
        log_received(containers, self.requested)
        d = self.rm.demand()
        for c in containers:
            needed = self.plan.to_request(d.required_slots, d.registered_slots,
                                          self.requested + len(self.starting)) > 0
            if not needed:
                log.info("Returning excess container %s.", c.id)
                self._release(c.id)
                self.rm.history.record(ev.TASKMANAGER_RELEASED, taskmanager=c.id, detail="excess container")
                continue
            self.starting[c.id] = c
            start_taskmanager(self.nm, c, self.launch_context, self.slots, self.rm.history)

    def _on_completed(self, status: ContainerStatus) -> None:
        cid = status.container_id
        self.ended.add(cid)
        if cid in self.released:
            self.released.discard(cid)
            return
        starting = self.starting.pop(cid, None)
        running = self.running.pop(cid, None)
        if starting is None and running is None:
            return
        log.info("Worker %s is terminated. Diagnostics: exitStatus=%d %s", cid, status.exit_status,
                 status.diagnostics.strip())
        if status.exit_status != ContainerExitStatus.ABORTED or starting is not None:
            self.plan.record_failure(now_ms())
        if cid in self.rm.taskmanagers:
            # The container is gone before the TaskManager's heartbeat timed out: tell the jobs now.
            self.rm.unregister(cid, f"Container {cid} completed with exit status {status.exit_status}: "
                                    f"{status.diagnostics.strip()}")
        self._wake.set()

    def _release(self, container_id: str) -> None:
        self.released.add(container_id)
        self.ended.add(container_id)
        self.amrm.release_assigned_container(container_id)


def now_ms() -> int:
    return int(time.monotonic() * 1000)
