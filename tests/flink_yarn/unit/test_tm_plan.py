from __future__ import annotations

from flink_on_yarn.yarn.tm_plan import IdleTaskManager, TaskManagerPlan


def test_tm_count_follows_flinks_rule() -> None:
    two = TaskManagerPlan(slots_per_tm=2)
    assert two.to_request(required_slots=4, registered_slots=0, pending_tms=0) == 2
    assert two.to_request(required_slots=3, registered_slots=0, pending_tms=0) == 2
    assert two.to_request(required_slots=4, registered_slots=2, pending_tms=0) == 1
    assert two.to_request(required_slots=4, registered_slots=2, pending_tms=1) == 0
    assert two.to_request(required_slots=0, registered_slots=4, pending_tms=0) == 0
    one = TaskManagerPlan(slots_per_tm=1)
    assert one.to_request(required_slots=4, registered_slots=0, pending_tms=0) == 4


def test_excess_pending_requests_are_cancelled() -> None:
    plan = TaskManagerPlan(slots_per_tm=2)
    assert plan.excess_pending(required_slots=0, registered_slots=0, pending_tms=2) == 2
    assert plan.excess_pending(required_slots=4, registered_slots=2, pending_tms=2) == 1
    assert plan.excess_pending(required_slots=4, registered_slots=0, pending_tms=2) == 0


def test_idle_tms_go_back_after_timeout_unless_needed() -> None:
    plan = TaskManagerPlan(slots_per_tm=2, idle_timeout_ms=1000)
    tms = [IdleTaskManager("a", 2, idle_since_ms=0), IdleTaskManager("b", 2, idle_since_ms=500),
           IdleTaskManager("c", 2, idle_since_ms=None)]
    assert plan.to_release(now_ms=900, required_slots=0, tms=tms) == []
    assert plan.to_release(now_ms=1600, required_slots=0, tms=tms) == ["a", "b"]
    assert plan.to_release(now_ms=1600, required_slots=4, tms=tms) == ["a"]
    assert plan.to_release(now_ms=1600, required_slots=6, tms=tms) == []


def test_failure_rate_limits_restarts() -> None:
    plan = TaskManagerPlan(slots_per_tm=1, max_failures_per_minute=2)
    plan.record_failure(0)
    assert plan.may_start_worker(1)
    plan.record_failure(10)
    assert not plan.may_start_worker(20)
    assert plan.may_start_worker(61_000)
