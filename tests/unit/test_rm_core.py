"""The RM's transitions without Redis: events in (AM calls, heartbeats, clock), the outbox and the records
asserted, as dask tests its worker state machine. The RM's client points at a closed port: a transition
that tried to write would fail the test."""

from __future__ import annotations

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from miniyarn.config import YarnConfiguration
from miniyarn.protocol import (
    RM_REPLY,
    Allocate,
    AllocateResponse,
    FinishApplicationMaster,
    FinishResponse,
    NodeHeartbeat,
    RegisterApplicationMaster,
    RegisterResponse,
    RemoteError,
)
from miniyarn.records import ANY, ApplicationSubmissionContext, Container, ContainerStatus, Resource, ResourceRequest
from miniyarn.states.application import FinalApplicationStatus, YarnApplicationState
from miniyarn.states.attempt import AttemptEvent, AttemptState
from miniyarn.states.container import ContainerState, RMContainerState
from resourcemanager import services
from resourcemanager.context import MISSING_GRACE_MS, Outbox
from resourcemanager.health import STALL_MS, LoopHealth
from resourcemanager.rm import ResourceManager
from resourcemanager.rmstate import RMApp

APP = "application_1700000000000_0001"
ATTEMPT = "appattempt_1700000000000_0001_000001"
NODE = "n1:1"


class UnflushedRM(ResourceManager):
    """A ResourceManager whose writes stay in its outbox for the test to read (callers flush; here nobody
    does). Everything else is the real RM."""

    def flush(self) -> None:
        pass

    def flush_replies(self) -> None:
        pass


def make_rm(**conf: str) -> UnflushedRM:
    props = {"yarn.scheduler.minimum-allocation-mb": "128", **conf}
    return UnflushedRM(YarnConfiguration(props, load_files=False), redis.Redis(port=1), web_address="http://rm:1")


def heartbeat(rm: ResourceManager, *statuses: ContainerStatus, node: str = NODE) -> None:
    services.handle(rm, NodeHeartbeat(node_id=node, http_address=node, capability=Resource(memory=4096, vcores=4),
                                      container_statuses=list(statuses)))


def running(cid: str) -> ContainerStatus:
    return ContainerStatus(container_id=cid, state=ContainerState.RUNNING)


def call(rm: ResourceManager, msg: RegisterApplicationMaster | Allocate | FinishApplicationMaster) -> object:
    """Handle one AM call and return the reply the RM queued for it."""
    rm.out.replies.clear()
    services.handle(rm, msg)
    ((key, body),) = rm.out.replies
    assert key == msg.reply_to
    return RM_REPLY.validate_json(body)


def reply_key(n: int) -> str:
    return f"yarn:reply:{ATTEMPT}:{n}"


def registered_app(rm: UnflushedRM) -> RMApp:
    """An app whose AM container runs on NODE and whose AM registered."""
    heartbeat(rm)
    rm.new_app_ids[APP] = ""
    rm.submit(ApplicationSubmissionContext.model_validate({"application-id": APP}), "alice")
    rm.schedule()
    app = rm.apps[APP]
    attempt = app.current
    assert attempt is not None and attempt.state is AttemptState.LAUNCHED
    heartbeat(rm, running(attempt.am_container_id))
    token = rm.amrm_token(ATTEMPT)
    reply = call(rm, RegisterApplicationMaster(attempt_id=ATTEMPT, reply_to=reply_key(0), amrm_token=token))
    assert isinstance(reply, RegisterResponse)
    return app


def allocate(rm: ResourceManager, response_id: int, n: int = 0, asks: list[ResourceRequest] | None = None) -> object:
    return call(rm, Allocate(attempt_id=ATTEMPT, reply_to=reply_key(100 + n), amrm_token=rm.amrm_token(ATTEMPT),
                             response_id=response_id, asks=asks or []))


def ask(n: int, mb: int = 512) -> ResourceRequest:
    return ResourceRequest(priority=1, resource_name=ANY, capability=Resource(memory=mb, vcores=1), num_containers=n)


# ---- the AMRM protocol ---------------------------------------------------------------------


