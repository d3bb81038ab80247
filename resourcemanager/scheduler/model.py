"""What the scheduler sees: nodes with free room, applications with asks, leaf queues."""

from __future__ import annotations

from dataclasses import dataclass, field

from miniyarn.records import ANY, Resource, ResourceRequest

AskKey = tuple[int, str, int, int]  # priority, resource name, memory, vcores


def ask_key(req: ResourceRequest) -> AskKey:
    return (req.priority, req.resource_name, req.capability.memory, req.capability.vcores)


@dataclass
class SchedulerNode:
    node_id: str
    capability: Resource
    used: Resource = field(default_factory=Resource)
    schedulable: bool = True

    @property
    def free(self) -> Resource:
        return self.capability - self.used


@dataclass
class SchedulerApp:
    app_id: str
    queue: str  # leaf queue path, e.g. root.default
    user: str
    order: int  # submission sequence: FIFO within a queue
    priority: int = 0
    am_resource: Resource = field(default_factory=Resource)
    am_pending: bool = False  # the AM container is still to be allocated
    am_active: bool = False  # its AM counts against the queue's AM limit
    used: Resource = field(default_factory=Resource)
    asks: dict[AskKey, ResourceRequest] = field(default_factory=dict)

    def set_ask(self, req: ResourceRequest) -> None:
        """Asks are absolute: the latest row for a key replaces the earlier one."""
        key = ask_key(req)
        if req.num_containers == 0:
            self.asks.pop(key, None)
        else:
            self.asks[key] = req

    def pending_any(self) -> list[ResourceRequest]:
        return [r for r in self.asks.values() if r.resource_name == ANY and r.num_containers > 0]

    def has_pending(self) -> bool:
        return self.am_pending or bool(self.pending_any())


@dataclass
class Allocation:
    app_id: str
    node_id: str
    resource: Resource
    priority: int
    is_am: bool = False
    allocation_request_id: int = -1
