"""The job master: one per job. Requests the job's slots, deploys its subtasks, follows their states,
takes the job's checkpoints (checkpoint_coordinator.py decides, this module sends the triggers and writes
`_metadata`), restarts the job under its restart strategy (restart_strategies.py), and cancels it.

A restart restores every subtask from the latest completed checkpoint when there is one (sources resume at
their positions, keyed state and timers come back); without one the job starts over from scratch, or from the
savepoint it was submitted with (`execution.state-recovery.path`, mapped to its operators by savepoints.py).
Savepoints are checkpoints the user triggers; on completion their files are copied into their own directory,
re-sealed under the savepoint key (savepoints.py).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flink_on_yarn.common.config import Configuration
from flink_on_yarn.graph.job_graph import JobGraphSpec
from flink_on_yarn.runtime.checkpoint_coordinator import Checkpoint, CheckpointConfig, CheckpointCoordinator
from flink_on_yarn.runtime.checkpoint_storage import CheckpointIntegrityError, CheckpointStorage
from flink_on_yarn.runtime.deployment import build_deployment, deployment_order, execution_id
from flink_on_yarn.runtime.execution_state import ExecutionState, merge
from flink_on_yarn.runtime.job_status import JobStatus, advance
from flink_on_yarn.runtime.messages import (
    AcknowledgeCheckpoint,
    Cancel,
    DeclineCheckpoint,
    Deploy,
    NotifyCheckpointComplete,
    TaskState,
    TriggerCheckpoint,
)
from flink_on_yarn.runtime.resource_manager import ResourceManager, SlotId, TaskManagerRecord
from flink_on_yarn.runtime.restart_strategies import (
    NoRestart,
    RestartStrategy,
    from_config,
)
from flink_on_yarn.runtime.savepoints import (
    SavepointRestoreError,
    TaskOperators,
    default_directory,
    metadata,
    new_savepoint_dir,
    plan_restore,
    read_savepoint,
    restore_settings,
    stage_restore,
    write_savepoint,
)
from flink_on_yarn.runtime.task_deployment import RestorePlan

log = logging.getLogger("flink_on_yarn.job_master")

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
    # When a source subtask said it reached the end of its input (it then waits for its final checkpoint).
    input_ended: int = -1

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


def default_checkpoint_dir() -> str:
    """`state.checkpoints.dir` when none is set: under the JobManager's working directory (a YARN container's
    own directory, a standalone daemon's), reachable by TaskManagers on the same host."""
    return os.path.abspath("flink-checkpoints")


