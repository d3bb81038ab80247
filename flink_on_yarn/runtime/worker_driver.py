"""Where TaskManagers come from: the JobManager's extension point for standalone and active (YARN) clusters.

The ResourceManager calls the driver's hooks from its event loop; a hook must not block (start tasks for
slow work). Standalone: TaskManagers register by themselves and are never released. An active driver (the
YARN issue's) is told the slot demand on every change and requests/releases workers, e.g. YARN containers:

    class YarnWorkerDriver(WorkerDriver):
        def on_demand_changed(self, demand: SlotDemand) -> None:
            n = plan.to_request(demand.required_slots, demand.registered_slots, self.pending)
            ...  # ask the RM for n containers; rm.history.record(TASKMANAGER_REQUESTED, ...)
        def on_idle_taskmanagers(self, tm_ids: list[str]) -> None:
            for tm in tm_ids: self.rm.release_taskmanager(tm, "idle")
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flink_on_yarn.runtime.resource_manager import ResourceManager


@dataclass(frozen=True)
class SlotDemand:
    """A snapshot: slots the jobs need, what is registered and free, what waits."""

    required_slots: int
    registered_slots: int
    free_slots: int
    pending_slot_requests: int
    waiting_slots: int
    taskmanagers: tuple[str, ...] = field(default_factory=tuple)


class WorkerDriver:
    """Default hooks do nothing: that is the standalone behaviour."""

    rm: ResourceManager

    async def start(self, rm: ResourceManager) -> None:
        self.rm = rm

    def on_demand_changed(self, demand: SlotDemand) -> None:
        """Called whenever required, registered or free slots change."""

    def refusal(self, tm_id: str) -> str | None:
        """Why a TaskManager's registration is declined, or None (standalone: any TaskManager is welcome;
        an active driver declines workers it did not start or whose container has ended)."""
        return None

    def on_taskmanager_registered(self, tm_id: str) -> None:
        """A TaskManager registered (an active driver matches it to its pending request)."""

    def on_taskmanager_lost(self, tm_id: str) -> None:
        """A TaskManager stopped heartbeating or disconnected (an active driver replaces it if needed)."""

    def on_idle_taskmanagers(self, tm_ids: list[str]) -> None:
        """TaskManagers idle past `resourcemanager.taskmanager-timeout` (called every few seconds)."""

    async def stop(self) -> None:
        """The JobManager shuts down: release every worker."""


class StandaloneWorkerDriver(WorkerDriver):
    """Flink's standalone resource manager: TaskManagers are started by the user and stay."""
