"""The FileSink's lifecycle driven through the operator hooks by hand: in-progress -> pending -> finished,
and restores after a crash that leave each record exactly once in the visible files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from flink_on_yarn.common import Encoder
from flink_on_yarn.datastream.connectors.file_system import (
    BucketAssigner,
    FileSink,
    FileSinkOperator,
    OutputFileConfig,
    RollingPolicy,
)
from flink_on_yarn.graph.task_context import TaskContext


def sink(base: Path, rolling: RollingPolicy | None = None, prefix: str = "part", suffix: str = "",
         assigner: BucketAssigner | None = None) -> FileSinkOperator:
    builder = FileSink.for_row_format(str(base), Encoder.simple_string_encoder()) \
        .with_output_file_config(OutputFileConfig.builder().with_part_prefix(prefix).with_part_suffix(suffix).build())
    if rolling is not None:
        builder = builder.with_rolling_policy(rolling)
    builder = builder.with_bucket_assigner(assigner or BucketAssigner.base_path_bucket_assigner())
    op = builder.build().to_operator()
    op.open(TaskContext(job_id="j", task_name="Sink: Writer", subtask=0, parallelism=1))
    return op


def visible(base: Path) -> list[str]:
    """Every line of every finished part file (names not starting with a dot)."""
    lines: list[str] = []
    for p in sorted(base.rglob("*")):
        if p.is_file() and not p.name.startswith("."):
            lines.extend(p.read_text().splitlines())
    return lines


def hidden(base: Path) -> list[Path]:
    return [p for p in base.rglob(".*") if p.is_file()]


def test_in_progress_pending_finished(tmp_path: Path) -> None:
    op = sink(tmp_path, prefix="prefix", suffix=".ext")
    op.process(["a", "b"])
    [temp] = hidden(tmp_path)
    assert temp.name.startswith(f".prefix-{op.uid}-0-0.ext.inprogress.")
    assert visible(tmp_path) == []
    op.snapshot_state(1)  # default policy: the small part stays in progress through the checkpoint
    # Its fsync is the snapshot's asynchronous part (the task's writer thread runs it before acknowledging),
    # on a descriptor of its own that it closes; a checkpoint with nothing in progress has none.
    sync = op.snapshot_durability(1)
    assert sync is not None and op.snapshot_durability(1) is None
    fds_before = len(os.listdir("/proc/self/fd"))
    sync()
    assert len(os.listdir("/proc/self/fd")) == fds_before - 1
    op.notify_checkpoint_complete(1)
    assert visible(tmp_path) == [] and hidden(tmp_path) == [temp]
    op.finish()
    assert [p.name for p in tmp_path.iterdir()] == [f"prefix-{op.uid}-0-0.ext"]
    assert visible(tmp_path) == ["a", "b"]


def test_on_checkpoint_policy_commits_at_completion_only(tmp_path: Path) -> None:
    op = sink(tmp_path, RollingPolicy.on_checkpoint_rolling_policy())
    op.process(["a"])
    op.snapshot_state(1)
    op.process(["b"])
    op.snapshot_state(2)
    assert visible(tmp_path) == []  # pending until their checkpoint completes
    op.notify_checkpoint_complete(1)
    assert visible(tmp_path) == ["a"]
    op.notify_checkpoint_complete(2)
    assert sorted(visible(tmp_path)) == ["a", "b"]
    op.close()
    assert hidden(tmp_path) == []


def test_a_later_completion_commits_earlier_checkpoints(tmp_path: Path) -> None:
    op = sink(tmp_path, RollingPolicy.on_checkpoint_rolling_policy())
    op.process(["a"])
    op.snapshot_state(1)
    op.process(["b"])
    op.snapshot_state(2)
    op.notify_checkpoint_complete(2)  # checkpoint 1's notification lost: 2 subsumes it, as in Flink
    assert sorted(visible(tmp_path)) == ["a", "b"]


def test_crash_after_snapshot_restores_exactly_once(tmp_path: Path) -> None:
    """process -> snapshot(1) -> process -> crash: the new operator, restored from 1, writes the rest."""
    op = sink(tmp_path, RollingPolicy.default_rolling_policy(part_size=10))
    op.process(["r0-abcdefgh", "r1"])  # past 10 bytes: the next write rolls this part to pending
    op.process(["r2"])
    state = op.snapshot_state(1)
    assert state is not None
    op.process(["r3-after", "r4-after"])  # after the checkpoint, into the in-progress part
    op.process(["r5-after-abcdefgh"])
    op.process(["r6-after"])  # a rolled pending file of the failed attempt, never checkpointed
    # crash: the operator is gone without close; a new one is restored from checkpoint 1
    new = sink(tmp_path, RollingPolicy.default_rolling_policy(part_size=10))
    new.restore_state(state)
    assert visible(tmp_path) == ["r0-abcdefgh", "r1"]  # checkpoint 1's pending file, committed at restore
    new.process(["r3-after", "r4-after", "r5-after-abcdefgh", "r6-after"])  # the source replays after 1
    new.finish()
    lines = visible(tmp_path)
    assert sorted(lines) == sorted(["r0-abcdefgh", "r1", "r2", "r3-after", "r4-after", "r5-after-abcdefgh",
                                    "r6-after"])
    assert hidden(tmp_path) == []


def test_restore_after_commit_is_idempotent(tmp_path: Path) -> None:
    op = sink(tmp_path, RollingPolicy.on_checkpoint_rolling_policy())
    op.process(["a"])
    state = op.snapshot_state(1)
    assert state is not None
    op.notify_checkpoint_complete(1)
    op.process(["b"])  # lost with the crash, replayed by the source
    new = sink(tmp_path, RollingPolicy.on_checkpoint_rolling_policy())
    new.restore_state(state)
    new.process(["b"])
    new.finish()
    assert sorted(visible(tmp_path)) == ["a", "b"]
    assert hidden(tmp_path) == []


def test_crash_before_completion_restore_commits_pending(tmp_path: Path) -> None:
    """Checkpoint 2 completed at the JobManager but the sink died before its notification: the restore of 2
    commits 2's pending files, and nothing of what came after."""
    op = sink(tmp_path, RollingPolicy.on_checkpoint_rolling_policy())
    op.process(["a"])
    op.snapshot_state(1)
    op.notify_checkpoint_complete(1)
    op.process(["b"])
    state = op.snapshot_state(2)
    assert state is not None
    op.process(["c"])
    op.snapshot_state(3)  # never completed
    new = sink(tmp_path, RollingPolicy.on_checkpoint_rolling_policy())
    new.restore_state(state)
    assert sorted(visible(tmp_path)) == ["a", "b"]
    assert hidden(tmp_path) == []
    new.process(["c"])
    new.finish()
    assert sorted(visible(tmp_path)) == ["a", "b", "c"]


