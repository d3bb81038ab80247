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
        # APP_SAVED is a multi-arc: the unregistration was saving for FINISHING.
        s = APP_MACHINE.next(s, event, A.FINISHING if event is AppEvent.APP_SAVED else None)
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


def test_clients_see_yarns_application_states_only() -> None:
    from miniyarn.states.application import CLIENT_STATES, FinalApplicationStatus, YarnApplicationState, client_view

    S, F = YarnApplicationState, FinalApplicationStatus
    assert [s.value for s in CLIENT_STATES] == ["NEW", "NEW_SAVING", "SUBMITTED", "ACCEPTED", "RUNNING", "FINISHED",
                                               "FAILED", "KILLED"]
    assert client_view(S.FINISHING, F.UNDEFINED, F.SUCCEEDED) == (S.FINISHED, F.SUCCEEDED)
    assert client_view(S.FINAL_SAVING, F.UNDEFINED, None) == (S.RUNNING, F.UNDEFINED)
    assert client_view(S.KILLED, F.KILLED, None) == (S.KILLED, F.KILLED)
    for s in CLIENT_STATES:
        assert client_view(s, F.UNDEFINED, None)[0] is s
