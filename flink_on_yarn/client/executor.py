"""Where `execute()` sends a job: the context `miniflink run` sets (a cluster), or else a local mini cluster."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from flink_on_yarn.graph.job_graph import JobGraphSpec


@dataclass
class JobResult:
    job_id: str
    state: str
    failure: str | None = None
    duration_ms: int = 0


class JobClient(ABC):
    """PyFlink's JobClient: a handle on a submitted job."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id

    def get_job_id(self) -> str:
        return self.job_id

    @abstractmethod
    def get_job_status(self) -> str: ...

    @abstractmethod
    def cancel(self) -> None: ...

    @abstractmethod
    def wait(self) -> JobResult: ...

    def get_job_execution_result(self) -> JobResult:
        return self.wait()


class Executor(ABC):
    @abstractmethod
    def submit(self, graph: JobGraphSpec) -> JobClient: ...


@dataclass
class ExecutionContext:
    """What `miniflink run` sets before running a program: where jobs go, `-p`, `-d`, `-D` options."""

    executor: Executor
    default_parallelism: int
    detached: bool = False
    config: dict[str, str] = field(default_factory=dict)
    submitted: list[str] = field(default_factory=list)
    # The CLI's context prints what Flink's ContextEnvironment prints once an attached job is done; a
    # program run directly (a local mini cluster) prints nothing, as PyFlink's local environment.
    sysout: bool = False


_current: ExecutionContext | None = None


def set_context(ctx: ExecutionContext | None) -> None:
    global _current
    _current = ctx


def get_context() -> ExecutionContext:
    if _current is not None:
        return _current
    from flink_on_yarn.client.local_executor import LocalExecutor

    # PyFlink's local environment runs with as many slots as the machine has cores.
    return ExecutionContext(executor=LocalExecutor(), default_parallelism=os.cpu_count() or 1)
