"""The pure parts of checkpointing: the coordinator, barrier alignment, restart strategies, sealed storage,
and a chain's snapshot/restore (keyed state, timers, operator hooks, source positions)."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import pytest

from flink_on_yarn.common.config import Configuration
from flink_on_yarn.graph.operators import KeyedReduceOperator, Operator, SumReducer
from flink_on_yarn.graph.sources import (
    CHECKPOINT_CHUNK_BYTES,
    ChunkSizer,
    CollectionSource,
    TextFileSource,
    runqueue_wait_s,
)
from flink_on_yarn.graph.task_context import TaskContext
from flink_on_yarn.graph.window_operator import WindowOperator
from flink_on_yarn.runtime.checkpoint_barrier import BarrierAligner, CheckpointBarrier
from flink_on_yarn.runtime.checkpoint_coordinator import CheckpointConfig, CheckpointCoordinator
from flink_on_yarn.runtime.checkpoint_snapshot import RestoreError, restore_chain, snapshot_chain
from flink_on_yarn.runtime.checkpoint_storage import CheckpointIntegrityError, CheckpointStorage
from flink_on_yarn.runtime.restart_strategies import (
    INTEGER_MAX,
    ExponentialDelay,
    FailureRate,
    FixedDelay,
    NoRestart,
    RestartStrategyError,
    from_config,
)

# --- coordinator --------------------------------------------------------------------------------------------


def test_coordinator_completes_after_every_ack_and_prunes_to_num_retained() -> None:
    c = CheckpointCoordinator(CheckpointConfig(interval_ms=100, num_retained=2))
    ids = []
    for t in (100, 200, 300):
        assert c.due(t)
        p = c.trigger(t, {"a", "b"})
        assert not c.due(t + 100)  # one at a time (max-concurrent-checkpoints = 1)
        assert c.acknowledge(p.id, "a", "fa", 3, t + 1) is None
        assert c.acknowledge(p.id, "stranger", "x", 1, t + 1) is None  # not one of its tasks: ignored
        done = c.acknowledge(p.id, "b", "fb", 4, t + 2)
        assert done is p
        discard = c.complete(p.id, t + 3, f"/chk-{p.id}")
        ids.append(p.id)
        assert [d.id for d in discard] == ([1] if p.id == 3 else [])
    assert [p.id for p in c.completed] == [2, 3] and c.latest() is not None and c.latest().state_size == 7  # type: ignore[union-attr]
    assert c.counts == {"restored": 0, "total": 3, "in_progress": 0, "completed": 3, "failed": 0}
    assert [p.id for p in c.history] == [3, 2, 1]


def test_coordinator_timeout_abort_and_min_pause() -> None:
    c = CheckpointCoordinator(CheckpointConfig(interval_ms=100, timeout_ms=500, min_pause_ms=300))
    p = c.trigger(0, {"a"})
    assert c.expire(499) == []
    assert c.expire(500) == [p] and p.status == "FAILED" and p.failure == "Checkpoint expired before completing."
    assert not c.due(700)  # min pause since the failure at 500
    assert c.due(800)
    q = c.trigger(800, {"a"})
    assert c.abort(q.id, "declined", 801) is q and c.acknowledge(q.id, "a", "f", 1, 802) is None
    assert c.counts["failed"] == 2 and c.latest_failed is q
    r = c.trigger(2000, {"a"})
    c.abort_all("failover", 2001)
    assert r.status == "FAILED" and not c.pending
    c.on_restore(7, 3000, "/chk-7")
    assert c.counts["restored"] == 1 and c.next_id == 8


def test_checkpoint_config_from_flink_keys() -> None:
    cfg = CheckpointConfig.from_config(Configuration({
        "execution.checkpointing.interval": "1 s", "execution.checkpointing.timeout": "2 min",
        "execution.checkpointing.max-concurrent-checkpoints": "2", "state.checkpoints.num-retained": "3",
        "state.checkpoints.dir": "file:///shared/ckpt"}))
    assert (cfg.interval_ms, cfg.timeout_ms, cfg.max_concurrent, cfg.num_retained, cfg.enabled) == \
        (1000, 120_000, 2, 3, True)
    assert not CheckpointConfig.from_config(Configuration({})).enabled


def test_checkpoints_after_tasks_finish_defaults_to_true_as_flink() -> None:
    key = "execution.checkpointing.checkpoints-after-tasks-finish"
    assert CheckpointConfig.from_config(Configuration({})).after_tasks_finish
    assert not CheckpointConfig.from_config(Configuration({key: "false"})).after_tasks_finish
    assert CheckpointConfig.from_config(Configuration({key: "TRUE"})).after_tasks_finish
    with pytest.raises(ValueError, match=f"Could not parse value 'maybe' for key '{key}'"):
        CheckpointConfig.from_config(Configuration({key: "maybe"}))


# --- alignment ----------------------------------------------------------------------------------------------


def test_aligner_blocks_until_every_live_channel_has_the_barrier() -> None:
    a = BarrierAligner(3)
    assert a.on_barrier(0, 1) == (True, None)
    assert a.on_barrier(2, 1) == (True, None)
    assert a.blocked == {0, 2}
    assert a.on_barrier(1, 1) == (False, 1) and a.blocked == set()
    # An ended channel counts as aligned.
    assert a.on_barrier(0, 2) == (True, None)
    assert a.on_end(1) is None
    assert a.on_end(2) == 2
    # A stale barrier (checkpoint already taken) blocks nothing.
    assert a.on_barrier(0, 2) == (False, None)


def test_aligner_newer_barrier_abandons_the_older_alignment() -> None:
    a = BarrierAligner(2)
    assert a.on_barrier(0, 1) == (True, None)
    assert a.on_barrier(0, 2) == (True, None)  # checkpoint 1 abandoned; channel 0 now waits for 2
    assert a.blocked == {0} and a.current == 2
    assert a.on_barrier(1, 1) == (False, None)  # the abandoned checkpoint's late barrier
    assert a.on_barrier(1, 2) == (False, 2)


def test_barrier_frame_roundtrip() -> None:
    b = CheckpointBarrier(12, 1_700_000_000_000)
    assert CheckpointBarrier.unpack(b.pack()) == b


# --- restart strategies -------------------------------------------------------------------------------------


def test_restart_strategy_defaults_follow_flink() -> None:
    assert isinstance(from_config({}), NoRestart)
    s = from_config({"execution.checkpointing.interval": "10 s"})
    assert isinstance(s, FixedDelay) and (s.attempts, s.delay_ms) == (INTEGER_MAX, 1000)
    assert isinstance(from_config({"restart-strategy": "none", "execution.checkpointing.interval": "1 s"}), NoRestart)
    assert isinstance(from_config({"restart-strategy.type": "off"}), NoRestart)
    legacy = from_config({"restart-strategy": "fixeddelay", "restart-strategy.fixed-delay.attempts": "3",
                          "restart-strategy.fixed-delay.delay": "500 ms"})
    assert isinstance(legacy, FixedDelay) and (legacy.attempts, legacy.delay_ms) == (3, 500)
    assert [legacy.on_failure(0) for _ in range(4)] == [500, 500, 500, None]
    with pytest.raises(RestartStrategyError, match=r"restart-strategy\.type"):
        from_config({"restart-strategy.type": "sometimes"})
    with pytest.raises(RestartStrategyError, match=r"fixed-delay\.attempts"):
        from_config({"restart-strategy.type": "fixed-delay", "restart-strategy.fixed-delay.attempts": "x"})


def test_failure_rate_counts_failures_within_the_interval() -> None:
    s = from_config({"restart-strategy.type": "failure-rate",
                     "restart-strategy.failure-rate.max-failures-per-interval": "2",
                     "restart-strategy.failure-rate.failure-rate-interval": "10 s",
                     "restart-strategy.failure-rate.delay": "2 s"})
    assert isinstance(s, FailureRate)
    assert s.on_failure(0) == 2000 and s.on_failure(1000) == 2000
    assert s.on_failure(5000) is None  # a third failure within 10 s
    t = FailureRate(max_failures=2, interval_ms=10_000)
    assert [t.on_failure(x) for x in (0, 1000, 11_500)] == [1000, 1000, 1000]  # the first fell out


def test_exponential_delay_grows_caps_and_resets() -> None:
    s = from_config({"restart-strategy.type": "exponential-delay",
                     "restart-strategy.exponential-delay.initial-backoff": "100 ms",
                     "restart-strategy.exponential-delay.max-backoff": "1 s",
                     "restart-strategy.exponential-delay.backoff-multiplier": "2",
                     "restart-strategy.exponential-delay.reset-backoff-threshold": "1 min",
                     "restart-strategy.exponential-delay.jitter-factor": "0"})
    assert isinstance(s, ExponentialDelay)
    assert [s.on_failure(t) for t in (0, 1, 2, 3, 4, 5)] == [100, 200, 400, 800, 1000, 1000]
    assert s.on_failure(5 + 60_000) == 100  # ran a minute without failing: back to the start
    jittery = ExponentialDelay(initial_backoff_ms=1000, jitter=0.1)
    assert 900 <= (jittery.on_failure(0) or 0) <= 1100
    capped = ExponentialDelay(attempts_before_reset=1, jitter=0)
    assert capped.on_failure(0) == 1000 and capped.on_failure(1) is None


# --- storage ------------------------------------------------------------------------------------------------


def test_storage_layout_mac_refusal_and_latest(tmp_path: Path) -> None:
    s = CheckpointStorage(tmp_path, "j" * 32, b"cluster-secret")
    path = s.write_state(3, "v1_0", pickle.dumps({"x": 1}))
    assert path == tmp_path / ("j" * 32) / "chk-3" / "v1_0"
    assert pickle.loads(s.read_state(path)) == {"x": 1}
    assert path.stat().st_mode & 0o077 == 0 and s.job_dir.stat().st_mode & 0o077 == 0  # the job's records: ours
    assert s.latest() is None  # no _metadata yet: not completed
    s.write_metadata(3, {"checkpoint_id": 3, "tasks": {}})
    assert s.latest() == tmp_path / ("j" * 32) / "chk-3" and s.read_metadata(s.latest())["checkpoint_id"] == 3  # type: ignore[arg-type]

    # A file changed by anyone, or sealed with another secret, is refused before anything is unpickled.
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointIntegrityError, match="failed its integrity check"):
        s.read_state(path)
    other = CheckpointStorage(tmp_path, "j" * 32, b"another-secret")
    with pytest.raises(CheckpointIntegrityError):
        other.read_metadata(s.chk_dir(3))
    forged = tmp_path / "forged"
    forged.write_bytes(pickle.dumps({"evil": True}))
    with pytest.raises(CheckpointIntegrityError, match="not a miniflink checkpoint file"):
        s.read_state(forged)
    with pytest.raises(CheckpointIntegrityError, match="no cluster secret"):
        CheckpointStorage(tmp_path, "j" * 32, b"").read_state(path)
    s.discard(3)
    assert not s.chk_dir(3).exists()


# --- snapshot and restore -----------------------------------------------------------------------------------


def _ctx() -> TaskContext:
    return TaskContext(job_id="j", task_name="t", subtask=0, parallelism=1)


class _Counting(Operator):
    """An operator with its own (non-keyed) state through the hooks."""

    def __init__(self) -> None:
        self.seen = 0
        self.completed: list[int] = []

    def process(self, batch: list[Any]) -> list[Any]:
        self.seen += len(batch)
        return batch

    def snapshot_state(self, checkpoint_id: int) -> bytes | None:
        return str(self.seen).encode()

    def restore_state(self, data: bytes) -> None:
        self.seen = int(data)

    def notify_checkpoint_complete(self, checkpoint_id: int) -> None:
        self.completed.append(checkpoint_id)


def _chain() -> list[Operator]:
    ops: list[Operator] = [_Counting(), KeyedReduceOperator(lambda p: p[0], SumReducer(1))]
    for op in ops:
        op.open(_ctx())
    return ops


def test_chain_snapshot_restores_keyed_and_operator_state_and_the_source_position() -> None:
    source = CollectionSource([("a", 1), ("b", 1), ("a", 1)] * 1000)
    ops = _chain()
    batches = source.batches(0, 1)
    first = next(batches)
    for op in ops:
        first = op.process(first)
    snap = snapshot_chain(ops, source, 1)
    rest = [r for b in batches for r in b]  # what comes after the checkpoint
    ops[1].process(rest)  # state moves on after the snapshot; the snapshot does not

    fresh_source = CollectionSource([("a", 1), ("b", 1), ("a", 1)] * 1000)
    fresh = _chain()
    restore_chain(fresh, fresh_source, snap)
    assert fresh[0].seen == 1024  # type: ignore[attr-defined]
    replay = [r for b in fresh_source.batches(0, 1) for r in b]
    assert replay == rest
    out = fresh[1].process(replay)
    assert out[-2:] == [("b", 1000), ("a", 2000)]  # continued from the checkpoint's counts, not from 0

    with pytest.raises(RestoreError, match="another job graph"):
        restore_chain([_Counting()], None, snap)


def test_window_operator_timers_survive_a_restore() -> None:
    from flink_on_yarn.common.time import Time
    from flink_on_yarn.datastream.window import TumblingEventTimeWindows
    from flink_on_yarn.graph.window_operator import WindowFunctionSpec

    def make() -> WindowOperator:
        op = WindowOperator(lambda p: p[0], TumblingEventTimeWindows.of(Time.milliseconds(10)),
                            WindowFunctionSpec("reduce", lambda a, b: (a[0], a[1] + b[1])), "Window")
        op.timestamped = True
        op.open(_ctx())
        return op

    op = make()
    op.process_ts([(1, ("a", 1)), (2, ("a", 2)), (12, ("b", 5))])
    snap = snapshot_chain([op], None, 4)
    again = make()
    restore_chain([again], None, snap)
    fired, _ = again.on_watermark(20)
    assert sorted(v for _, v in fired) == [("a", 3), ("b", 5)]


def test_text_file_position_resumes_at_the_next_line(tmp_path: Path) -> None:
    f = tmp_path / "in.txt"
    f.write_text("".join(f"line {i}\n" for i in range(5000)))
    src = TextFileSource([str(f)])
    src.for_checkpoints()
    it = src.batches(0, 1)
    head = next(it)
    resumed = TextFileSource([str(f)])
    resumed.restore_position(src.position)
    assert head + [r for b in resumed.batches(0, 1) for r in b] == [f"line {i}" for i in range(5000)]


def test_chunk_sizer_sizes_reads_by_the_time_a_batch_takes() -> None:
    c = ChunkSizer(low=64, high=1024, target_s=0.2)
    assert c.size == 64
    c.observe(0.05)  # under half the target: double
    c.observe(0.05)
    assert c.size == 256
    c.observe(0.15)  # within the target: kept
    assert c.size == 256
    c.observe(0.5)  # over it: halve, never under the floor
    c.observe(0.5)
    c.observe(0.5)
    assert c.size == 64
    for _ in range(10):
        c.observe(0.0)
    assert c.size == 1024  # never over the unchecked read size


def test_checkpointed_file_source_grows_its_reads_for_a_fast_chain(tmp_path: Path) -> None:
    f = tmp_path / "in.txt"
    f.write_text("".join(f"line {i}\n" for i in range(300_000)))  # about 3.4 MB
    src = TextFileSource([str(f)])
    src.for_checkpoints()
    batches = list(src.batches(0, 1))  # consumed at once: every batch takes far under the target
    assert len(batches[0]) <= CHECKPOINT_CHUNK_BYTES // len("line 0\n")  # the first read is a small one
    assert max(len(b) for b in batches) > 10 * len(batches[0])
    assert [r for b in batches for r in b] == [f"line {i}" for i in range(300_000)]


def test_runqueue_wait_is_this_threads_and_only_grows() -> None:
    first = runqueue_wait_s()
    sum(range(200_000))
    second = runqueue_wait_s()
    assert 0.0 <= first <= second  # seconds waited for a CPU so far (0.0 where the kernel does not say)


def test_an_attempts_first_periodic_checkpoint_waits_one_interval() -> None:
    """Not the moment its tasks run (a bounded job would then take one before its final checkpoint); after a
    failover the next attempt waits its interval again."""
    c = CheckpointCoordinator(CheckpointConfig(interval_ms=1000))
    c.start_periodic(5000)
    assert not c.due(5000) and not c.due(5999) and c.due(6000)
    c.trigger(6000, {"a"})
    c.abort_all("failover", 6100)
    c.start_periodic(7000)
    assert not c.due(7500) and c.due(8000)
