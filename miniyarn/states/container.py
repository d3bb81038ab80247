"""RMContainer and the NM-side container state YARN reports (NEW, RUNNING, COMPLETE)."""

from __future__ import annotations

from enum import StrEnum

from miniyarn.states import StateMachine


class ContainerState(StrEnum):
    """The state an NM reports for a container (YARN's ContainerState)."""

    NEW = "NEW"
    RUNNING = "RUNNING"
    COMPLETE = "COMPLETE"


class RMContainerState(StrEnum):
    NEW = "NEW"
    RESERVED = "RESERVED"
    ALLOCATED = "ALLOCATED"
    ACQUIRED = "ACQUIRED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    EXPIRED = "EXPIRED"
    RELEASED = "RELEASED"
    KILLED = "KILLED"


class ContainerEvent(StrEnum):
    START = "START"  # scheduler placed it on a node
    ACQUIRED = "ACQUIRED"  # handed to the AM in an allocate response
    LAUNCHED = "LAUNCHED"  # its NM reports it running
    FINISHED = "FINISHED"  # its NM reports it complete
    RELEASED = "RELEASED"  # the AM gave it back
    EXPIRE = "EXPIRE"  # allocated but never launched
    KILL = "KILL"  # node lost, app ended


S = RMContainerState
E = ContainerEvent

CONTAINER_MACHINE: StateMachine[RMContainerState, ContainerEvent] = StateMachine(
    "RMContainer",
    {
        (S.NEW, E.START): S.ALLOCATED,
        (S.NEW, E.KILL): S.KILLED,
        (S.ALLOCATED, E.ACQUIRED): S.ACQUIRED,
        (S.ALLOCATED, E.LAUNCHED): S.RUNNING,  # the AM container is launched by the RM itself
        (S.ALLOCATED, E.RELEASED): S.RELEASED,
        (S.ALLOCATED, E.EXPIRE): S.EXPIRED,
        (S.ALLOCATED, E.KILL): S.KILLED,
        (S.ALLOCATED, E.FINISHED): S.COMPLETED,
        (S.ACQUIRED, E.LAUNCHED): S.RUNNING,
        (S.ACQUIRED, E.FINISHED): S.COMPLETED,
        (S.ACQUIRED, E.RELEASED): S.RELEASED,
        (S.ACQUIRED, E.EXPIRE): S.EXPIRED,
        (S.ACQUIRED, E.KILL): S.KILLED,
        (S.RUNNING, E.FINISHED): S.COMPLETED,
        (S.RUNNING, E.RELEASED): S.RELEASED,
        (S.RUNNING, E.KILL): S.KILLED,
        (S.RUNNING, E.LAUNCHED): S.RUNNING,
    },
    frozenset({S.COMPLETED, S.EXPIRED, S.RELEASED, S.KILLED}),
)
