"""One subtask: its deployment descriptor, and the loop that pulls batches through its operator chain.

The same `run_task` runs in a TaskManager's task process and in the local mini cluster's threads.
"""

from __future__ import annotations

import queue
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TextIO

from flink_on_yarn.common.watermark_strategy import LONG_MAX
from flink_on_yarn.graph.codec import decode
from flink_on_yarn.graph.operators import Operator
from flink_on_yarn.graph.process_context import now_ms
from flink_on_yarn.graph.task_context import TaskContext
from flink_on_yarn.runtime.checkpoint_barrier import CheckpointBarrier
from flink_on_yarn.runtime.checkpoint_snapshot import restore_chain, restore_planned, snapshot_chain
from flink_on_yarn.runtime.checkpoint_storage import CheckpointStorage
from flink_on_yarn.runtime.network import INPUT_ENDED, InputGate, RecordWriter
from flink_on_yarn.runtime.task_deployment import TaskDeployment
from flink_on_yarn.runtime.task_metrics import TaskMetrics
from flink_on_yarn.runtime.watermarks import Watermark, WatermarkStatus

Report = Callable[[dict[str, Any]], None]
# What the JobManager tells a running subtask (through its TaskManager): {"trigger": n, "timestamp": ms} to
# a source subtask (inject barrier n; with "stop": true it ends behind it, "drain": true after the MAX
# watermark), {"complete": n} to every subtask (checkpoint n is complete).
Commands = queue.SimpleQueue[dict[str, Any]]

# Record counts go to the JobManager at most this often (and once more with the final state), so the
# dashboard's "records in/out" lag the truth by about a second without a report per batch.
METRICS_INTERVAL_S = 1.0




class Chain:
    """The chained operators of a task and the writers behind the last one: record batches, watermarks and
    processing-time ticks go through it in order, what an operator emits going through the rest."""

    def __init__(self, operators: list[Operator], writers: list[RecordWriter],
                 side_writers: dict[str, list[RecordWriter]] | None = None) -> None:
        self.operators = operators
        self.writers = writers
        # Side outputs come from the last operator only: an operator whose side output is read has more
        # than one output, so nothing chains behind it.
        self.side_writers = side_writers or {}
        self.sides: dict[str, list[Any]] = {}
        if operators:
            operators[-1].side_outputs = self.sides
        self.steps = [op.process_ts if op.timestamped else op.process for op in operators]
        self.timed = [i for i, op in enumerate(operators)
                      if type(op).next_processing_time is not Operator.next_processing_time]
        # An empty batch (a source with no input) still reaches the watermark generator: its periodic
        # watermarks and `with_idleness` timer run on processing time, not on records.
        self.generator_at = max((i for i, op in enumerate(operators) if op.generates_watermarks), default=-1)

    def push(self, batch: list[Any], start: int = 0) -> None:
        ops, steps = self.operators, self.steps
        for i in range(start, len(steps)):
            batch = steps[i](batch)
            if ops[i].generates_watermarks:
                status = ops[i].take_status()  # type: ignore[attr-defined]
                if status is False:
                    self.status(False)  # active again, ahead of the records that made it so
                wm = ops[i].take_watermark()  # type: ignore[attr-defined]
                if wm is not None:
                    # The batch's records go downstream before the watermark that follows them.
                    if batch:
                        self.push(batch, i + 1)
                    self.watermark(wm, i + 1)
                    if status:
                        self.status(True)
                    return
                if status:
                    if batch:
                        self.push(batch, i + 1)
                    self.status(True)
                    return
            if not batch and i >= self.generator_at:
                break
        else:
            for w in self.writers:
                w.emit(batch)
        if self.sides:
            self._emit_sides()

    def _emit_sides(self) -> None:
        for tag, records in self.sides.items():
            for w in self.side_writers.get(tag, ()):
                w.emit(records)  # a side output nobody reads is dropped, as in Flink
        self.sides.clear()

    def watermark(self, timestamp: int, start: int = 0) -> None:
        ops = self.operators
        for i in range(start, len(ops)):
            fired, forward = ops[i].on_watermark(timestamp)
            if fired:
                self.push(fired, i + 1)
            if forward is None:
                return
            timestamp = forward
        if self.sides:
            self._emit_sides()
        for w in self.writers:
            w.emit_watermark(timestamp)
        for ws in self.side_writers.values():
            for w in ws:
                w.emit_watermark(timestamp)

    def status(self, idle: bool) -> None:
        """The task's output became idle or active again (its generator's, or its input's): to every consumer."""
        for w in self.writers:
            w.emit_status(idle)
        for ws in self.side_writers.values():
            for w in ws:
                w.emit_status(idle)

    def next_processing_time(self) -> int | None:
        times = [t for i in self.timed if (t := self.operators[i].next_processing_time()) is not None]
        return min(times) if times else None

    def processing_time(self, now: int) -> None:
        for i in self.timed:
            fired = self.operators[i].on_processing_time(now)
            if fired:
                self.push(fired, i + 1)

    def tick(self) -> None:
        """Fires processing-time timers that are due."""
        if self.timed:
            due = self.next_processing_time()
            now = now_ms()
            if due is not None and due <= now:
                self.processing_time(now)

    def barrier(self, barrier: CheckpointBarrier) -> None:
        """Forwards a checkpoint barrier on every output, behind everything emitted before it."""
        if self.sides:
            self._emit_sides()
        for w in self.writers:
            w.emit_barrier(barrier)
        for ws in self.side_writers.values():
            for w in ws:
                w.emit_barrier(barrier)

    def finish(self) -> None:
        for i, op in enumerate(self.operators):
            tail = op.finish()
            if tail:
                self.push(tail, i + 1)


