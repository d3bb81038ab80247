"""The RM's records of applications, attempts, containers and nodes, as stored in Redis."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, Field

from miniyarn.protocol import AllocateResponse
from miniyarn.records import ApplicationSubmissionContext, Container, ContainerStatus, Resource, ResourceRequest
from miniyarn.states.application import FinalApplicationStatus, YarnApplicationState
from miniyarn.states.attempt import AttemptState
from miniyarn.states.container import RMContainerState
from miniyarn.states.node import NodeState


class RMAttempt(BaseModel):
    attempt_id: str
    state: AttemptState = AttemptState.NEW
    start_time: int = 0
    finish_time: int = 0
    am_container_id: str = ""
    am_node_id: str = ""
    am_node_http: str = ""
    host: str = ""
    rpc_port: int = -1
    tracking_url: str = ""
    diagnostics: str = ""
    last_heartbeat_ms: int = 0
    response_id: int = 0
    final_status: FinalApplicationStatus = FinalApplicationStatus.UNDEFINED
    # Containers allocated since the AM's last allocate (granted, not yet acquired). Stored: a recovering
    # RM must tell them from containers the AM holds, or it keeps them as ghosts (see recovery.py).
    new_containers: list[Container] = Field(default_factory=list)
    # Statuses of completed containers not yet told to the AM. Stored: their container records are gone, so
    # an RM that took over (a restart, an HA failover) between the completion and the AM's next allocate
    # could tell the AM of them no other way, and the AM waited for them forever.
    completed: list[ContainerStatus] = Field(default_factory=list)
    # The last allocate response, answered again to a retried call (the same response_id). Memory only:
    # after a restart the AM re-registers, which starts the sequence again.
    last_response: AllocateResponse | None = Field(default=None, exclude=True)
    asks: list[ResourceRequest] = Field(default_factory=list)
    exit_status: int | None = None


class RMApp(BaseModel):
    app_id: str
    seq: int
    submission: ApplicationSubmissionContext
    queue: str  # the leaf queue's path, root.default
    user: str
    state: YarnApplicationState = YarnApplicationState.NEW
    final_status: FinalApplicationStatus = FinalApplicationStatus.UNDEFINED
    diagnostics: str = ""
    pending_reason: str = ""
    submit_time: int = 0
    launch_time: int = 0
    finish_time: int = 0
    progress: float = 0.0
    max_attempts: int = 2
    attempts: list[RMAttempt] = Field(default_factory=list)
    # When it went KILLING, and the state it was killed in (what clients see meanwhile, as YARN's
    # stateBeforeKilling).
    killing_since_ms: int = 0
    state_before_killing: YarnApplicationState | None = None
    memory_seconds: int = 0
    vcore_seconds: int = 0
    # Nodes that ran any of its containers: they aggregate its logs when it ends.
    nodes_used: set[str] = Field(default_factory=set)
    # Its last completed containers, for the app page (YARN shows them only through a history server).
    # Kept in memory only: an RM restart forgets them, as it forgets nothing else that matters.
    finished_containers: list[RMContainer] = Field(default_factory=list, exclude=True)

    @property
    def current(self) -> RMAttempt | None:
        return self.attempts[-1] if self.attempts else None


@dataclass(slots=True)
class RMContainer:
    """The RM's own view of a live container. A plain dataclass, not a record: one is made per
    allocation and it never leaves the RM's memory (the Container inside it is what gets stored)."""

    container: Container
    app_id: str
    attempt_id: str
    state: RMContainerState = RMContainerState.NEW
    is_am: bool = False
    start_time: int = 0
    # Recovered after an RM restart: whether it still runs is known from its node's next reports.
    recovered: bool = False
    # When its node first sent a report without it (0: in the last report, or not yet expected there).
    missing_since_ms: int = 0
    finish_time: int = 0
    exit_status: int | None = None
    diagnostics: str = ""
    # Its container token, derived once at allocation (the reply, the grant's digest and stops use it).
    token: str = ""


class RMNode(BaseModel):
    node_id: str
    http_address: str
    rack: str = "/default-rack"
    capability: Resource
    used: Resource = Field(default_factory=Resource)
    state: NodeState = NodeState.NEW
    last_heartbeat_ms: int = 0
    health_report: str = ""
    version: str = ""


RMApp.model_rebuild()
