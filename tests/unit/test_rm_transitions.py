"""The RM's transitions through its machines, without Redis: a kill is the KILLING state (not a field),
containers end RELEASED, KILLED, EXPIRED or COMPLETED by what ended them, and an illegal event changes
nothing. Same harness as test_rm_core (an RM whose writes stay in its outbox)."""

from __future__ import annotations

import logging

import pytest

from miniyarn import keys
from miniyarn.exit_status import ContainerExitStatus
from miniyarn.protocol import Allocate, AllocateResponse, StopContainer
from miniyarn.records import ApplicationSubmissionContext, ContainerStatus
from miniyarn.states.application import AppEvent, FinalApplicationStatus, YarnApplicationState
from miniyarn.states.attempt import AttemptState
from miniyarn.states.container import ContainerState, RMContainerState
from miniyarn.states.node import NodeState
from resourcemanager import services
from resourcemanager.context import KILL_GRACE_MS
from resourcemanager.webapp.views import client_state
from tests.unit.test_rm_core import (
    APP,
    NODE,
    acquired_container,
    allocate,
    ask,
    heartbeat,
    make_rm,
    registered_app,
    running,
)

A = YarnApplicationState


def test_a_kill_of_a_running_app_is_killing_until_its_am_container_stops() -> None:
    rm = make_rm()
    app = registered_app(rm)
    attempt = app.current
    assert attempt is not None
    rm.out.messages.clear()
    rm.kill(APP, "stop it")
    assert app.state is A.KILLING and app.state_before_killing is A.RUNNING
    # Clients see the state it was killed in, as YARN's stateBeforeKilling.
    assert client_state(app) == (A.RUNNING, FinalApplicationStatus.UNDEFINED)
    ((key, body),) = rm.out.messages
    assert key == keys.nm_commands(NODE)
    stop = StopContainer.model_validate_json(body)
    assert stop.container_id == attempt.am_container_id
    assert stop.exit_status == ContainerExitStatus.KILLED_BY_RESOURCEMANAGER
    rm.kill(APP)  # a second kill is the same kill: no second stop
    assert len(rm.out.messages) == 1 and app.state is A.KILLING
    heartbeat(rm, ContainerStatus(container_id=attempt.am_container_id, state=ContainerState.COMPLETE,
                                  exit_status=ContainerExitStatus.KILLED_BY_RESOURCEMANAGER))
    assert app.state is A.KILLED and app.final_status is FinalApplicationStatus.KILLED
    assert attempt.state is AttemptState.KILLED
    assert app.diagnostics == "stop it"
    (done,) = app.finished_containers
    assert done.state is RMContainerState.COMPLETED  # its node reported it finished


def test_a_killing_app_whose_am_never_reports_is_killed_after_the_grace() -> None:
    rm = make_rm()
    app = registered_app(rm)
    attempt = app.current
    assert attempt is not None
    rm.kill(APP)
    rm.check_liveness(app.killing_since_ms + KILL_GRACE_MS - 1)
    assert app.state is A.KILLING
    rm.check_liveness(app.killing_since_ms + KILL_GRACE_MS + 1)
    assert app.state is A.KILLED and attempt.state is AttemptState.KILLED
    (am,) = app.finished_containers
    assert am.state is RMContainerState.KILLED and am.container.id not in rm.containers


def test_a_kill_before_the_am_container_exists_ends_the_app_at_once() -> None:
    rm = make_rm()
    rm.new_app_ids[APP] = ""
    rm.submit(ApplicationSubmissionContext.model_validate({"application-id": APP}), "alice")  # no node: no AM
    app = rm.apps[APP]
    assert app.state is A.ACCEPTED
    rm.kill(APP)
    assert app.state is A.KILLED and app.current is not None and app.current.state is AttemptState.KILLED
    assert rm.sched_apps.get(APP) is None


def test_containers_end_in_the_state_of_what_ended_them() -> None:
    rm = make_rm(**{"yarn.resourcemanager.rm.container-allocation.expiry-interval-ms": "1000"})
    app = registered_app(rm)
    attempt = app.current
    assert attempt is not None
    released = acquired_container(rm)
    got = allocate(rm, 2, n=1, asks=[])
    assert isinstance(got, AllocateResponse)
    services.handle(rm, Allocate(attempt_id=attempt.attempt_id, reply_to=f"yarn:reply:{attempt.attempt_id}:x",
                                          amrm_token=rm.amrm_token(attempt.attempt_id), response_id=3,
                                          releases=[released.id]))
    ends = {rc.container.id: rc.state for rc in app.finished_containers}
    assert ends == {released.id: RMContainerState.RELEASED}
    # A grant nobody acquires expires.
    allocate(rm, 4, n=2, asks=[ask(1)])
    rm.schedule()
    (granted,) = attempt.new_containers
    rm.expire_allocations(rm.containers[granted.id].start_time + 1001)
    assert {rc.container.id: rc.state for rc in app.finished_containers}[granted.id] is RMContainerState.EXPIRED
    # A lost node's containers are killed, the AM's among them.
    rm.check_liveness(rm.nodes[NODE].last_heartbeat_ms + rm.nm_expiry_ms + 1)
    assert rm.nodes[NODE].state is NodeState.LOST
    am = next(rc for rc in app.finished_containers if rc.is_am)
    assert am.state is RMContainerState.KILLED


def test_an_illegal_event_is_logged_and_changes_nothing(caplog: pytest.LogCaptureFixture) -> None:
    rm = make_rm()
    app = registered_app(rm)
    heartbeat(rm, running(app.current.am_container_id) if app.current else running(""))
    with caplog.at_level(logging.WARNING, logger="miniyarn.states"):
        assert rm.app_event(app, AppEvent.APP_ACCEPTED) is False
    assert app.state is A.RUNNING
    assert f"{APP}: Can't handle this event at current state: APP_ACCEPTED at RUNNING (RMApp)" in caplog.text
