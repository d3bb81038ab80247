"""A container as its NodeManager runs it (YARN's ContainerImpl): NEW, LOCALIZING, SCHEDULED, RUNNING,
KILLING, EXITED_WITH_SUCCESS / EXITED_WITH_FAILURE, DONE. The RM hears the three states of ContainerState
(NEW, RUNNING, COMPLETE), `reported()`."""

from __future__ import annotations

from enum import StrEnum

from miniyarn.states import StateMachine
from miniyarn.states.container import ContainerState


class NMContainerState(StrEnum):
    NEW = "NEW"
    LOCALIZING = "LOCALIZING"
    SCHEDULED = "SCHEDULED"  # localized, its launch being prepared
    RUNNING = "RUNNING"
    KILLING = "KILLING"
    EXITED_WITH_SUCCESS = "EXITED_WITH_SUCCESS"
    EXITED_WITH_FAILURE = "EXITED_WITH_FAILURE"
    DONE = "DONE"  # reported and cleaned up: the NM forgets it

    def reported(self) -> ContainerState:
        if self in (NMContainerState.NEW, NMContainerState.LOCALIZING, NMContainerState.SCHEDULED):
            return ContainerState.NEW
        if self in (NMContainerState.RUNNING, NMContainerState.KILLING):
            return ContainerState.RUNNING
        return ContainerState.COMPLETE


class NMContainerEvent(StrEnum):
    INIT_CONTAINER = "INIT_CONTAINER"  # its launcher thread starts: localization begins
    RESOURCE_LOCALIZED = "RESOURCE_LOCALIZED"
    CONTAINER_LAUNCHED = "CONTAINER_LAUNCHED"
    CONTAINER_RECOVERED = "CONTAINER_RECOVERED"  # an earlier run of this NM left it running; taken back
    KILL_CONTAINER = "KILL_CONTAINER"  # signalled (SIGTERM, then SIGKILL)
    CONTAINER_EXITED_WITH_SUCCESS = "CONTAINER_EXITED_WITH_SUCCESS"
    CONTAINER_EXITED_WITH_FAILURE = "CONTAINER_EXITED_WITH_FAILURE"  # failed, killed, refused, or never launched
    CONTAINER_RESOURCES_CLEANEDUP = "CONTAINER_RESOURCES_CLEANEDUP"


S = NMContainerState
E = NMContainerEvent

NM_CONTAINER_MACHINE: StateMachine[NMContainerState, NMContainerEvent] = StateMachine(
    "ContainerImpl",
    {
        (S.NEW, E.INIT_CONTAINER): S.LOCALIZING,
        (S.NEW, E.CONTAINER_RECOVERED): S.RUNNING,
        # A container that ended while no NM watched it (recovery finds its exit code) or was refused.
        (S.NEW, E.CONTAINER_EXITED_WITH_SUCCESS): S.EXITED_WITH_SUCCESS,
        (S.NEW, E.CONTAINER_EXITED_WITH_FAILURE): S.EXITED_WITH_FAILURE,
        (S.LOCALIZING, E.RESOURCE_LOCALIZED): S.SCHEDULED,
        (S.LOCALIZING, E.CONTAINER_EXITED_WITH_FAILURE): S.EXITED_WITH_FAILURE,  # localization failed
        (S.SCHEDULED, E.CONTAINER_LAUNCHED): S.RUNNING,
        (S.SCHEDULED, E.CONTAINER_EXITED_WITH_FAILURE): S.EXITED_WITH_FAILURE,  # launch failed, or killed first
        (S.RUNNING, E.KILL_CONTAINER): S.KILLING,
        (S.RUNNING, E.CONTAINER_EXITED_WITH_SUCCESS): S.EXITED_WITH_SUCCESS,
        (S.RUNNING, E.CONTAINER_EXITED_WITH_FAILURE): S.EXITED_WITH_FAILURE,
        (S.KILLING, E.KILL_CONTAINER): S.KILLING,
        (S.KILLING, E.CONTAINER_EXITED_WITH_FAILURE): S.EXITED_WITH_FAILURE,
        (S.EXITED_WITH_SUCCESS, E.CONTAINER_RESOURCES_CLEANEDUP): S.DONE,
        (S.EXITED_WITH_FAILURE, E.CONTAINER_RESOURCES_CLEANEDUP): S.DONE,
    },
    frozenset({S.DONE}),
)
