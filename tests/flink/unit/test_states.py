"""The job and execution state machines, without any process."""

from __future__ import annotations

import pytest

from flink_on_yarn.runtime.execution_state import ExecutionState as E
from flink_on_yarn.runtime.execution_state import aggregate, can_transition, merge, status_counts
from flink_on_yarn.runtime.job_status import IllegalTransition, JobStatus, advance, after_failure


def test_job_happy_path_and_restart_loop() -> None:
    s = advance(JobStatus.CREATED, JobStatus.RUNNING)
    s = advance(s, JobStatus.RESTARTING)
    s = advance(s, JobStatus.CREATED)
    s = advance(s, JobStatus.RUNNING)
    assert advance(s, JobStatus.FINISHED).is_globally_terminal


@pytest.mark.parametrize(("a", "b"), [(JobStatus.FINISHED, JobStatus.RUNNING), (JobStatus.CANCELLING,
                                      JobStatus.RUNNING), (JobStatus.CANCELED, JobStatus.CREATED)])
def test_illegal_job_transitions(a: JobStatus, b: JobStatus) -> None:
    with pytest.raises(IllegalTransition, match=f"{a.value} to {b.value}"):
        advance(a, b)


def test_fixed_delay_decision() -> None:
    assert after_failure(0, 3) == JobStatus.RESTARTING
    assert after_failure(3, 3) == JobStatus.FAILING
    assert after_failure(0, 0) == JobStatus.FAILING


def test_execution_states_ignore_stale_reports() -> None:
    assert merge(E.RUNNING, E.INITIALIZING) == E.RUNNING
    assert merge(E.FINISHED, E.FAILED) == E.FINISHED
    assert merge(E.DEPLOYING, E.RUNNING) == E.RUNNING
    assert can_transition(E.CANCELING, E.CANCELED) and not can_transition(E.CANCELING, E.RUNNING)
    assert merge(E.CANCELING, E.FAILED) == E.CANCELED  # failing while being cancelled: cancelled (Flink's)
    assert merge(E.RUNNING, E.FAILED) == E.FAILED


def test_vertex_aggregate_and_counts() -> None:
    assert aggregate([E.RUNNING, E.DEPLOYING]) == E.DEPLOYING
    assert aggregate([E.FINISHED, E.FAILED]) == E.FAILED
    assert aggregate([E.FINISHED, E.FINISHED]) == E.FINISHED
    assert status_counts([E.RUNNING, E.RUNNING])["RUNNING"] == 2