def acquired_container(rm: ResourceManager) -> Container:
    """Ask for one container, schedule it and take it in the next allocate (response id 1)."""
    allocate(rm, 0, asks=[ask(1)])
    rm.schedule()
    got = allocate(rm, 1)
    assert isinstance(got, AllocateResponse)
    (c,) = got.allocated_containers
    return c


def test_a_repeated_response_id_gets_the_last_response_and_changes_nothing() -> None:
    rm = make_rm()
    registered_app(rm)
    first = allocate(rm, 0, asks=[ask(2)])
    assert isinstance(first, AllocateResponse) and first.response_id == 1
    rm.schedule()
    second = allocate(rm, 1, n=1)
    assert isinstance(second, AllocateResponse) and second.response_id == 2
    assert len(second.allocated_containers) == 2
    # The answer to id 1 was lost: the AM asks with id 1 again and gets the same containers, no new ones.
    again = allocate(rm, 1, n=2)
    assert again == second
    assert rm.apps[APP].current is not None and rm.apps[APP].current.response_id == 2


def test_an_out_of_order_response_id_is_refused_as_yarn_refuses_it() -> None:
    rm = make_rm()
    registered_app(rm)
    assert isinstance(allocate(rm, 0), AllocateResponse)
    for wrong in (5, -3):
        err = allocate(rm, wrong)
        assert isinstance(err, RemoteError)
        assert err.exception == "InvalidApplicationMasterRequestException"
        assert err.message == (f"Invalid responseId in AllocateRequest from application attempt: {ATTEMPT}, "
                               f"expect responseId to be 1, but get {wrong}")


def test_a_handler_that_raises_answers_a_remote_error(monkeypatch: pytest.MonkeyPatch) -> None:
    rm = make_rm()
    registered_app(rm)

    def broken(*_: object) -> object:
        raise KeyError("no such thing")

    monkeypatch.setattr(services, "allocate", broken)  # a bug in a handler, of whatever kind
    err = allocate(rm, 0)
    assert isinstance(err, RemoteError) and err.exception == "YarnRuntimeException"
    assert "KeyError" in err.message and ATTEMPT in err.message


def test_a_retried_register_and_unregister_are_answered_as_the_first() -> None:
    rm = make_rm()
    registered_app(rm)
    token = rm.amrm_token(ATTEMPT)
    again = call(rm, RegisterApplicationMaster(attempt_id=ATTEMPT, reply_to=reply_key(1), amrm_token=token))
    assert isinstance(again, RegisterResponse)
    assert isinstance(allocate(rm, 0), AllocateResponse)
    late = call(rm, RegisterApplicationMaster(attempt_id=ATTEMPT, reply_to=reply_key(2), amrm_token=token))
    assert isinstance(late, RemoteError) and late.message == f"Application Master is already registered : {APP}"
    finish = FinishApplicationMaster(attempt_id=ATTEMPT, reply_to=reply_key(3), amrm_token=token,
                                     final_status=FinalApplicationStatus.SUCCEEDED)
    assert isinstance(call(rm, finish), FinishResponse)
    assert isinstance(call(rm, finish.model_copy(update={"reply_to": reply_key(4)})), FinishResponse)
    assert rm.apps[APP].current is not None and rm.apps[APP].current.state is AttemptState.FINISHING


def test_a_recovered_attempt_must_re_register_and_keeps_its_sequence_fresh() -> None:
    rm = make_rm()
    app = registered_app(rm)
    assert isinstance(allocate(rm, 0), AllocateResponse)
    attempt = app.current
    assert attempt is not None
    assert rm.attempt_event(attempt, AttemptEvent.RECOVER)  # what recovery does to a RUNNING attempt
    assert attempt.state is AttemptState.LAUNCHED
    err = allocate(rm, 1)
    assert isinstance(err, RemoteError) and err.exception == "ApplicationMasterNotRegisteredException"
    token = rm.amrm_token(ATTEMPT)
    assert isinstance(call(rm, RegisterApplicationMaster(attempt_id=ATTEMPT, reply_to=reply_key(9),
                                                         amrm_token=token)), RegisterResponse)
    assert app.state is YarnApplicationState.RUNNING and attempt.state is AttemptState.RUNNING
    ok = allocate(rm, 0)
    assert isinstance(ok, AllocateResponse) and ok.response_id == 1


