"""Flink's job state machine, pure: the states, the legal transitions, and what a failure leads to.

>>> advance(JobStatus.CREATED, JobStatus.RUNNING)
<JobStatus.RUNNING: 'RUNNING'>
"""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    INITIALIZING = "INITIALIZING"
    CREATED = "CREATED"
    RUNNING = "RUNNING"
    FAILING = "FAILING"
    FAILED = "FAILED"
    CANCELLING = "CANCELLING"
    CANCELED = "CANCELED"
    FINISHED = "FINISHED"
    RESTARTING = "RESTARTING"

    @property
    def is_globally_terminal(self) -> bool:
        return self in (JobStatus.FAILED, JobStatus.CANCELED, JobStatus.FINISHED)


_LEGAL: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.INITIALIZING: frozenset({JobStatus.CREATED, JobStatus.FAILED, JobStatus.CANCELED}),
    JobStatus.CREATED: frozenset({JobStatus.RUNNING, JobStatus.CANCELLING, JobStatus.CANCELED, JobStatus.FAILED}),
    JobStatus.RUNNING: frozenset(
        {JobStatus.FINISHED, JobStatus.FAILING, JobStatus.RESTARTING, JobStatus.CANCELLING, JobStatus.FAILED}
    ),
    JobStatus.FAILING: frozenset({JobStatus.FAILED, JobStatus.RESTARTING, JobStatus.CANCELLING}),
    JobStatus.RESTARTING: frozenset({JobStatus.CREATED, JobStatus.CANCELLING, JobStatus.CANCELED, JobStatus.FAILED}),
    JobStatus.CANCELLING: frozenset({JobStatus.CANCELED}),
    JobStatus.FAILED: frozenset(),
    JobStatus.CANCELED: frozenset(),
    JobStatus.FINISHED: frozenset(),
}


class IllegalTransition(RuntimeError):
    """A job was asked to move to a state it cannot reach from where it is."""


def can_advance(current: JobStatus, target: JobStatus) -> bool:
    return target in _LEGAL[current]


def advance(current: JobStatus, target: JobStatus) -> JobStatus:
    """The new state, or IllegalTransition naming both ends."""
    if not can_advance(current, target):
        raise IllegalTransition(f"job cannot go from {current.value} to {target.value}")
    return target


def after_failure(restarts_done: int, max_attempts: int) -> JobStatus:
    """Fixed-delay strategy: RESTARTING while attempts remain, else FAILING (which ends in FAILED)."""
    return JobStatus.RESTARTING if restarts_done < max_attempts else JobStatus.FAILING