class JobMaster:
    def __init__(self, graph: JobGraphSpec, rm: ResourceManager, config: Configuration,
                 on_terminal: Callable[[JobMaster], None] | None = None, secret: bytes = b"",
                 restore_path: str | None = None,
                 on_checkpoint: Callable[[JobMaster, str], None] | None = None,
                 savepoint_secret: bytes | None = None) -> None:
        self.graph = graph
        self.job_id = graph.jobId
        self.rm = rm
        conf = Configuration({**config.explicit(), **graph.config})
        self.config_error: str | None = None
        self.restart_strategy: RestartStrategy = NoRestart()
        self.checkpoint_config = CheckpointConfig()
        try:
            self.restart_strategy = from_config(conf.explicit())
            self.checkpoint_config = CheckpointConfig.from_config(conf)
        except ValueError as e:  # a malformed key fails the job with its name, as Flink's submission does
            self.config_error = f"IllegalConfigurationException: {e}"
        self.coordinator = CheckpointCoordinator(self.checkpoint_config)
        directory = self.checkpoint_config.directory.removeprefix("file://") or default_checkpoint_dir()
        self.storage = CheckpointStorage(directory, self.job_id, secret)
        # The completed checkpoint a restart restores from (a chk-<n> directory); a JobManager attempt 2
        # starts with its predecessor's.
        self.restore_path = restore_path
        # The subtasks the checkpoint restored recorded as finished (they are deployed to end at once).
        self._restored_finished: set[tuple[str, int]] = set()
        # `flink run -s PATH [-n]`: restored from when no checkpoint of this job (an HA pointer) is newer.
        self.savepoint_path, self.allow_non_restored = restore_settings(conf.explicit())
        if self.restore_path is None:
            self.restore_path = self.savepoint_path
        # The restore plan of a savepoint taken of another job graph, made once at the start (savepoints.py).
        self._plan: tuple[str, dict[tuple[str, int], RestorePlan]] | None = None
        self.savepoint_dir = default_directory(conf.explicit())
        self.secret = secret
        self.savepoint_secret = savepoint_secret if savepoint_secret is not None else secret
        # Pending savepoints: checkpoint id -> (their directory, cancel the job once complete).
        self._savepoints: dict[int, tuple[Path, bool]] = {}
        # A stop-with-savepoint ended this job: a per-job cluster, which ends with its job, first lets the
        # client fetch the savepoint's location (set when the REST answers it), as it would otherwise poll a
        # JobManager that is gone.
        self.stopped_with_savepoint = False
        self.stop_result_fetched = asyncio.Event()
        self.on_checkpoint = on_checkpoint
        self._checkpointer: asyncio.Task[None] | None = None
        self.slot_timeout_ms = conf.get_duration_ms("slot.request.timeout")
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
        old, self.status = self.status, advance(self.status, status)
        # As Flink's, with the time in the log line: what a recovery's seconds went to reads off these.
        log.info("Job %s (%s) switched from state %s to %s.", self.graph.jobName, self.job_id, old.value,
                 self.status.value)
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

    async def _restart_delay(self, seconds: float) -> None:
        """The restart strategy's delay, cut short only by a cancel (not `_wait`: the failed attempt's subtasks
        stay FAILED until the next attempt replaces them, which would end it at once)."""
        deadline = time.monotonic() + seconds
        while not self._cancel_requested and (remaining := deadline - time.monotonic()) > 0:
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                return

    def _first_failure(self) -> str | None:
        for ex in self.executions.values():
            if ex.state == ExecutionState.FAILED:
                return ex.failure or "unknown failure"
        return None

    # checkpoints
    @property
    def checkpointing(self) -> bool:
        # As Flink: a BATCH job takes no checkpoints (it recovers by re-running failed regions' input).
        return self.checkpoint_config.enabled and self.graph.runtimeMode != "BATCH"

    @property
    def final_checkpoint(self) -> bool:
        """Flink 1.15+'s: subtasks end with a final checkpoint, and checkpoints go on after some finished."""
        return self.checkpointing and self.checkpoint_config.after_tasks_finish

    def _all_running(self) -> bool:
        return bool(self.executions) and all(e.state == ExecutionState.RUNNING for e in self.executions.values())

    def _checkpointable(self) -> bool:
        """Every subtask running, or (with checkpoints after tasks finish) running or finished, with a running
        source subtask to inject the barriers."""
        if not self.final_checkpoint:
            return self._all_running()
        live = [e for e in self.executions.values() if e.state != ExecutionState.FINISHED]
        return bool(live) and all(e.state == ExecutionState.RUNNING for e in live) and \
            any(self.graph.vertex(e.vertex_id).source is not None for e in live)

    async def _checkpoint_loop(self) -> None:
        """Periodic checkpoints while every subtask runs (`execution.checkpointing.interval`)."""
        interval_s = self.checkpoint_config.interval_ms / 1000
        self.coordinator.start_periodic(now_ms())
        while True:
            await asyncio.sleep(min(0.05, interval_s))
            now = now_ms()
            for p in self.coordinator.expire(now):
                log.warning("Checkpoint %d of job %s expired before completing.", p.id, self.job_id)
                self.storage.discard(p.id)
            if self._checkpointable() and self.coordinator.due(now):
                await self.trigger_checkpoint()

    def _final_checkpoint_now(self, completed_trigger_ms: int = -1) -> None:
        """Every running source subtask has reached the end of its input: the final checkpoint is triggered
        now rather than at the next interval (Flink waits for the interval; a bounded job here ends as soon as
        its output is committed). One in progress is left alone; when it completes (`completed_trigger_ms`)
        and was triggered before a source's end, the final one follows."""
        if not self.final_checkpoint or self.coordinator.pending or self._checkpointer is None:
            return
        sources = [e for e in self.executions.values()
                   if self.graph.vertex(e.vertex_id).source is not None and e.state == ExecutionState.RUNNING]
        if not sources or any(e.input_ended < 0 for e in sources) or not self._checkpointable():
            return
        if completed_trigger_ms >= 0 and completed_trigger_ms >= max(e.input_ended for e in sources):
            return  # the checkpoint that just completed was their final one: they are finishing
        asyncio.get_running_loop().create_task(self.trigger_checkpoint())

    async def trigger_checkpoint(self, is_savepoint: bool = False, stop: bool = False,
                                 drain: bool = False) -> Checkpoint | None:
        """Injects a barrier at every running source subtask; None when not every subtask is running (a
        checkpoint, not a savepoint, goes on without those finished: they are recorded as finished)."""
        if not (self._all_running() if is_savepoint else self._checkpointable()):
            return None
        now = now_ms()
        live = {e.execution_id for e in self.executions.values() if e.state == ExecutionState.RUNNING}
        p = self.coordinator.trigger(now, live, is_savepoint)
        log.info("Triggering checkpoint %d (type=%s) @ %d for job %s.", p.id,
                 "SAVEPOINT" if is_savepoint else "CHECKPOINT", now, self.job_id)
        for ex in self.executions.values():
            if self.graph.vertex(ex.vertex_id).source is None or ex.execution_id not in live:
                continue
            tm = self.rm.taskmanagers.get(ex.tm_id or "")
            if tm is not None:
                await tm.gateway.tell(TriggerCheckpoint(execution_id=ex.execution_id, checkpoint_id=p.id,
                                                        timestamp=now, stop=stop, drain=drain))
        return p

    async def trigger_savepoint(self, target: str, cancel: bool = False, stop: bool = False,
                                drain: bool = False) -> Checkpoint | str:
        """A savepoint into a new `savepoint-<jobid6>-<random>` directory under `target`; stop-with-savepoint
        (`stop`) ends the sources behind its barrier, so the job FINISHES. The reason when none can start."""
        if self.graph.runtimeMode == "BATCH":
            return f"Cannot trigger a savepoint of job {self.job_id}: savepoints are not supported in BATCH " \
                   f"execution mode."
        if self.status != JobStatus.RUNNING or not self._all_running():
            return (f"Checkpoint triggering task of job {self.job_id} is not being executed at the moment. "
                    f"Aborting checkpoint. Failure reason: Not all required tasks are currently running.")
        if self._restored_finished:
            # Its savepoint would hold these subtasks' fresh state (a source at its start), not "finished".
            return (f"Cannot trigger a savepoint of job {self.job_id}: some of its tasks have finished "
                    f"({len(self._restored_finished)} restored as finished from a checkpoint).")
        p = await self.trigger_checkpoint(is_savepoint=True, stop=stop, drain=drain)
        if p is None:
            return (f"Checkpoint triggering task of job {self.job_id} is not being executed at the moment. "
                    f"Aborting checkpoint. Failure reason: Not all required tasks are currently running.")
        self._savepoints[p.id] = (new_savepoint_dir(target, self.job_id), cancel)
        self.stopped_with_savepoint = self.stopped_with_savepoint or stop
        return p

    async def _await_savepoints(self) -> None:
        """A stop-with-savepoint's job is FINISHED once its savepoint is written, not before (a per-job
        cluster ends with its job). Bounded by the checkpoint timeout, as the savepoint is."""
        deadline = time.monotonic() + self.checkpoint_config.timeout_ms / 1000
        while any(p.is_savepoint for p in self.coordinator.pending.values()) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)  # _complete writes the files on a thread; this wait is rare and short

    def _layout(self) -> list[TaskOperators]:
        return [TaskOperators(v.id, i, [o.operatorId for o in v.operators], v.sourceOperatorId, v.maxParallelism)
                for v in self.graph.vertices for i in range(v.parallelism)]

    def _operators(self) -> dict[str, dict[str, Any]]:
        ops: dict[str, dict[str, Any]] = {}
        for v in self.graph.vertices:
            if v.sourceOperatorId:
                ops[v.sourceOperatorId] = {"name": v.name.split(" -> ")[0], "uid": v.sourceUid, "stateful": False,
                                           "parallelism": v.parallelism, "max_parallelism": v.maxParallelism}
            for o in v.operators:
                if o.operatorId:
                    ops[o.operatorId] = {"name": o.name, "uid": o.uid, "stateful": o.stateful,
                                         "rescalable": o.rescalable, "parallelism": v.parallelism,
                                         "max_parallelism": v.maxParallelism}
        return ops

    def on_checkpoint_report(self, msg: AcknowledgeCheckpoint | DeclineCheckpoint, tm_id: str) -> None:
        ex = self.by_execution_id.get(msg.execution_id)
        if ex is None or ex.attempt != self.restarts or ex.tm_id != tm_id:
            return  # a previous attempt's, or from a TaskManager that does not run this subtask
        if isinstance(msg, DeclineCheckpoint):
            self._abort_checkpoint(msg.checkpoint_id, f"Checkpoint was declined: {msg.reason}")
            return
        path = Path(msg.path)
        if path.parent != self.storage.chk_dir(msg.checkpoint_id):
            self._abort_checkpoint(msg.checkpoint_id, f"an acknowledgement named a file outside the "
                                                      f"checkpoint's directory: {msg.path}")
            return
        done = self.coordinator.acknowledge(msg.checkpoint_id, msg.execution_id, path.name, msg.size, now_ms())
        if done is not None:
            asyncio.get_running_loop().create_task(self._complete(done))

    def _abort_checkpoint(self, checkpoint_id: int, reason: str) -> None:
        if self.coordinator.abort(checkpoint_id, reason, now_ms()) is not None:
            log.warning("Checkpoint %d of job %s failed: %s", checkpoint_id, self.job_id, reason)
            self.storage.discard(checkpoint_id)

    async def _complete(self, p: Checkpoint) -> None:
        if p.id not in self.coordinator.pending:
            return  # aborted (a failover) between its last acknowledgement and now
        tasks: dict[tuple[str, int], tuple[str, int]] = {}
        for exec_id, name in p.handles.items():
            ex = self.by_execution_id[exec_id]
            tasks[(ex.vertex_id, ex.subtask)] = (name, p.sizes[exec_id])
        meta = metadata(self.job_id, p.id, p.trigger_ms, p.is_savepoint, tasks, self._layout(), self._operators())
        # Subtasks finished before the checkpoint (or restored finished): a restore deploys them to end at once,
        # as their output is in their consumers' state and their sinks' commits.
        meta["finished"] = sorted(f"{ex.vertex_id}:{ex.subtask}" for ex in self.executions.values()
                                  if ex.execution_id not in p.tasks
                                  or (ex.vertex_id, ex.subtask) in self._restored_finished)
        savepoint = self._savepoints.pop(p.id, None)
        try:
            if savepoint is not None:
                path = await asyncio.to_thread(write_savepoint, savepoint[0], self.storage.chk_dir(p.id),
                                               self.secret, self.savepoint_secret, meta)
                await asyncio.to_thread(self.storage.discard, p.id)
            else:
                path = (await asyncio.to_thread(self.storage.write_metadata, p.id, meta)).parent
        except OSError as e:
            self._abort_checkpoint(p.id, f"cannot write the {'savepoint' if savepoint else 'checkpoint'}: {e}")
            return
        if p.id not in self.coordinator.pending:
            return  # aborted while the metadata was being written (a failover)
        now = now_ms()
        chk_dir = str(path) if savepoint is None else f"file:{path}"
        discard = self.coordinator.complete(p.id, now, chk_dir)
        log.info("Completed checkpoint %d for job %s (%d bytes, checkpointDuration=%d ms).", p.id, self.job_id,
                 p.state_size, now - p.trigger_ms)
        if not p.is_savepoint:
            # The restore path and the pointer (a JobManager attempt 2 reads it) move to the new checkpoint
            # before the one it subsumes is deleted: a failover during the deletion restores from this one,
            # not from files going away under it.
            self.restore_path = chk_dir
            if self.on_checkpoint is not None:
                self.on_checkpoint(self, chk_dir)
        elif savepoint is not None and savepoint[1]:
            log.info("Savepoint stored in %s. Now cancelling %s.", chk_dir, self.job_id)
            self.cancel()
        else:
            log.info("Savepoint %d of job %s stored in %s.", p.id, self.job_id, chk_dir)
        for old in discard:
            await asyncio.to_thread(self.storage.discard, old.id)
        for ex in self.executions.values():
            tm = self.rm.taskmanagers.get(ex.tm_id or "")
            if tm is not None and ex.state == ExecutionState.RUNNING:
                await tm.gateway.tell(NotifyCheckpointComplete(execution_id=ex.execution_id, checkpoint_id=p.id))
        if not p.is_savepoint:
            self._final_checkpoint_now(p.trigger_ms)  # behind the notifications: a subtask sees them in order

    def _prepare_restore(self) -> None:
        """Reads the savepoint the job was submitted with and maps its state to this job's operators, once:
        a savepoint that does not fit fails the job at once (SavepointRestoreError), not on every restart."""
        if self.restore_path is None or self.restore_path != self.savepoint_path:
            return
        # CheckpointIntegrityError unless sealed by the user's savepoint key or this cluster.
        meta, key = read_savepoint(self.restore_path, [self.savepoint_secret, self.secret])
        if not meta.get("operators"):
            raise SavepointRestoreError(f"{self.restore_path} was written without operator ids; it can only be "
                                        "restored into the job that took it")
        cid = int(meta["checkpoint_id"])
        staged = self.storage.job_dir / f"restore-{cid}"
        plan = plan_restore(meta, self._layout(), self.restore_path, self.allow_non_restored, str(staged))
        stage_restore(self.restore_path, meta, key, staged, self.secret)
        self._plan = (self.restore_path, plan)
        self.coordinator.on_restore(cid, now_ms(), self.restore_path)
        log.info("Starting job %s from savepoint %s (allowNonRestoredState=%s).", self.job_id, self.restore_path,
                 self.allow_non_restored)

    def _restore_handles(self) -> dict[tuple[str, int], str | RestorePlan]:
        """Every subtask's state file in the checkpoint to restore from (or its plan, for a savepoint of
        another job graph); {} to start from scratch."""
        self._restored_finished = set()
        if self.restore_path is None:
            return {}
        if self._plan is not None and self._plan[0] == self.restore_path:
            return dict(self._plan[1])
        meta = self.storage.read_metadata(self.restore_path)  # CheckpointIntegrityError if not ours
        for key in meta.get("finished", []):
            vid, _, subtask = str(key).rpartition(":")
            self._restored_finished.add((vid, int(subtask)))
        handles: dict[tuple[str, int], str | RestorePlan] = {}
        for key, entry in meta["tasks"].items():
            vid, _, subtask = str(key).rpartition(":")
            if (vid, int(subtask)) in self._restored_finished:
                continue  # what it acknowledged is the empty state of a task deployed finished
            name = Path(str(entry["file"])).name  # a bare file name: nothing outside the chk directory
            handles[(vid, int(subtask))] = str(Path(self.restore_path) / name)
        cid = int(meta["checkpoint_id"])
        self.coordinator.on_restore(cid, now_ms(), self.restore_path)
        log.info("Restoring job %s from Checkpoint %d @ %d for %s located at %s.", self.job_id, cid,
                 int(meta["timestamp"]), self.job_id, self.restore_path)
        return handles

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
        if msg.input_ended and ex.input_ended < 0:
            ex.input_ended = now_ms()
            self._final_checkpoint_now()
        if merge(ex.state, state) == ExecutionState.FAILED and ex.failure is None:
            ex.failure = msg.error or "task failed"
        old = ex.state
        ex.set_state(state)
        if ex.state != old:
            v = self.graph.vertex(ex.vertex_id)
            log.info("%s (%d/%d) (%s) switched from %s to %s.", v.name, ex.subtask + 1, v.parallelism,
                     ex.execution_id, old.value, ex.state.value)
        if ex.state == ExecutionState.FINISHED:
            # A finished subtask takes no more checkpoints: those it has not acknowledged cannot complete.
            for p in list(self.coordinator.pending.values()):
                if ex.execution_id in p.tasks and ex.execution_id not in p.handles:
                    self._abort_checkpoint(p.id, f"task {ex.execution_id} finished before the barrier reached it")
        self._notify()

    def on_taskmanager_lost(self, tm_id: str, cause: str) -> None:
        if any(ex.tm_id == tm_id and not ex.state.is_terminal for ex in self.executions.values()):
            log.info("TaskManager with id %s is no longer reachable (%s): failing job %s's subtasks on it.", tm_id,
                     cause, self.job_id)
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
        if self.config_error is None and self.restore_path is not None:
            try:
                await asyncio.to_thread(self._prepare_restore)
            except SavepointRestoreError as err:
                self.config_error = str(err)
            except (CheckpointIntegrityError, OSError, KeyError, ValueError) as err:
                self.config_error = f"cannot restore from savepoint {self.restore_path}: {err}"
        if self.config_error is not None:
            self.failure_cause = self.config_error
            self.exceptions.append({"exception": self.config_error, "timestamp": now_ms(), "attempt": 0})
            self._set_status(JobStatus.FAILED)
            self.rm.set_job_requirement(self.job_id, 0)
            if self.on_terminal is not None:
                self.on_terminal(self)
            return
        try:
            while True:
                if self._cancel_requested:
                    break
                self._set_status(JobStatus.RUNNING)
                failure = await self._run_attempt()
                if self._cancel_requested:
                    break
                if failure is None:
                    await self._await_savepoints()
                    self._set_status(JobStatus.FINISHED)
                    return
                self.exceptions.append({"exception": failure, "timestamp": now_ms(), "attempt": self.restarts})
                self.failure_cause = failure
                for p in self.coordinator.abort_all("The job failed over before the checkpoint completed.",
                                                    now_ms()):
                    self.storage.discard(p.id)
                delay_ms = self.restart_strategy.on_failure(now_ms())
                nxt = JobStatus.RESTARTING if delay_ms is not None else JobStatus.FAILING
                self._set_status(nxt)
                await self._cancel_and_wait()
                self.rm.release_job(self.job_id)
                if nxt == JobStatus.FAILING:
                    self._set_status(JobStatus.FAILED)
                    return
                await self._restart_delay((delay_ms or 0) / 1000)
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
        try:
            return await self._attempt()
        finally:
            if self._checkpointer is not None:
                self._checkpointer.cancel()
                self._checkpointer = None

    async def _attempt(self) -> str | None:
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
        try:
            restore = self._restore_handles()
        except (CheckpointIntegrityError, OSError, KeyError, ValueError) as err:
            return f"cannot restore from checkpoint {self.restore_path}: {err}"
        # Every streaming job's subtasks can take a savepoint, so each gets the checkpoint directory.
        checkpoint_dir = str(self.storage.base) if self.graph.runtimeMode != "BATCH" else None
        addresses: dict[tuple[str, int], tuple[str, int]] = {}
        for vid in deployment_order(g):
            vertex = g.vertex(vid)
            for i in range(vertex.parallelism):
                ex = self.executions[(vid, i)]
                tm = self.rm.taskmanagers.get(ex.tm_id or "")
                if tm is None:
                    return f"TaskManager with id {ex.tm_id} is no longer reachable"
                dep = build_deployment(g, vid, i, self.restarts, addresses)
                dep.checkpoint_dir = checkpoint_dir
                dep.final_checkpoint = self.final_checkpoint
                dep.finished = (vid, i) in self._restored_finished
                r = restore.get((vid, i))
                if isinstance(r, RestorePlan):
                    dep.restore_plan = r
                else:
                    dep.restore_from = r
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
        if self.checkpointing:
            self._checkpointer = asyncio.get_running_loop().create_task(self._checkpoint_loop())
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