# ---- containers: acquisition, expiry, node reports -------------------------------------------


def test_acquired_containers_are_stored_before_the_reply() -> None:
    rm = make_rm()
    registered_app(rm)
    allocate(rm, 0, asks=[ask(1)])
    rm.schedule()
    attempt = rm.apps[APP].current
    assert attempt is not None and len(attempt.new_containers) == 1
    assert '"new_containers":[{' in rm.app_record(rm.apps[APP])
    rm.out = Outbox()
    allocate(rm, 1)
    assert rm.out.acquired_apps == {APP}
    assert attempt.new_containers == []


def test_an_unacquired_grant_expires_and_its_ask_comes_back() -> None:
    rm = make_rm(**{"yarn.resourcemanager.rm.container-allocation.expiry-interval-ms": "1000"})
    app = registered_app(rm)
    allocate(rm, 0, asks=[ask(1)])
    rm.schedule()
    attempt = app.current
    assert attempt is not None
    (granted,) = attempt.new_containers
    sapp = rm.sched_apps[APP]
    assert sapp.pending_any() == []
    used = rm.sched_nodes[NODE].used
    rm.expire_allocations(rm.containers[granted.id].start_time + 1001)
    assert granted.id not in rm.containers and attempt.new_containers == []
    assert [r.num_containers for r in sapp.pending_any()] == [1]
    assert rm.sched_nodes[NODE].used == used - granted.resource
    assert rm.out.containers[granted.id] is None
    rm.schedule()
    assert len(attempt.new_containers) == 1 and attempt.new_containers[0].id != granted.id


def test_an_acquired_container_never_launched_expires_without_a_new_ask() -> None:
    rm = make_rm(**{"yarn.resourcemanager.rm.container-allocation.expiry-interval-ms": "1000"})
    app = registered_app(rm)
    c = acquired_container(rm)
    assert rm.containers[c.id].state is RMContainerState.ACQUIRED
    rm.expire_allocations(rm.containers[c.id].start_time + 1001)
    assert c.id not in rm.containers
    assert rm.sched_apps[APP].pending_any() == []
    done = allocate(rm, 2)
    assert isinstance(done, AllocateResponse)
    assert [(s.container_id, s.exit_status, s.diagnostics) for s in done.completed_container_statuses] == [
        (c.id, -100, "Container expired since it was unused")]
    assert app.current is not None


def test_a_launched_container_does_not_expire() -> None:
    rm = make_rm(**{"yarn.resourcemanager.rm.container-allocation.expiry-interval-ms": "1000"})
    registered_app(rm)
    c = acquired_container(rm)
    attempt = rm.apps[APP].current
    assert attempt is not None
    heartbeat(rm, running(attempt.am_container_id), running(c.id))
    rm.expire_allocations(rm.containers[c.id].start_time + 10_000)
    assert rm.containers[c.id].state is RMContainerState.RUNNING


def test_a_running_container_missing_from_its_nodes_reports_is_completed_after_the_grace() -> None:
    rm = make_rm()
    registered_app(rm)
    c = acquired_container(rm)
    attempt = rm.apps[APP].current
    assert attempt is not None
    am = running(attempt.am_container_id)
    heartbeat(rm, am, running(c.id))
    heartbeat(rm, am)  # the NM restarted without it: the grace starts
    assert c.id in rm.containers
    rm.containers[c.id].missing_since_ms -= MISSING_GRACE_MS
    heartbeat(rm, am)
    assert c.id not in rm.containers
    done = allocate(rm, 2)
    assert isinstance(done, AllocateResponse)
    ((cid, status),) = [(s.container_id, s.exit_status) for s in done.completed_container_statuses]
    assert (cid, status) == (c.id, -100)
    assert attempt.am_container_id in rm.containers  # the AM, still reported, is kept


