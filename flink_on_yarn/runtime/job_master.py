"""The job master: one per job. Requests the job's slots, deploys its subtasks, follows their states,
restarts the job from scratch under the fixed-delay strategy, and cancels it.

Restarts are from scratch (no checkpoints): sources start over and keyed state is empty again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flink_on_yarn.graph.job_graph import JobGraphSpec
from flink_on_yarn.runtime.config import Configuration
from flink_on_yarn.runtime.deployment import build_deployment, deployment_order, execution_id
from flink_on_yarn.runtime.execution_state import ExecutionState, merge
from flink_on_yarn.runtime.job_status import JobStatus, advance, after_failure
from flink_on_yarn.runtime.messages import Cancel, Deploy, TaskState
from flink_on_yarn.runtime.resource_manager import ResourceManager, SlotId, TaskManagerRecord

# Cancelled subtasks get this long to report before they are counted CANCELED anyway (a TM may be wedged).
CANCEL_GRACE_S = 15.0


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Execution:
    vertex_id: str
    subtask: int
    attempt: int
    execution_id: str
    state: ExecutionState = ExecutionState.CREATED
    slot: SlotId | None = None
    port: int | None = None
    start_time: int = -1
    end_time: int = -1
    failure: str | None = None
    metrics: dict[str, int] = field(default_factory=dict)

    @property
    def tm_id(self) -> str | None:
        return self.slot[0] if self.slot else None

    def set_state(self, state: ExecutionState) -> None:
        new = merge(self.state, state)
        if new != self.state:
            self.state = new
            if new == ExecutionState.DEPLOYING:
                self.start_time = now_ms()
            if new.is_terminal:
                self.end_time = now_ms()


def restart_policy(cluster: Configuration, job_config: dict[str, str]) -> tuple[int, float]:
    """(attempts, delay in seconds) of the fixed-delay strategy; (0, 0) for `none`. The job's keys win."""
    merged = Configuration({**cluster.explicit(), **job_config})
    strategy = merged.get("restart-strategy").lower().replace("-", "")
    if strategy not in ("fixeddelay", "fixed_delay"):
        return 0, 0.0
    return (merged.get_int("restart-strategy.fixed-delay.attempts"),
            merged.get_duration_ms("restart-strategy.fixed-delay.delay") / 1000)