def run_task(dep: TaskDeployment, report: Report, secret: bytes, stdout: TextIO | None = None,
             should_stop: Callable[[], bool] = lambda: False, commands: Commands | None = None) -> None:
    """Runs the subtask to the end of its input, reporting INITIALIZING (with its data port), RUNNING, FINISHED,
    and `{"checkpoint": n, "path", "size"}` for each checkpoint it took (`{"decline": n, "reason"}` if it could
    not). Its producers and consumers prove the cluster `secret` on every data connection."""
    ctx = TaskContext(job_id=dep.job_id, task_name=dep.task_name, subtask=dep.subtask, parallelism=dep.parallelism,
                      attempt=dep.attempt, runtime_mode=dep.runtime_mode, stdout=stdout or sys.stdout)
    operators: list[Operator] = [decode(p) for p in dep.operators]
    source = decode(dep.source) if dep.source else None
    gate = InputGate(dep.bind_host, dep.num_inputs, secret) if dep.num_inputs else None
    report({"state": "INITIALIZING", "port": gate.port if gate else None})
    for op in operators:
        op.open(ctx)
    storage = CheckpointStorage(dep.checkpoint_dir, dep.job_id, secret) if dep.checkpoint_dir else None
    # Only with a command channel (a TaskManager's task process) can the final checkpoint's trigger and
    # completion reach the subtask.
    final = dep.final_checkpoint and storage is not None and commands is not None
    for op in operators:
        op.final_checkpoint = final
    idleness = any(getattr(getattr(op, "strategy", None), "idle_timeout_ms", None) is not None
                   for op in operators if op.generates_watermarks)
    if source is not None and (storage is not None or idleness):
        # A checkpoint's barrier, or `with_idleness`'s timer, must not wait for a record to come.
        source.for_checkpoints()
    if dep.restore_from:
        if storage is None:
            raise RuntimeError("told to restore from a checkpoint without a checkpoint directory")
        # Verified before anything is unpickled: a file this cluster did not seal is refused.
        restore_chain(operators, source, storage.read_state(dep.restore_from))
    elif dep.restore_plan is not None:
        if storage is None:
            raise RuntimeError("told to restore from a savepoint without a checkpoint directory")
        restore_planned(operators, source, dep.restore_plan, storage.read_state, dep.subtask, dep.parallelism)
    producer = f"{dep.task_name} ({dep.subtask + 1}/{dep.parallelism})"
    all_writers = [(o, RecordWriter(o.strategy, o.targets, decode(o.key_selector) if o.key_selector else None,
                                    producer, secret)) for o in dep.outputs]
    writers = [w for o, w in all_writers if o.side_output is None]
    side_writers: dict[str, list[RecordWriter]] = {}
    for o, w in all_writers:
        if o.side_output is not None:
            side_writers.setdefault(o.side_output, []).append(w)
    report({"state": "RUNNING"})
    chain = Chain(operators, writers, side_writers)
    batches: Iterator[Any] = iter(()) if source is not None and dep.finished else \
        source.batches(dep.subtask, dep.parallelism) if source is not None else \
        gate.events(should_stop, chain.next_processing_time if chain.timed else None) if gate is not None \
        else iter(())

    metrics = TaskMetrics(gate, [w for _, w in all_writers]).snapshot

    done = threading.Event()
    lock = threading.Lock()  # no RUNNING report may overtake the final one
    # Sealing and writing a snapshot happen here, off the task's loop; one thread keeps acks in order.
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="checkpoint") if storage is not None else None
    state_file = f"{dep.vertex_id}_{dep.subtask}"

    def write_snapshot(checkpoint_id: int, data: bytes, durability: list[Callable[[], None]]) -> None:
        assert storage is not None
        try:
            for work in durability:
                work()
            path = storage.write_state(checkpoint_id, state_file, data)
        except OSError as e:
            with lock:
                report({"decline": checkpoint_id, "reason": f"cannot write the checkpoint: {e}"})
            return
        with lock:
            report({"checkpoint": checkpoint_id, "path": str(path), "size": path.stat().st_size})

    # The final checkpoint: the first one taken after the end of input ("ended"), and the latest completed.
    end: dict[str, int | None] = {"ended": None, "final": None, "completed": 0}

    def checkpoint(barrier: CheckpointBarrier) -> None:
        if end["ended"] is not None and end["final"] is None:
            end["final"] = barrier.checkpoint_id
        if writer is None:
            chain.barrier(barrier)  # nothing to store here, but downstream tasks align on it
            return
        data = snapshot_chain(operators, source, barrier.checkpoint_id)
        durability = [w for op in operators if (w := op.snapshot_durability(barrier.checkpoint_id)) is not None]
        chain.barrier(barrier)
        writer.submit(write_snapshot, barrier.checkpoint_id, data, durability)

    # Stop-with-savepoint: "stop" once the source has emitted the savepoint's barrier and must end; "drain"
    # once it did so after the MAX watermark (which then is not emitted again at the end).
    stopping: set[str] = set()

    def on_command(cmd: dict[str, Any]) -> None:
        if "trigger" in cmd and source is not None and not stopping:
            if cmd.get("stop") and cmd.get("drain"):
                if end["ended"] is None:
                    chain.watermark(LONG_MAX)  # event time to its end first: every window and timer fires
                stopping.add("drain")
            checkpoint(CheckpointBarrier(int(cmd["trigger"]), int(cmd.get("timestamp", 0))))
            if cmd.get("stop"):
                stopping.add("stop")
        elif "complete" in cmd:
            end["completed"] = max(end["completed"] or 0, int(cmd["complete"]))
            for op in operators:
                op.notify_checkpoint_complete(int(cmd["complete"]))

    def on_commands() -> None:
        assert commands is not None
        while not commands.empty():
            on_command(commands.get_nowait())

    def end_of_input() -> None:
        """Flink's endInput with a final checkpoint to come: operators finish, consumers hear END_OF_DATA."""
        chain.finish()
        for _, w in all_writers:
            w.emit_end_of_data()
        end["ended"] = now_ms()
        if source is not None:
            with lock:
                report({"state": "RUNNING", "input_ended": True})  # the JobManager may trigger it now

    def await_final_checkpoint() -> None:
        """Until a checkpoint taken after the end of input has completed (a source subtask still injects the
        barriers it is told to), the task is cancelled, or a stop-with-savepoint ends it."""
        assert commands is not None
        while not should_stop() and not stopping:
            final_id, completed = end["final"], end["completed"] or 0
            if final_id is not None and completed >= final_id:
                return
            try:
                on_command(commands.get(timeout=0.05))
            except queue.Empty:
                pass

    def report_metrics() -> None:
        # Every interval, changed or not: the time figures (idle, back-pressure) change while nothing flows.
        while not done.wait(METRICS_INTERVAL_S):
            now = metrics()
            with lock:
                if not done.is_set():
                    report({"state": "RUNNING", "metrics": now})

    threading.Thread(target=report_metrics, name="metrics", daemon=True).start()
    try:
        for item in batches:
            if should_stop():
                return
            kind = type(item)
            if kind is list:
                chain.push(item)
            elif kind is Watermark:
                chain.watermark(item.timestamp)
            elif kind is WatermarkStatus:
                chain.status(item.idle)
            elif kind is CheckpointBarrier:
                checkpoint(item)
            elif item is INPUT_ENDED and final:
                end_of_input()
            chain.tick()
            if commands is not None and not commands.empty():
                on_commands()
                if stopping:
                    close = getattr(batches, "close", None)
                    if close is not None:
                        close()  # the source's own end (a socket closed) now, not at garbage collection
                    break
        if end["ended"] is None:
            if source is not None and not stopping:
                # The end of a bounded input: event time jumps to its end, firing every event-time timer and
                # window (Flink's final Long.MAX watermark). A gate's last watermark comes from its producers.
                chain.watermark(LONG_MAX)
            if final and source is not None and not stopping:
                end_of_input()
            elif stopping != {"stop"}:
                # A stop without drain suspends the job: its operators do not see the end of input. A gate
                # task whose producers ended without END_OF_DATA (a stop-with-savepoint's) finishes at once.
                chain.finish()
        if end["ended"] is not None:
            await_final_checkpoint()
            if should_stop():
                return
        for _, w in all_writers:
            w.close()
        for op in operators:
            op.close()
    finally:
        if writer is not None:
            writer.shutdown(wait=True)  # every snapshot taken is written (and acknowledged) before the end
        with lock:
            done.set()
    report({"state": "FINISHED", "metrics": metrics()})
