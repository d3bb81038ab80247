"""Exactly-once end to end: a checkpointed keyed running count written through the FileSink on a standalone
cluster; a TaskManager is SIGKILLed mid-job, the job restores from its latest checkpoint, and the sink's
committed (visible) part files hold every line a failure-free run writes exactly once: the files written after
the checkpoint are truncated or deleted, its pending ones committed, and the records replayed written again."""

from __future__ import annotations

import os
import signal
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.flink.conftest import KEYED_COUNT_FUNCTION, FlinkCluster, keyed_count_set_up, wait_for
from tests.line_server import LineServer

pytestmark = pytest.mark.integration

KEYS = 37
LINES = 6000

EXACTLY_ONCE_COUNT = '''
import sys, time
from flink_on_yarn.common import Encoder, Types
from flink_on_yarn.datastream import KeyedProcessFunction, StreamExecutionEnvironment
from flink_on_yarn.datastream.connectors.file_system import BucketAssigner, FileSink, RollingPolicy
from flink_on_yarn.datastream.state import ValueStateDescriptor

''' + KEYED_COUNT_FUNCTION + '''
def words(line):
    time.sleep(0.0015)  # about 4.5 s per source subtask: the kill lands mid-job
    yield line.split()[0]

env = StreamExecutionEnvironment.get_execution_environment()
env.enable_checkpointing(300)
# Long output lines in 64 KB parts: a part takes a few batches, so a checkpoint finds some in progress
# (reopened at their checkpointed length on the restore and written on) and some rolled on size (pending,
# committed when the checkpoint completes or on the restore).
sink = (FileSink.for_row_format(sys.argv[2], Encoder.simple_string_encoder())
        .with_rolling_policy(RollingPolicy.default_rolling_policy(part_size=64 * 1024))
        .with_bucket_assigner(BucketAssigner.base_path_bucket_assigner()).build())
(env.read_text_file(sys.argv[1]).flat_map(words).key_by(lambda k: k).process(Count())
    .map(lambda p: f"{p[0]} {p[1]} {'y' * 100}").sink_to(sink))
env.execute("exactly-once keyed count")
'''


def committed(out: Path) -> list[Path]:
    """The sink's visible part files (a hidden `.part-*.inprogress.*` one is not output yet)."""
    return [p for p in out.rglob("part-*") if p.is_file()] if out.exists() else []


def committed_lines(out: Path) -> Counter[str]:
    return Counter(line for p in committed(out) for line in p.read_text().splitlines())


