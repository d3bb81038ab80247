"""Every transition of every machine, table-driven: each (state, event) pair either leads where the rows
below say or is refused (logged, state unchanged). The rows are written out here on purpose, apart from
the machines: a change to a machine must change a row."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import Enum
from typing import Any

import pytest

from miniyarn.states import InvalidStateTransitionError, StateMachine
from miniyarn.states.application import APP_MACHINE, AppEvent, YarnApplicationState
from miniyarn.states.attempt import ATTEMPT_MACHINE, AttemptEvent, AttemptState
from miniyarn.states.container import CONTAINER_MACHINE, ContainerEvent, RMContainerState
from miniyarn.states.nm_container import NM_CONTAINER_MACHINE, NMContainerEvent, NMContainerState
from miniyarn.states.node import NODE_MACHINE, NodeEvent, NodeState

APP_ROWS = """
NEW START -> NEW_SAVING
NEW KILL -> KILLED
NEW APP_REJECTED -> FAILED
NEW_SAVING APP_NEW_SAVED -> SUBMITTED
NEW_SAVING KILL -> KILLED
NEW_SAVING APP_REJECTED -> FAILED
SUBMITTED APP_ACCEPTED -> ACCEPTED
SUBMITTED APP_REJECTED -> FAILED
SUBMITTED KILL -> KILLED
ACCEPTED ATTEMPT_REGISTERED -> RUNNING
ACCEPTED ATTEMPT_FAILED_RETRY -> ACCEPTED
ACCEPTED ATTEMPT_FAILED -> FINAL_SAVING
ACCEPTED ATTEMPT_UNREGISTERED -> FINAL_SAVING
ACCEPTED KILL -> KILLING|FINAL_SAVING
RUNNING ATTEMPT_UNREGISTERED -> FINAL_SAVING
RUNNING ATTEMPT_FAILED_RETRY -> ACCEPTED
RUNNING ATTEMPT_FAILED -> FINAL_SAVING
RUNNING KILL -> KILLING|FINAL_SAVING
FINAL_SAVING APP_SAVED -> FINISHING|FINISHED|FAILED|KILLED
FINAL_SAVING KILL -> FINAL_SAVING
FINISHING ATTEMPT_FINISHED -> FINISHED
FINISHING KILL -> KILLING|FINAL_SAVING
KILLING KILL -> KILLING
KILLING ATTEMPT_REGISTERED -> KILLING
KILLING ATTEMPT_UNREGISTERED -> KILLING
KILLING ATTEMPT_KILLED -> FINAL_SAVING
FINISHED KILL -> FINISHED
FINISHED ATTEMPT_FINISHED -> FINISHED
FAILED KILL -> FAILED
FAILED ATTEMPT_FINISHED -> FAILED
KILLED KILL -> KILLED
KILLED ATTEMPT_FINISHED -> KILLED
"""

ATTEMPT_ROWS = """
NEW START -> SUBMITTED
NEW KILL -> KILLED
SUBMITTED ATTEMPT_ADDED -> SCHEDULED
SUBMITTED KILL -> KILLED
SCHEDULED CONTAINER_ALLOCATED -> ALLOCATED
SCHEDULED KILL -> KILLED
ALLOCATED LAUNCHED -> LAUNCHED
ALLOCATED LAUNCH_FAILED -> FAILED
ALLOCATED CONTAINER_FINISHED -> FAILED
ALLOCATED KILL -> KILLED
LAUNCHED REGISTERED -> RUNNING
LAUNCHED CONTAINER_FINISHED -> FAILED
LAUNCHED EXPIRE -> FAILED
LAUNCHED UNREGISTERED -> FINISHING
LAUNCHED KILL -> KILLED
RUNNING UNREGISTERED -> FINISHING
RUNNING CONTAINER_FINISHED -> FAILED
RUNNING EXPIRE -> FAILED
RUNNING KILL -> KILLED
RUNNING RECOVER -> LAUNCHED
FINISHING CONTAINER_FINISHED -> FINISHED
FINISHING EXPIRE -> FINISHED
FINISHING KILL -> KILLED
FINISHED CONTAINER_FINISHED -> FINISHED
FINISHED KILL -> FINISHED
FAILED CONTAINER_FINISHED -> FAILED
FAILED KILL -> FAILED
KILLED CONTAINER_FINISHED -> KILLED
KILLED KILL -> KILLED
"""

CONTAINER_ROWS = """
NEW START -> ALLOCATED
NEW KILL -> KILLED
ALLOCATED ACQUIRED -> ACQUIRED
ALLOCATED LAUNCHED -> RUNNING
ALLOCATED RELEASED -> RELEASED
ALLOCATED EXPIRE -> EXPIRED
ALLOCATED KILL -> KILLED
ALLOCATED FINISHED -> COMPLETED
ACQUIRED LAUNCHED -> RUNNING
ACQUIRED FINISHED -> COMPLETED
ACQUIRED RELEASED -> RELEASED
ACQUIRED EXPIRE -> EXPIRED
ACQUIRED KILL -> KILLED
RUNNING FINISHED -> COMPLETED
RUNNING RELEASED -> RELEASED
RUNNING KILL -> KILLED
RUNNING LAUNCHED -> RUNNING
"""

NODE_ROWS = """
NEW STARTED -> RUNNING
NEW EXPIRE -> LOST
NEW SHUTDOWN -> SHUTDOWN
RUNNING HEALTHY -> RUNNING
RUNNING UNHEALTHY -> UNHEALTHY
RUNNING EXPIRE -> LOST
RUNNING RECONNECTED -> RUNNING
RUNNING SHUTDOWN -> SHUTDOWN
RUNNING DECOMMISSION -> DECOMMISSIONED
UNHEALTHY HEALTHY -> RUNNING
UNHEALTHY UNHEALTHY -> UNHEALTHY
UNHEALTHY EXPIRE -> LOST
UNHEALTHY RECONNECTED -> RUNNING
UNHEALTHY SHUTDOWN -> SHUTDOWN
UNHEALTHY DECOMMISSION -> DECOMMISSIONED
LOST RECONNECTED -> RUNNING
SHUTDOWN RECONNECTED -> RUNNING
REBOOTED RECONNECTED -> RUNNING
DECOMMISSIONED RECONNECTED -> DECOMMISSIONED
"""

NM_CONTAINER_ROWS = """
NEW INIT_CONTAINER -> LOCALIZING
NEW CONTAINER_RECOVERED -> RUNNING
NEW CONTAINER_EXITED_WITH_SUCCESS -> EXITED_WITH_SUCCESS
NEW CONTAINER_EXITED_WITH_FAILURE -> EXITED_WITH_FAILURE
LOCALIZING RESOURCE_LOCALIZED -> SCHEDULED
LOCALIZING CONTAINER_EXITED_WITH_FAILURE -> EXITED_WITH_FAILURE
SCHEDULED CONTAINER_LAUNCHED -> RUNNING
SCHEDULED CONTAINER_EXITED_WITH_FAILURE -> EXITED_WITH_FAILURE
RUNNING KILL_CONTAINER -> KILLING
RUNNING CONTAINER_EXITED_WITH_SUCCESS -> EXITED_WITH_SUCCESS
RUNNING CONTAINER_EXITED_WITH_FAILURE -> EXITED_WITH_FAILURE
KILLING KILL_CONTAINER -> KILLING
KILLING CONTAINER_EXITED_WITH_FAILURE -> EXITED_WITH_FAILURE
EXITED_WITH_SUCCESS CONTAINER_RESOURCES_CLEANEDUP -> DONE
EXITED_WITH_FAILURE CONTAINER_RESOURCES_CLEANEDUP -> DONE
"""

MACHINES: list[tuple[StateMachine[Any, Any], type[Enum], type[Enum], str]] = [
    (APP_MACHINE, YarnApplicationState, AppEvent, APP_ROWS),
    (ATTEMPT_MACHINE, AttemptState, AttemptEvent, ATTEMPT_ROWS),
    (CONTAINER_MACHINE, RMContainerState, ContainerEvent, CONTAINER_ROWS),
    (NODE_MACHINE, NodeState, NodeEvent, NODE_ROWS),
    (NM_CONTAINER_MACHINE, NMContainerState, NMContainerEvent, NM_CONTAINER_ROWS),
]


def parse(rows: str, states: type[Enum], events: type[Enum]) -> dict[tuple[Enum, Enum], frozenset[Enum]]:
    table: dict[tuple[Enum, Enum], frozenset[Enum]] = {}
    for line in rows.strip().splitlines():
        left, right = line.split(" -> ")
        state, event = left.split()
        table[(states[state], events[event])] = frozenset(states[t] for t in right.split("|"))
    return table


def every_pair() -> list[tuple[StateMachine[Any, Any], Enum, Enum, frozenset[Enum]]]:
    cases = []
    for machine, states, events, rows in MACHINES:
        expected = parse(rows, states, events)
        for s in states:
            for e in events:
                cases.append((machine, s, e, expected.get((s, e), frozenset())))
    return cases


@dataclass
class Record:
    state: Any


@pytest.mark.parametrize(("machine", "state", "event", "targets"), every_pair(),
                         ids=lambda v: getattr(v, "name", None) or str(getattr(v, "value", "")) or None)
def test_every_state_and_event(machine: StateMachine[Any, Any], state: Enum, event: Enum,
                               targets: frozenset[Enum], caplog: pytest.LogCaptureFixture) -> None:
    assert machine.targets(state, event) == targets
    assert machine.accepts(state, event) is bool(targets)
    record = Record(state)
    if not targets:
        with caplog.at_level(logging.WARNING, logger="miniyarn.states"):
            assert machine.fire(record, event, what="rec_1") is False
        assert record.state is state
        assert f"rec_1: Can't handle this event at current state: {event.name} at {state.name}" in caplog.text
        with pytest.raises(InvalidStateTransitionError, match=f"Invalid event: {event.name} at {state.name}"):
            machine.next(state, event)
        return
    for target in targets:
        record.state = state
        assert machine.fire(record, event, target if len(targets) > 1 else None) is True
        assert record.state is target
        assert machine.next(state, event, target) is target
    if len(targets) > 1:
        # A multi-arc: the hook must say which of its states it takes, and only one of them.
        with pytest.raises(InvalidStateTransitionError):
            machine.next(state, event)
        outside = next(s for s in type(state) if s not in targets)
        record.state = state
        assert machine.fire(record, event, outside) is False and record.state is state
    else:
        (only,) = targets
        outside = next(s for s in type(state) if s is not only)
        with pytest.raises(InvalidStateTransitionError):
            machine.next(state, event, outside)


FINALS = {
    "RMApp": "FINISHED FAILED KILLED",
    "RMAppAttempt": "FINISHED FAILED KILLED",
    "RMContainer": "COMPLETED EXPIRED RELEASED KILLED",
    "RMNode": "LOST SHUTDOWN DECOMMISSIONED REBOOTED",
    "ContainerImpl": "DONE",
}


@pytest.mark.parametrize("machine", [m for m, *_ in MACHINES], ids=[m.name for m, *_ in MACHINES])
def test_final_states_are_left_only_by_self_loops(machine: StateMachine[Any, Any]) -> None:
    assert sorted(s.name for s in machine.final) == sorted(FINALS[machine.name].split())
    for (state, event), to in machine.table.items():
        # A node comes back from LOST or SHUTDOWN by registering again (RECONNECTED); nothing else leaves a final state.
        if machine.is_final(state) and not (machine is NODE_MACHINE and event is NodeEvent.RECONNECTED):
            assert to == state, f"{machine.name} leaves final {state.name} on {event.name}"


def test_app_kill_paths() -> None:
    """A kill with an AM container running waits in KILLING; then the attempt's end saves KILLED."""
    A, E = YarnApplicationState, AppEvent
    app = Record(A.RUNNING)
    assert APP_MACHINE.fire(app, E.KILL, A.KILLING)
    assert APP_MACHINE.fire(app, E.ATTEMPT_UNREGISTERED) and app.state is A.KILLING
    assert APP_MACHINE.fire(app, E.ATTEMPT_KILLED) and app.state is A.FINAL_SAVING
    assert APP_MACHINE.fire(app, E.APP_SAVED, A.KILLED) and app.state is A.KILLED
    assert not APP_MACHINE.fire(app, E.ATTEMPT_REGISTERED) and app.state is A.KILLED


def test_what_the_rm_hears_of_an_nm_container() -> None:
    S = NMContainerState
    assert {s: s.reported().value for s in S} == {
        S.NEW: "NEW", S.LOCALIZING: "NEW", S.SCHEDULED: "NEW", S.RUNNING: "RUNNING", S.KILLING: "RUNNING",
        S.EXITED_WITH_SUCCESS: "COMPLETE", S.EXITED_WITH_FAILURE: "COMPLETE", S.DONE: "COMPLETE"}