def test_an_acquired_container_not_yet_started_is_not_missing() -> None:
    rm = make_rm()
    registered_app(rm)
    c = acquired_container(rm)
    attempt = rm.apps[APP].current
    assert attempt is not None
    for _ in range(3):
        heartbeat(rm, running(attempt.am_container_id))
    # Its AM has it and has not started it yet: allocation expiry, not the node's reports, decides.
    assert rm.containers[c.id].state is RMContainerState.ACQUIRED and rm.containers[c.id].missing_since_ms == 0


def test_a_blind_spell_gives_nodes_and_ams_a_fresh_window() -> None:
    rm = make_rm(**{"yarn.nm.liveness-monitor.expiry-interval-ms": "3000"})
    app = registered_app(rm)
    node, attempt = rm.nodes[NODE], app.current
    assert attempt is not None
    later = node.last_heartbeat_ms + 20_000
    rm.observation_gap(20_000, later)
    rm.check_liveness(later + 100)
    assert node.state.value == "RUNNING" and attempt.state is AttemptState.RUNNING
    rm.check_liveness(later + 3100)
    assert node.state.value == "LOST"


# ---- flushes Redis refused ---------------------------------------------------------------------


def refusing_redis() -> redis.Redis:
    """A client of a closed port that fails at once (no retries)."""
    return redis.Redis(port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))


def test_a_failed_flush_keeps_its_writes_for_the_next() -> None:
    rm = ResourceManager(YarnConfiguration(load_files=False), refusing_redis())
    rm.out.apps.add("a1")
    rm.out.messages.append(("k", "first"))
    rm.out.replies.append(("r", "reply"))
    try:
        rm.flush()
    except redis.ConnectionError:
        pass
    else:
        raise AssertionError("a closed port accepted a flush")
    rm.out.messages.append(("k", "second"))
    assert rm.out.apps == {"a1"}
    assert rm.out.messages == [("k", "first"), ("k", "second")]
    assert rm.out.replies == [("r", "reply")]


def test_a_failed_reply_flush_keeps_the_replies() -> None:
    rm = ResourceManager(YarnConfiguration(load_files=False), refusing_redis())
    rm.out.replies.append(("r", "reply"))
    rm.out.acquired_apps.add("a1")
    try:
        rm.flush_replies()
    except redis.ConnectionError:
        pass
    assert rm.out.replies == [("r", "reply")] and rm.out.acquired_apps == {"a1"}


# ---- /health -------------------------------------------------------------------------------------


def test_health_is_down_when_the_loop_stalls_fails_or_stops() -> None:
    h = LoopHealth(started_ms=1000)
    assert h.report(1000 + STALL_MS)[0]
    ok, body = h.report(1001 + STALL_MS)
    assert not ok and body["inboxLoop"] == "STALLED" and body["status"] == "DOWN"
    h.passed(20_000)
    assert h.report(20_100) == (True, {"inboxLoop": "RUNNING", "lastPassAgoMs": 100, "status": "UP"})
    h.failed(21_000, "TimeoutError: Timeout reading from socket")
    ok, body = h.report(23_000)
    assert not ok and body["reason"] == "Redis unreachable for 2.0s (TimeoutError: Timeout reading from socket)"
    assert h.passed(24_000) == 3000 and h.report(24_000)[0]
    h.stopped = True
    assert h.report(24_000)[1]["inboxLoop"] == "STOPPED"


# ---- yarn.resourcemanager.max-completed-applications ----------------------------------------------


def test_completed_apps_past_the_limit_are_forgotten_oldest_first() -> None:
    rm = make_rm(**{"yarn.resourcemanager.max-completed-applications": "2"})
    ids = [f"application_1700000000000_000{i}" for i in range(1, 5)]
    for app_id in ids:
        rm.new_app_ids[app_id] = ""
        rm.submit(ApplicationSubmissionContext.model_validate({"application-id": app_id}), "alice")
    for app_id in ids[:3]:
        rm.kill(app_id)
    assert rm.out.apps_removed == [ids[0]]
    assert sorted(rm.apps) == ids[1:]  # two completed, one running: running apps are never dropped
    assert rm.apps[ids[3]].state is YarnApplicationState.ACCEPTED
    rm.kill(ids[3])
    assert rm.out.apps_removed == ids[:2] and sorted(rm.apps) == ids[2:]
    assert not rm.out.apps & set(rm.out.apps_removed)