def test_rolling_by_processing_time(tmp_path: Path) -> None:
    op = sink(tmp_path, RollingPolicy.default_rolling_policy(rollover_interval=1_000, inactivity_interval=500))
    op.process(["a"])
    part = op.parts[""]
    due = op.next_processing_time()
    assert due is not None
    op.on_processing_time(part.created + 499)  # neither interval has passed
    assert "" in op.parts
    op.on_processing_time(part.last_write + 500)  # idle for the inactivity interval
    assert op.parts == {} and op.next_processing_time() is None
    op.process(["b"])
    assert op.parts[""].final.name.endswith("-0-1")  # the counter goes on
    op.snapshot_state(1)
    op.notify_checkpoint_complete(1)
    assert visible(tmp_path) == ["a"]  # rolled before checkpoint 1: committed at its completion


def test_date_time_buckets(tmp_path: Path) -> None:
    assigner = BucketAssigner.date_time_bucket_assigner("yyyy-MM-dd--HH", "UTC")
    assert assigner.bucket_id(0) == "1970-01-01--00"
    assert BucketAssigner.date_time_bucket_assigner("yyyy/MM/dd", "UTC").bucket_id(86_400_000) == "1970/01/02"
    op = sink(tmp_path, assigner=BucketAssigner())
    op.process(["x"])
    op.finish()
    [bucket] = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert len(bucket.name) == len("yyyy-MM-dd--HH") and bucket.name[10:12] == "--"
    assert visible(tmp_path) == ["x"]


def test_restore_refuses_foreign_state(tmp_path: Path) -> None:
    op = sink(tmp_path)
    with pytest.raises(ValueError, match="not a file sink state"):
        op.restore_state(json.dumps({"version": 99}).encode())


def test_restore_with_lost_in_progress_file_fails(tmp_path: Path) -> None:
    op = sink(tmp_path)
    op.process(["a"])
    state = op.snapshot_state(1)
    assert state is not None
    for p in hidden(tmp_path):
        p.unlink()
    with pytest.raises(FileNotFoundError, match="cannot be recovered"):
        sink(tmp_path).restore_state(state)
