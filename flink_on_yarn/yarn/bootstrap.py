"""A per-job AM's head start: ask YARN for the job's TaskManagers and start them while the JobManager's
own code is still being imported (about half a second of a one-second deployment).

The AM has registered and bound the JobManager's RPC socket before this runs, so TaskManagers started
here connect into its listen backlog and are answered as soon as the JobManager is up. When the
JobManager starts, `handover()` stops the thread and the YARN worker driver adopts what it did.
Nothing here needs the JobManager: just the AMRM and NM clients (a thread, because they block).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from flink_on_yarn.runtime import allocation_history as ev
from flink_on_yarn.runtime.allocation_history import AllocationHistory
from miniyarn.client.amrm_client import AMRMClient, ContainerRequest
from miniyarn.client.nm_client import NMClient
from miniyarn.records import Container, ContainerLaunchContext, ContainerStatus, Resource

log = logging.getLogger("flink_on_yarn.yarn.YarnResourceManagerDriver")

POLL_S = 0.02
TM_PRIORITY = 1

LaunchContextFactory = Callable[[Container], ContainerLaunchContext]


# The two steps the head start and the YARN driver share, with Flink's log lines and history events.
def ask_for_taskmanager(amrm: AMRMClient, capability: Resource, slots: int, pending: int,
                        history: AllocationHistory) -> None:
    amrm.add_container_request(ContainerRequest(capability=capability, priority=TM_PRIORITY))
    log.info("Requesting new TaskManager container with %s. Number pending requests %d.", capability, pending)
    history.record(ev.TASKMANAGER_REQUESTED, slots=slots, detail=str(capability))


def start_taskmanager(nm: NMClient, container: Container, launch_context: LaunchContextFactory, slots: int,
                      history: AllocationHistory) -> None:
    c = container
    log.info("TaskManager %s will be started on %s with %s.", c.id, c.node_id, c.resource)
    history.record(ev.TASKMANAGER_ALLOCATED, taskmanager=c.id, slots=slots, detail=f"{c.node_id} {c.resource}")
    nm.start_container(c, launch_context(c))


def log_received(containers: list[Container], pending: int) -> None:
    log.info("Received %d containers with resource %s, %d pending container requests.",
             len(containers), containers[0].resource, pending)


@dataclass
class EarlyState:
    requested: int
    starting: dict[str, Container]
    completed: list[ContainerStatus]
    pending_reason: str
    history: AllocationHistory = field(default_factory=AllocationHistory)


class EarlyWorkers:
    def __init__(self, amrm: AMRMClient, nm: NMClient, capability: Resource, count: int,
                 launch_context: LaunchContextFactory, slots: int) -> None:
        self.amrm = amrm
        self.nm = nm
        self.capability = capability
        self.launch_context = launch_context
        self.slots = slots
        self.state = EarlyState(requested=0, starting={}, completed=[], pending_reason="")
        self._count = count
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="early-taskmanagers", daemon=True)
        self.error: Exception | None = None

    def start(self) -> None:
        for _ in range(self._count):
            self.state.requested += 1
            ask_for_taskmanager(self.amrm, self.capability, self.slots, self.state.requested, self.state.history)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                resp = self.amrm.allocate(0.0)
                self.state.pending_reason = resp.pending_reason
                self.state.completed.extend(resp.completed_container_statuses)
                if resp.allocated_containers:
                    self._launch(resp.allocated_containers)
                if self.state.requested == 0:
                    return
                self._stop.wait(POLL_S)
        except Exception as e:  # the driver's loop retries; all this thread can do is stop early
            self.error = e

    def _launch(self, containers: list[Container]) -> None:
        log_received(containers, max(0, self.state.requested - len(containers)))
        for c in containers:
            if self.state.requested == 0:
                self.amrm.release_assigned_container(c.id)
                continue
            self.state.requested -= 1
            self.state.starting[c.id] = c
            start_taskmanager(self.nm, c, self.launch_context, self.slots, self.state.history)

    def handover(self) -> EarlyState:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)
        if self.error is not None:
            log.warning("early TaskManager requests stopped: %s", self.error)
        return self.state
