"""The dispatcher: accepts job graphs, runs a job master for each, answers for all jobs past and present."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from flink_on_yarn.common.config import Configuration
from flink_on_yarn.graph.job_graph import JobGraphSpec
from flink_on_yarn.runtime.job_master import JobMaster
from flink_on_yarn.runtime.job_status import JobStatus
from flink_on_yarn.runtime.messages import AcknowledgeCheckpoint, DeclineCheckpoint, TaskState
from flink_on_yarn.runtime.resource_manager import ResourceManager


class DuplicateJobError(ValueError):
    pass


class Dispatcher:
    def __init__(self, config: Configuration, rm: ResourceManager, secret: bytes = b"",
                 savepoint_secret: bytes | None = None) -> None:
        self.config = config
        self.rm = rm
        self.secret = secret  # seals the jobs' checkpoint files
        # Seals their savepoints: on YARN the user's key, which a later application of the user shares.
        self.savepoint_secret = savepoint_secret if savepoint_secret is not None else secret
        # Called with (job master, chk dir) when a job completes a checkpoint (YARN: the HA pointer in Redis).
        self.checkpoint_listeners: list[Callable[[JobMaster, str], None]] = []
        # A previous JobManager attempt's latest checkpoint per job id, restored from at submission.
        self.recovered_checkpoints: dict[str, str] = {}
        self.jobs: dict[str, JobMaster] = {}
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.terminal_listeners: list[Callable[[JobMaster], None]] = []
        rm.loss_listeners.append(self._on_tm_lost)

    def submit(self, graph: JobGraphSpec) -> JobMaster:
        if graph.jobId in self.jobs:
            raise DuplicateJobError(f"Job {graph.jobId} has already been submitted")
        jm = JobMaster(graph, self.rm, self.config, on_terminal=self._on_terminal, secret=self.secret,
                       restore_path=self.recovered_checkpoints.get(graph.jobId),
                       on_checkpoint=self._on_checkpoint, savepoint_secret=self.savepoint_secret)
        self.jobs[graph.jobId] = jm
        self.tasks[graph.jobId] = asyncio.create_task(jm.run(), name=f"job-{graph.jobId}")
        return jm

    def _on_checkpoint(self, jm: JobMaster, path: str) -> None:
        for listener in self.checkpoint_listeners:
            listener(jm, path)

    def _on_terminal(self, jm: JobMaster) -> None:
        for listener in self.terminal_listeners:
            listener(jm)

    def _on_tm_lost(self, tm_id: str, cause: str) -> None:
        for jm in self.jobs.values():
            if not jm.status.is_globally_terminal:
                jm.on_taskmanager_lost(tm_id, cause)

    def on_task_state(self, msg: TaskState) -> None:
        jm = self.jobs.get(msg.job_id)
        if jm is not None:
            jm.on_task_state(msg)

    def on_checkpoint_report(self, msg: AcknowledgeCheckpoint | DeclineCheckpoint, tm_id: str) -> None:
        jm = self.jobs.get(msg.job_id)
        if jm is not None:
            jm.on_checkpoint_report(msg, tm_id)

    def cancel(self, job_id: str) -> bool:
        jm = self.jobs.get(job_id)
        if jm is None:
            raise KeyError(job_id)
        return jm.cancel()

    def count(self, *states: JobStatus) -> int:
        return sum(1 for jm in self.jobs.values() if jm.status in states)

    async def stop(self) -> None:
        for jm in self.jobs.values():
            jm.cancel()
        if self.tasks:
            await asyncio.wait(list(self.tasks.values()), timeout=20)