@pytest.mark.timeout(300)  # above the waits' own ceilings on a loaded machine
def test_killed_taskmanager_file_sink_exactly_once(flink: Callable[..., FlinkCluster], tmp_path: Path) -> None:
    cluster, ckpt, lines, program = keyed_count_set_up(flink, tmp_path, EXACTLY_ONCE_COUNT, keys=KEYS, lines=LINES)
    out = tmp_path / "out"
    res = cluster.miniflink("run", "-m", cluster.rest, "-p", "2", "-d", "-py", str(program), str(lines), str(out))
    assert res.returncode == 0, res.stderr
    job_id = res.stdout.split("JobID ")[1].split()[0]

    # A failure-free run writes, for each key seen c times, the lines "k 1 y…" .. "k c y…" once each.
    per_key = Counter(line.split()[0] for line in lines.read_text().splitlines())
    expected = Counter(f"{k} {n} {'y' * 100}" for k, c in per_key.items() for n in range(1, c + 1))

    # Committed files while the job runs: a completed checkpoint's notification reached the sink subtasks.
    wait_for(lambda: len(committed_lines(out)) >= 600, 60, "600 committed lines")
    stats = cluster.get(f"/jobs/{job_id}/checkpoints")
    assert stats["counts"]["completed"] >= 1
    before = committed_lines(out)
    assert max(before.values()) == 1 and not before - expected  # no duplicate, nothing made up so far
    victim = next(tm["id"] for tm in cluster.get("/taskmanagers")["taskmanagers"]
                  if tm["freeSlots"] < tm["slotsNumber"])
    os.killpg(cluster.tms[victim].pid, signal.SIGKILL)
    assert sum(committed_lines(out).values()) < LINES  # the kill landed mid-job

    info = cluster.wait_state(job_id, ("FINISHED", "FAILED"), timeout=120)  # a ceiling for a loaded machine
    assert info["state"] == "FINISHED", cluster.get(f"/jobs/{job_id}/exceptions")
    assert info["restarts"] >= 1
    stats = cluster.get(f"/jobs/{job_id}/checkpoints")
    assert stats["counts"]["restored"] >= 1
    restored = stats["latest"]["restored"]
    assert restored["id"] >= 1
    assert Path(restored["external_path"]).name == f"chk-{restored['id']}"
    assert Path(restored["external_path"]).parent == ckpt / job_id

    got = committed_lines(out)
    assert got == expected, (f"duplicates: {sorted((got - expected).items())[:10]}, "
                             f"missing: {sorted((expected - got).items())[:10]}")
    assert sum(got.values()) == LINES
    # Nothing is left hidden at the end: every in-progress and pending file was committed or deleted.
    assert [p.name for p in out.rglob(".*")] == []
    # The restore was from the checkpoint, not from scratch: the lines committed before the kill (some of
    # them "k 1") are each there once, where a restart from scratch would count every key from 1 again.
    assert all(got[line] == 1 for line in before)


# The bounded word count ends (and, in Flink 1.15+, its sink subtasks commit on the final checkpoint) while
# the socket pipeline of the same job keeps it running: a failover then restores a checkpoint in which the
# word count's subtasks are finished.
FINISHED_PART = '''
import sys
from flink_on_yarn.common import Encoder, Types
from flink_on_yarn.datastream import KeyedProcessFunction, StreamExecutionEnvironment
from flink_on_yarn.datastream.connectors.file_system import BucketAssigner, FileSink
from flink_on_yarn.datastream.state import ValueStateDescriptor

''' + KEYED_COUNT_FUNCTION + '''
env = StreamExecutionEnvironment.get_execution_environment()
env.enable_checkpointing(100)
sink = (FileSink.for_row_format(sys.argv[2], Encoder.simple_string_encoder())
        .with_bucket_assigner(BucketAssigner.base_path_bucket_assigner()).build())
(env.read_text_file(sys.argv[1]).flat_map(lambda line: line.split()).key_by(lambda w: w).process(Count())
    .map(lambda p: f"{p[0]} {p[1]}").sink_to(sink))
env.socket_text_stream("127.0.0.1", int(sys.argv[3])).map(lambda s: s.upper()).print()
env.execute("bounded word count beside a socket")
'''


