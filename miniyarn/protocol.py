"""Messages the daemons exchange through Redis.

Everything an NM or AM tells the RM is an `RMMessage` pushed on the RM inbox list; what the RM
answers to a request goes on the request's own reply list. What the RM or an AM tells an NM is an
`NMCommand` pushed on that NM's command list. All are JSON, tagged by `type`.

Who sent a message is checked, not trusted: only the `nm` Redis user can push node messages (ACL);
every AM call carries its attempt's AMRM token, checked by the RM; every container start and stop
carries the container's token, checked by the NM against the digest in the RM's grant.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, TypeAdapter

from miniyarn.records import (
    Container,
    ContainerLaunchContext,
    ContainerStatus,
    Resource,
    ResourceRequest,
)
from miniyarn.states.application import FinalApplicationStatus


class Msg(BaseModel):
    pass


# ---- NodeManager -> ResourceManager -------------------------------------------------------


class NodeHeartbeat(Msg):
    """Sent every `yarn.resourcemanager.nodemanagers.heartbeat-interval-ms`, and at once when a
    container completes. Carries capacity too, so a heartbeat from an unknown node registers it."""

    type: Literal["node_heartbeat"] = "node_heartbeat"
    node_id: str
    http_address: str
    capability: Resource
    container_statuses: list[ContainerStatus] = Field(default_factory=list)
    healthy: bool = True
    health_report: str = ""
    version: str = ""
    rack: str = "/default-rack"


class NodeShutdown(Msg):
    type: Literal["node_shutdown"] = "node_shutdown"
    node_id: str


# ---- ApplicationMaster -> ResourceManager (the AMRM protocol) -------------------------------


class RegisterApplicationMaster(Msg):
    type: Literal["am_register"] = "am_register"
    attempt_id: str
    reply_to: str
    amrm_token: str = ""
    host: str = ""
    rpc_port: int = -1
    tracking_url: str = ""


class Allocate(Msg):
    """YARN's AllocateRequest: asks are absolute per (priority, resource name, capability)."""

    type: Literal["am_allocate"] = "am_allocate"
    attempt_id: str
    reply_to: str
    amrm_token: str = ""
    response_id: int = 0
    progress: float = 0.0
    asks: list[ResourceRequest] = Field(default_factory=list)
    releases: list[str] = Field(default_factory=list)


class FinishApplicationMaster(Msg):
    type: Literal["am_unregister"] = "am_unregister"
    attempt_id: str
    reply_to: str
    amrm_token: str = ""
    final_status: FinalApplicationStatus
    diagnostics: str = ""
    tracking_url: str = ""


RMMessage = Annotated[
    NodeHeartbeat | NodeShutdown | RegisterApplicationMaster | Allocate | FinishApplicationMaster,
    Field(discriminator="type"),
]
RM_MESSAGE: TypeAdapter[RMMessage] = TypeAdapter(RMMessage)
AMCall = RegisterApplicationMaster | Allocate | FinishApplicationMaster
NodeMessage = NodeHeartbeat | NodeShutdown


# ---- ResourceManager -> ApplicationMaster ---------------------------------------------------


class RemoteError(Msg):
    """An AMRM call the RM refused; `exception` is YARN's exception class name."""

    type: Literal["error"] = "error"
    exception: str
    message: str


class RegisterResponse(Msg):
    type: Literal["register_response"] = "register_response"
    maximum_capability: Resource
    queue: str
    containers_from_previous_attempts: list[Container] = Field(default_factory=list)


class AllocateResponse(Msg):
    type: Literal["allocate_response"] = "allocate_response"
    response_id: int
    allocated_containers: list[Container] = Field(default_factory=list)
    completed_container_statuses: list[ContainerStatus] = Field(default_factory=list)
    available_resources: Resource = Field(default_factory=Resource)
    num_cluster_nodes: int = 0
    # miniyarn's addition: why the asks still wait, in words a person can act on.
    pending_reason: str = ""
    am_command: str | None = None  # "AM_RESYNC" / "AM_SHUTDOWN" as YARN's AMCommand
    # Container id -> its container token, for the NM start/stop requests (YARN hands the AM a token
    # with each allocated container). Here, not in the Container record, which is stored and shown.
    container_tokens: dict[str, str] = Field(default_factory=dict)


class FinishResponse(Msg):
    type: Literal["finish_response"] = "finish_response"
    is_unregistered: bool = True


RMReply = Annotated[
    RemoteError | RegisterResponse | AllocateResponse | FinishResponse, Field(discriminator="type")
]
RM_REPLY: TypeAdapter[RMReply] = TypeAdapter(RMReply)


# ---- ResourceManager / ApplicationMaster -> NodeManager -------------------------------------


class ContainerGrant(Container):
    """What the RM stores at `yarn:container:<id>`: the Container and the digest of its token, so an NM
    can check a start without the grant handing the token to whoever reads it."""

    token_digest: str = ""


class StartContainer(Msg):
    type: Literal["start_container"] = "start_container"
    container: Container
    launch_context: ContainerLaunchContext
    user: str = ""
    # Sent by whoever asks for the start: the RM's AM launcher, or an AM's NMClient.
    requested_by: str = ""
    container_token: str = ""


class StopContainer(Msg):
    type: Literal["stop_container"] = "stop_container"
    container_id: str
    exit_status: int  # the ContainerExitStatus reported when it ends (-105 by the AM, -106 by the RM)
    diagnostics: str = ""
    container_token: str = ""


class ApplicationFinished(Msg):
    """The app ended: stop what is left of it on this node and aggregate its logs."""

    type: Literal["application_finished"] = "application_finished"
    application_id: str


NMCommand = Annotated[
    StartContainer | StopContainer | ApplicationFinished, Field(discriminator="type")
]
NM_COMMAND: TypeAdapter[NMCommand] = TypeAdapter(NMCommand)
