from __future__ import annotations

import pytest

from miniyarn.states import InvalidStateTransitionError
from miniyarn.states.application import APP_MACHINE, AppEvent, YarnApplicationState
from miniyarn.states.attempt import ATTEMPT_MACHINE, AttemptEvent, AttemptState
from miniyarn.states.container import CONTAINER_MACHINE, ContainerEvent, RMContainerState
from miniyarn.states.node import NODE_MACHINE, NodeEvent, NodeState

A = YarnApplicationState


def test_app_happy_path() -> None:
    s = A.NEW
    for event in (AppEvent.START, AppEvent.APP_NEW_SAVED, AppEvent.APP_ACCEPTED, AppEvent.ATTEMPT_REGISTERED,
                  AppEvent.ATTEMPT_UNREGISTERED, AppEvent.APP_SAVED, AppEvent.ATTEMPT_FINISHED):
        s = APP_MACHINE.next(s, event)
    assert s is A.FINISHED
    assert APP_MACHINE.is_final(s)


def test_app_retry_goes_back_to_accepted() -> None:
    assert APP_MACHINE.next(A.RUNNING, AppEvent.ATTEMPT_FAILED_RETRY) is A.ACCEPTED


def test_app_illegal_transition_names_event_and_state() -> None:
    with pytest.raises(InvalidStateTransitionError, match="Invalid event: ATTEMPT_REGISTERED at NEW"):
        APP_MACHINE.next(A.NEW, AppEvent.ATTEMPT_REGISTERED)
    assert not APP_MACHINE.accepts(A.FINISHED, AppEvent.APP_ACCEPTED)


def test_attempt_path_and_failure() -> None:
    s = AttemptState.NEW
    for event in (AttemptEvent.START, AttemptEvent.ATTEMPT_ADDED, AttemptEvent.CONTAINER_ALLOCATED,
                  AttemptEvent.LAUNCHED, AttemptEvent.REGISTERED):
        s = ATTEMPT_MACHINE.next(s, event)
    assert s is AttemptState.RUNNING
    assert ATTEMPT_MACHINE.next(s, AttemptEvent.CONTAINER_FINISHED) is AttemptState.FAILED
    assert ATTEMPT_MACHINE.next(s, AttemptEvent.EXPIRE) is AttemptState.FAILED
    fin = ATTEMPT_MACHINE.next(s, AttemptEvent.UNREGISTERED)
    assert ATTEMPT_MACHINE.next(fin, AttemptEvent.CONTAINER_FINISHED) is AttemptState.FINISHED


def test_container_and_node_machines() -> None:
    c = CONTAINER_MACHINE.next(RMContainerState.NEW, ContainerEvent.START)
    c = CONTAINER_MACHINE.next(c, ContainerEvent.ACQUIRED)
    assert CONTAINER_MACHINE.next(c, ContainerEvent.LAUNCHED) is RMContainerState.RUNNING
    with pytest.raises(InvalidStateTransitionError):
        CONTAINER_MACHINE.next(RMContainerState.COMPLETED, ContainerEvent.LAUNCHED)
    n = NODE_MACHINE.next(NodeState.NEW, NodeEvent.STARTED)
    assert NODE_MACHINE.next(n, NodeEvent.EXPIRE) is NodeState.LOST
    assert NODE_MACHINE.next(NodeState.LOST, NodeEvent.RECONNECTED) is NodeState.RUNNING
