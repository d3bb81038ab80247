"""RMAppAttempt: the life of one ApplicationMaster attempt."""

from __future__ import annotations

from enum import StrEnum

from miniyarn.states import StateMachine


class AttemptState(StrEnum):
    NEW = "NEW"
    SUBMITTED = "SUBMITTED"
    SCHEDULED = "SCHEDULED"
    ALLOCATED = "ALLOCATED"
    LAUNCHED = "LAUNCHED"
    RUNNING = "RUNNING"
    FINISHING = "FINISHING"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"


class AttemptEvent(StrEnum):
    START = "START"
    ATTEMPT_ADDED = "ATTEMPT_ADDED"  # scheduler holds the AM ask
    CONTAINER_ALLOCATED = "CONTAINER_ALLOCATED"
    LAUNCHED = "LAUNCHED"
    REGISTERED = "REGISTERED"
    UNREGISTERED = "UNREGISTERED"
    CONTAINER_FINISHED = "CONTAINER_FINISHED"  # the AM container exited
    EXPIRE = "EXPIRE"  # AM liveness monitor gave up on it
    LAUNCH_FAILED = "LAUNCH_FAILED"
    KILL = "KILL"
    RECOVER = "RECOVER"  # a restarted RM took it back: its AM must register with the new RM again


S = AttemptState
E = AttemptEvent

ATTEMPT_MACHINE: StateMachine[AttemptState, AttemptEvent] = StateMachine(
    "RMAppAttempt",
    {
        (S.NEW, E.START): S.SUBMITTED,
        (S.NEW, E.KILL): S.KILLED,
        (S.SUBMITTED, E.ATTEMPT_ADDED): S.SCHEDULED,
        (S.SUBMITTED, E.KILL): S.KILLED,
        (S.SCHEDULED, E.CONTAINER_ALLOCATED): S.ALLOCATED,
        (S.SCHEDULED, E.KILL): S.KILLED,
        (S.ALLOCATED, E.LAUNCHED): S.LAUNCHED,
        (S.ALLOCATED, E.LAUNCH_FAILED): S.FAILED,
        (S.ALLOCATED, E.CONTAINER_FINISHED): S.FAILED,
        (S.ALLOCATED, E.KILL): S.KILLED,
        (S.LAUNCHED, E.REGISTERED): S.RUNNING,
        (S.LAUNCHED, E.CONTAINER_FINISHED): S.FAILED,
        (S.LAUNCHED, E.EXPIRE): S.FAILED,
        (S.LAUNCHED, E.UNREGISTERED): S.FINISHING,
        (S.LAUNCHED, E.KILL): S.KILLED,
        (S.RUNNING, E.UNREGISTERED): S.FINISHING,
        (S.RUNNING, E.CONTAINER_FINISHED): S.FAILED,
        (S.RUNNING, E.EXPIRE): S.FAILED,
        (S.RUNNING, E.KILL): S.KILLED,
        (S.RUNNING, E.RECOVER): S.LAUNCHED,
        (S.FINISHING, E.CONTAINER_FINISHED): S.FINISHED,
        (S.FINISHING, E.EXPIRE): S.FINISHED,
        # Only its app's end kills an attempt: one that unregistered and did not exit ends KILLED with it.
        (S.FINISHING, E.KILL): S.KILLED,
        (S.FINISHED, E.CONTAINER_FINISHED): S.FINISHED,
        (S.FINISHED, E.KILL): S.FINISHED,
        (S.FAILED, E.CONTAINER_FINISHED): S.FAILED,
        (S.FAILED, E.KILL): S.FAILED,
        (S.KILLED, E.CONTAINER_FINISHED): S.KILLED,
        (S.KILLED, E.KILL): S.KILLED,
    },
    frozenset({S.FINISHED, S.FAILED, S.KILLED}),
)