@pytest.mark.timeout(120)
def test_restore_after_the_file_sink_finished_is_exactly_once(flink: Callable[..., FlinkCluster],
                                                               tmp_path: Path) -> None:
    ckpt = tmp_path / "checkpoints"
    cluster = flink(tms=2, slots=2, **{"state.checkpoints.dir": str(ckpt)})
    lines = tmp_path / "words.txt"
    lines.write_text("".join(f"w{i % 11} w{i % 7} w{i % 3}\n" for i in range(2000)))
    program = tmp_path / "finished_part.py"
    program.write_text(FINISHED_PART)
    out = tmp_path / "out"
    server = LineServer([])
    try:
        job_id = cluster.run_detached(program, str(lines), str(out), str(server.port))
        per_word = Counter(lines.read_text().split())
        expected = Counter(f"{w} {n}" for w, c in per_word.items() for n in range(1, c + 1))

        def sink_vertices_finished() -> bool:
            vs = cluster.get(f"/jobs/{job_id}")["vertices"]
            return all(v["status"] == "FINISHED" for v in vs if "Writer" in v["name"])

        wait_for(sink_vertices_finished, 30, "the file sink's subtasks FINISHED")
        assert committed_lines(out) == expected  # committed on the final checkpoint, before they finished
        # Checkpoints go on without the finished subtasks (Flink's checkpoints-after-tasks-finish)...
        done = cluster.get(f"/jobs/{job_id}/checkpoints")["counts"]["completed"]
        wait_for(lambda: cluster.get(f"/jobs/{job_id}/checkpoints")["counts"]["completed"] > done, 10,
                 "a checkpoint after the file sink finished")
        # The TaskManager running the socket pipeline: its loss fails the job.
        socket_vertex = next(v["id"] for v in cluster.get(f"/jobs/{job_id}")["vertices"] if "Socket" in v["name"])
        victim = cluster.get(f"/jobs/{job_id}/vertices/{socket_vertex}")["subtasks"][0]["taskmanager-id"]
        os.killpg(cluster.tms[victim].pid, signal.SIGKILL)
        # ... and the restore from one deploys them finished: the word count is neither replayed nor lost.
        wait_for(lambda: cluster.get(f"/jobs/{job_id}")["restarts"] >= 1 and
                 cluster.get(f"/jobs/{job_id}/checkpoints")["counts"]["restored"] >= 1, 30, "the restore")
        wait_for(sink_vertices_finished, 30, "the restored file sink's subtasks FINISHED")
        server.close()  # the socket source ends, and with it the job
        info = cluster.wait_state(job_id, ("FINISHED", "FAILED"), timeout=30)
        assert info["state"] == "FINISHED", cluster.get(f"/jobs/{job_id}/exceptions")
    finally:
        server.close()
    got = committed_lines(out)
    assert got == expected, (f"duplicates: {sorted((got - expected).items())[:10]}, "
                             f"missing: {sorted((expected - got).items())[:10]}")
    assert [p.name for p in out.rglob(".*")] == []


BOUNDED = '''
import sys
from flink_on_yarn.common import Encoder
from flink_on_yarn.datastream import StreamExecutionEnvironment
from flink_on_yarn.datastream.connectors.file_system import BucketAssigner, FileSink

env = StreamExecutionEnvironment.get_execution_environment()
env.enable_checkpointing(int(sys.argv[3]))
sink = (FileSink.for_row_format(sys.argv[2], Encoder.simple_string_encoder())
        .with_bucket_assigner(BucketAssigner.base_path_bucket_assigner()).build())
env.read_text_file(sys.argv[1]).map(lambda line: line.upper()).sink_to(sink)
env.execute("bounded copy")
'''


@pytest.mark.timeout(60)
def test_bounded_job_ends_with_its_final_checkpoint_at_once(flink: Callable[..., FlinkCluster],
                                                           tmp_path: Path) -> None:
    """The final checkpoint commits the last files: it is triggered when every source subtask has reached the
    end of its input, not a minute later at the interval; the job is FINISHED once it completed."""
    cluster = flink(tms=1, slots=2, **{"state.checkpoints.dir": str(tmp_path / "checkpoints")})
    lines = tmp_path / "lines.txt"
    lines.write_text("".join(f"line {i}\n" for i in range(5000)))
    program = tmp_path / "bounded.py"
    program.write_text(BOUNDED)
    out = tmp_path / "out"
    job_id = cluster.run_detached(program, str(lines), str(out), "60000")
    info = cluster.wait_state(job_id, ("FINISHED", "FAILED"), timeout=20)
    assert info["state"] == "FINISHED", cluster.get(f"/jobs/{job_id}/exceptions")
    stats = cluster.get(f"/jobs/{job_id}/checkpoints")
    assert stats["counts"]["completed"] == 1 and stats["counts"]["failed"] == 0
    assert stats["latest"]["completed"]["id"] == 1
    assert info["duration"] < 30_000  # well before the interval's first periodic checkpoint
    assert committed_lines(out) == Counter(f"LINE {i}" for i in range(5000))
    assert [p.name for p in out.rglob(".*")] == []
