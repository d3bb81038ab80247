"""RMNode: a NodeManager's state as the ResourceManager sees it."""

from __future__ import annotations

from enum import StrEnum

from miniyarn.states import StateMachine


class NodeState(StrEnum):
    NEW = "NEW"
    RUNNING = "RUNNING"
    UNHEALTHY = "UNHEALTHY"
    DECOMMISSIONED = "DECOMMISSIONED"
    LOST = "LOST"
    REBOOTED = "REBOOTED"
    SHUTDOWN = "SHUTDOWN"


class NodeEvent(StrEnum):
    STARTED = "STARTED"  # registered
    HEALTHY = "HEALTHY"
    UNHEALTHY = "UNHEALTHY"
    EXPIRE = "EXPIRE"  # no heartbeat within the liveness expiry
    RECONNECTED = "RECONNECTED"  # registered again with the same id
    SHUTDOWN = "SHUTDOWN"  # the NM said goodbye
    DECOMMISSION = "DECOMMISSION"


S = NodeState
E = NodeEvent

NODE_MACHINE: StateMachine[NodeState, NodeEvent] = StateMachine(
    "RMNode",
    {
        (S.NEW, E.STARTED): S.RUNNING,
        (S.NEW, E.EXPIRE): S.LOST,
        (S.NEW, E.SHUTDOWN): S.SHUTDOWN,
        (S.RUNNING, E.HEALTHY): S.RUNNING,
        (S.RUNNING, E.UNHEALTHY): S.UNHEALTHY,
        (S.RUNNING, E.EXPIRE): S.LOST,
        (S.RUNNING, E.RECONNECTED): S.RUNNING,
        (S.RUNNING, E.SHUTDOWN): S.SHUTDOWN,
        (S.RUNNING, E.DECOMMISSION): S.DECOMMISSIONED,
        (S.UNHEALTHY, E.HEALTHY): S.RUNNING,
        (S.UNHEALTHY, E.UNHEALTHY): S.UNHEALTHY,
        (S.UNHEALTHY, E.EXPIRE): S.LOST,
        (S.UNHEALTHY, E.RECONNECTED): S.RUNNING,
        (S.UNHEALTHY, E.SHUTDOWN): S.SHUTDOWN,
        (S.UNHEALTHY, E.DECOMMISSION): S.DECOMMISSIONED,
        (S.LOST, E.RECONNECTED): S.RUNNING,
        (S.SHUTDOWN, E.RECONNECTED): S.RUNNING,
        (S.REBOOTED, E.RECONNECTED): S.RUNNING,
        (S.DECOMMISSIONED, E.RECONNECTED): S.DECOMMISSIONED,
    },
    frozenset({S.LOST, S.SHUTDOWN, S.DECOMMISSIONED, S.REBOOTED}),
)

ACTIVE_STATES = frozenset({S.NEW, S.RUNNING, S.UNHEALTHY})