class JobMaster:
    def __init__(self, graph: JobGraphSpec, rm: ResourceManager, config: Configuration,
                 on_terminal: Callable[[JobMaster], None] | None = None) -> None:
        self.graph = graph
        self.job_id = graph.jobId
        self.rm = rm
        self.max_attempts, self.restart_delay_s = restart_policy(config, graph.config)
        self.slot_timeout_ms = Configuration({**config.explicit(), **graph.config}).get_duration_ms(
            "slot.request.timeout")
        self.status = JobStatus.CREATED
        self.start_time = now_ms()
        self.end_time = -1
        self.timestamps: dict[str, int] = {s.value: 0 for s in JobStatus}
        self.timestamps[JobStatus.CREATED.value] = self.start_time
        self.restarts = 0
        self.executions: dict[tuple[str, int], Execution] = {}
        self.by_execution_id: dict[str, Execution] = {}
        self.exceptions: list[dict[str, Any]] = []
        self.failure_cause: str | None = None
        self.on_terminal = on_terminal
        self._changed = asyncio.Event()
        self._cancel_requested = False

    # state
    def _set_status(self, status: JobStatus) -> None:
        if status == self.status:
            return
        self.status = advance(self.status, status)
        self.timestamps[status.value] = now_ms()
        if status.is_globally_terminal:
            self.end_time = now_ms()

    def _notify(self) -> None:
        self._changed.set()

    async def _wait(self, predicate: Callable[[], bool], timeout_s: float | None = None) -> None:
        """Until the predicate holds, a subtask fails, the job is cancelled, or the timeout passes."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while not predicate() and not self._cancel_requested and self._first_failure() is None:
            self._changed.clear()
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                return

    def _first_failure(self) -> str | None:
        for ex in self.executions.values():
            if ex.state == ExecutionState.FAILED:
                return ex.failure or "unknown failure"
        return None

    # events from TaskManagers
    def on_task_state(self, msg: TaskState) -> None:
        ex = self.by_execution_id.get(msg.execution_id)
        if ex is None or ex.attempt != self.restarts:
            return
        try:
            state = ExecutionState(msg.state)
        except ValueError:
            return
        if msg.port:
            ex.port = msg.port
        if msg.metrics is not None:
            ex.metrics = dict(msg.metrics)
        if merge(ex.state, state) == ExecutionState.FAILED and ex.failure is None:
            ex.failure = msg.error or "task failed"
        ex.set_state(state)
        self._notify()

    def on_taskmanager_lost(self, tm_id: str, cause: str) -> None:
        for ex in self.executions.values():
            if ex.tm_id == tm_id and not ex.state.is_terminal:
                ex.failure = f"TaskManager with id {tm_id} is no longer reachable: {cause}"
                ex.set_state(ExecutionState.FAILED)
        self._notify()

    def cancel(self) -> bool:
        """Starts cancelling; False if the job has already ended."""
        if self.status.is_globally_terminal:
            return False
        self._cancel_requested = True
        if self.status != JobStatus.CANCELLING:
            self._set_status(JobStatus.CANCELLING)
        self._notify()
        return True

    # lifecycle
    async def run(self) -> None:
        self.rm.set_job_requirement(self.job_id, self.graph.required_slots())
        try:
            while True:
                if self._cancel_requested:
                    break
                self._set_status(JobStatus.RUNNING)
                failure = await self._run_attempt()
                if self._cancel_requested:
                    break
                if failure is None:
                    self._set_status(JobStatus.FINISHED)
                    return
                self.exceptions.append({"exception": failure, "timestamp": now_ms(), "attempt": self.restarts})
                self.failure_cause = failure
                nxt = after_failure(self.restarts, self.max_attempts)
                self._set_status(nxt)
                await self._cancel_and_wait()
                self.rm.release_job(self.job_id)
                if nxt == JobStatus.FAILING:
                    self._set_status(JobStatus.FAILED)
                    return
                await self._wait(lambda: False, self.restart_delay_s)
                if self._cancel_requested:
                    break
                self.restarts += 1
                self._set_status(JobStatus.CREATED)
            await self._cancel_and_wait()
            self._set_status(JobStatus.CANCELED)
        finally:
            self.rm.release_job(self.job_id)
            self.rm.set_job_requirement(self.job_id, 0)
            if self.on_terminal is not None:
                self.on_terminal(self)

    async def _run_attempt(self) -> str | None:
        """One attempt from slot request to the end; returns the failure, or None (finished or cancelled)."""
        g = self.graph
        self.executions = {}
        for v in g.vertices:
            for i in range(v.parallelism):
                ex = Execution(v.id, i, self.restarts, execution_id(g.jobId, v.id, i, self.restarts))
                ex.set_state(ExecutionState.SCHEDULED)
                self.executions[(v.id, i)] = ex
        self.by_execution_id = {ex.execution_id: ex for ex in self.executions.values()}
        needed = g.required_slots()
        req = self.rm.request_slots(self.job_id, needed)
        req.future.add_done_callback(lambda _: self._notify())
        await self._wait(req.future.done, self.slot_timeout_ms / 1000)
        if not req.future.done():
            self.rm.cancel_request(req, timed_out=not self._cancel_requested)
            if self._cancel_requested:
                return None
            d = self.rm.demand()
            return (f"NoResourceAvailableException: Could not acquire the minimum required resources: the job "
                    f"needs {needed} slots, the cluster has {d.registered_slots} slots ({d.free_slots} free) "
                    f"after slot.request.timeout={self.slot_timeout_ms} ms")
        self._assign(req.future.result())
        addresses: dict[tuple[str, int], tuple[str, int]] = {}
        for vid in deployment_order(g):
            vertex = g.vertex(vid)
            for i in range(vertex.parallelism):
                ex = self.executions[(vid, i)]
                tm = self.rm.taskmanagers.get(ex.tm_id or "")
                if tm is None:
                    return f"TaskManager with id {ex.tm_id} is no longer reachable"
                dep = build_deployment(g, vid, i, self.restarts, addresses)
                ex.set_state(ExecutionState.DEPLOYING)
                await tm.gateway.tell(Deploy(deployment=dep))
            mine = [self.executions[(vid, i)] for i in range(vertex.parallelism)]
            await self._wait(lambda: all(e.state not in (ExecutionState.SCHEDULED, ExecutionState.DEPLOYING)
                                         for e in mine))  # noqa: B023 -- awaited before `mine` changes
            if self._cancel_requested or self._first_failure() is not None:
                return self._first_failure()
            for e in mine:
                tm = self.rm.taskmanagers.get(e.tm_id or "")
                if e.port is not None and tm is not None:
                    addresses[(vid, e.subtask)] = (tm.host, e.port)
        await self._wait(lambda: all(e.state == ExecutionState.FINISHED for e in self.executions.values()))
        return self._first_failure()

    def _assign(self, slots: list[SlotId]) -> None:
        """Slot sharing: subtask i of every vertex in a group goes to the group's i-th slot."""
        offset = 0
        groups: dict[str, int] = {}
        for v in self.graph.vertices:
            groups[v.slotSharingGroup] = max(groups.get(v.slotSharingGroup, 0), v.parallelism)
        base: dict[str, int] = {}
        for name, width in groups.items():
            base[name] = offset
            offset += width
        for v in self.graph.vertices:
            for i in range(v.parallelism):
                self.executions[(v.id, i)].slot = slots[base[v.slotSharingGroup] + i]

    async def _cancel_and_wait(self) -> None:
        # Every subtask is CANCELING before the first cancel goes out: a downstream task that fails because its
        # input was cancelled first then counts as cancelled, not failed.
        cancelling: list[tuple[Execution, TaskManagerRecord]] = []
        for ex in self.executions.values():
            if ex.state in (ExecutionState.CREATED, ExecutionState.SCHEDULED):
                ex.set_state(ExecutionState.CANCELED)
            elif not ex.state.is_terminal:
                tm = self.rm.taskmanagers.get(ex.tm_id or "")
                if tm is None:
                    ex.set_state(ExecutionState.CANCELED)
                    continue
                ex.set_state(ExecutionState.CANCELING)
                cancelling.append((ex, tm))
        for ex, tm in cancelling:
            await tm.gateway.tell(Cancel(execution_id=ex.execution_id))
        deadline = time.monotonic() + CANCEL_GRACE_S
        while not all(e.state.is_terminal for e in self.executions.values()) and time.monotonic() < deadline:
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                break
        for ex in self.executions.values():
            if not ex.state.is_terminal:
                ex.set_state(ExecutionState.CANCELED)
