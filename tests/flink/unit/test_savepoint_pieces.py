"""Savepoints' pure parts: operator ids from uids and graph position, the `_metadata` a job graph writes, the
restore plan that maps it onto another version of the job (changed chains, an added operator, a missing
uid), the planned restore into real operators, and the REST operation's states."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flink_on_yarn.common import Types
from flink_on_yarn.common.watermark_strategy import LONG_MAX
from flink_on_yarn.datastream import KeyedProcessFunction, StreamExecutionEnvironment
from flink_on_yarn.datastream.state import ValueStateDescriptor
from flink_on_yarn.graph.codec import decode, encode
from flink_on_yarn.graph.job_graph import JobGraphSpec
from flink_on_yarn.graph.operator_ids import check_uid_hash, uid_hash
from flink_on_yarn.graph.operators import MapOperator, Operator
from flink_on_yarn.graph.sources import Source
from flink_on_yarn.graph.task_context import TaskContext
from flink_on_yarn.runtime.checkpoint_coordinator import Checkpoint
from flink_on_yarn.runtime.checkpoint_snapshot import RestorePlan, restore_planned, snapshot_chain
from flink_on_yarn.runtime.checkpoint_storage import CheckpointIntegrityError, CheckpointStorage
from flink_on_yarn.runtime.rest_operations import Kind, Operations
from flink_on_yarn.runtime.savepoints import (
    SavepointRestoreError,
    TaskOperators,
    default_directory,
    local_path,
    metadata,
    new_savepoint_dir,
    plan_restore,
    read_savepoint,
    restore_settings,
    stage_restore,
    write_savepoint,
)
from flink_on_yarn.runtime.task import Commands, run_task
from flink_on_yarn.runtime.task_deployment import TaskDeployment


class Count(KeyedProcessFunction):  # type: ignore[misc]
    def open(self, runtime_context: Any) -> None:
        self.count = runtime_context.get_state(ValueStateDescriptor("count", Types.LONG()))

    def process_element(self, key: str, ctx: Any) -> Any:
        n = (self.count.value() or 0) + 1
        self.count.update(n)
        yield key, n


def job(version: str, count_uid: str | None = "count") -> JobGraphSpec:
    env = StreamExecutionEnvironment.get_execution_environment()
    words = env.from_collection(["a", "b", "a"]).uid("words")
    if version == "v2":
        words = words.filter(lambda w: w != "skip").map(lambda w: w)  # chained in front of nothing new
    counted = words.key_by(lambda w: w).process(Count())
    if count_uid is not None:
        counted = counted.uid(count_uid)
    counted.map(lambda kv: kv).print()
    return env.get_job_graph("job " + version)


def layout(g: JobGraphSpec) -> list[TaskOperators]:
    return [TaskOperators(v.id, i, [o.operatorId for o in v.operators], v.sourceOperatorId)
            for v in g.vertices for i in range(v.parallelism)]


def operators(g: JobGraphSpec) -> dict[str, dict[str, Any]]:
    return {o.operatorId: {"name": o.name, "uid": o.uid, "stateful": o.stateful, "rescalable": o.rescalable,
                           "parallelism": v.parallelism, "max_parallelism": v.maxParallelism}
            for v in g.vertices for o in v.operators}


def ids_by_name(g: JobGraphSpec) -> dict[str, str]:
    return {o.name: o.operatorId for v in g.vertices for o in v.operators}


def test_operator_ids_from_uids_and_graph_position() -> None:
    v1, again, v2 = job("v1"), job("v1"), job("v2")
    # The same program: the same ids, though vertex ids are fresh per graph.
    assert ids_by_name(v1) == ids_by_name(again)
    assert {v.id for v in v1.vertices}.isdisjoint(v.id for v in again.vertices)
    # A uid is the hash of the uid, whatever changed around it; a generated id changes with the graph.
    assert ids_by_name(v1)["KeyedProcess"] == ids_by_name(v2)["KeyedProcess"] == uid_hash("count")
    assert ids_by_name(v1)["Map"] != ids_by_name(v2)["Map"]
    source = next(v for v in v1.vertices if v.source is not None)
    assert source.sourceOperatorId == uid_hash("words") and source.sourceUid == "words"
    stateful = {o.name: o.stateful for v in v1.vertices for o in v.operators}
    assert stateful["KeyedProcess"] and not stateful["Map"]
    assert len({o.operatorId for v in v2.vertices for o in v.operators}) == sum(len(v.operators) for v in v2.vertices)
    assert check_uid_hash("AB" * 16) == "ab" * 16
    with pytest.raises(ValueError, match="32 character"):
        check_uid_hash("xyz")


def test_plan_maps_state_by_uid_across_changed_chains() -> None:
    v1, v2 = job("v1"), job("v2")
    files = {(t.vertex_id, t.subtask): (f"{t.vertex_id}_{t.subtask}", 10) for t in layout(v1)}
    meta = metadata(v1.jobId, 7, 1000, True, files, layout(v1), operators(v1))
    assert meta["savepoint"] is True and meta["checkpoint_id"] == 7
    plan = plan_restore(meta, layout(v2), "/sp/savepoint-x", allow_non_restored=False)
    assert set(plan) == {(t.vertex_id, t.subtask) for t in layout(v2)}
    count_id = uid_hash("count")
    old_vertex = next(v for v in v1.vertices if any(o.operatorId == count_id for o in v.operators))
    for t in layout(v2):
        p = plan[(t.vertex_id, t.subtask)]
        assert len(p.operators) == len(t.operators)
        for op, where in zip(t.operators, p.operators, strict=True):
            if op == count_id:  # found in the v1 vertex that held it, at its index there
                assert where is not None
                assert p.files[where[0]] == f"/sp/savepoint-x/{old_vertex.id}_{t.subtask}"
                assert where[1] == [o.operatorId for o in old_vertex.operators].index(count_id)
            elif op not in meta["operators"]:
                assert where is None  # an operator the savepoint does not know starts empty
        if t.source:
            assert p.source is not None and p.files[p.source].endswith(f"_{t.subtask}")


def test_plan_refuses_unmapped_state_unless_allowed() -> None:
    v1, renamed = job("v1"), job("v1", count_uid="other")
    files = {(t.vertex_id, t.subtask): (f"{t.vertex_id}_{t.subtask}", 1) for t in layout(v1)}
    meta = metadata(v1.jobId, 1, 0, True, files, layout(v1), operators(v1))
    with pytest.raises(SavepointRestoreError) as e:
        plan_restore(meta, layout(renamed), "/sp/1", allow_non_restored=False)
    assert str(e.value).startswith(f"Failed to rollback to checkpoint/savepoint /sp/1. Cannot map checkpoint/"
                                   f"savepoint state for operator {uid_hash('count')} (uid 'count', KeyedProcess)")
    assert "you can set the --allowNonRestoredState option on the CLI." in str(e.value)
    plan = plan_restore(meta, layout(renamed), "/sp/1", allow_non_restored=True)
    assert all(where is None for p in plan.values() for where in p.operators)
    # Stateless operators that are gone need no permission (Flink skips empty state too).
    meta["operators"][uid_hash("count")]["stateful"] = False
    plan_restore(meta, layout(renamed), "/sp/1", allow_non_restored=False)


def at(g: JobGraphSpec, parallelism: int) -> list[TaskOperators]:
    """`g`'s layout with its non-source vertices at `parallelism` (as `run -p` gives them)."""
    return [TaskOperators(v.id, i, [o.operatorId for o in v.operators], v.sourceOperatorId)
            for v in g.vertices for i in range(1 if v.sourceOperatorId else parallelism)]


def test_plan_rescales_keyed_state_from_every_old_subtask() -> None:
    v1 = job("v1")
    old = at(v1, 2)
    files = {(t.vertex_id, t.subtask): (f"{t.vertex_id}_{t.subtask}", 1) for t in old}
    ops = operators(v1)
    for info in ops.values():
        info["parallelism"] = 2
    meta = metadata(v1.jobId, 1, 0, True, files, old, ops)
    count = uid_hash("count")
    plan = plan_restore(meta, at(v1, 3), "/sp/1", allow_non_restored=False)
    vid, chain = next((t.vertex_id, t.operators) for t in old if count in t.operators)
    index = chain.index(count)
    for subtask in range(3):
        p = plan[(vid, subtask)]
        assert [Path(p.files[f]).name for f, _ in p.rescaled[index]] == [f"{vid}_0", f"{vid}_1"]
        assert [i for _, i in p.rescaled[index]] == [index, index] and p.operators[index] is None
    # A subtask's state missing from the savepoint is an error, not an empty key range.
    del meta["tasks"][f"{vid}:1"]
    with pytest.raises(SavepointRestoreError, match=r"holds no state of subtask 1 of operator"):
        plan_restore(meta, at(v1, 3), "/sp/1", allow_non_restored=False)
    # From a `_metadata` that does not say the state rescales, it is refused (never dropped).
    meta = metadata(v1.jobId, 1, 0, True, files, old, ops)
    meta["operators"][count].pop("rescalable")
    with pytest.raises(SavepointRestoreError, match=r"ran with parallelism 2 and now has 3: it holds operator "
                                                    r"state \(not keyed state\).* \(-p 2\)"):
        plan_restore(meta, at(v1, 3), "/sp/1", allow_non_restored=False)


def test_plan_refuses_a_changed_max_parallelism() -> None:
    v1 = job("v1")
    files = {(t.vertex_id, t.subtask): (f"{t.vertex_id}_{t.subtask}", 1) for t in layout(v1)}
    meta = metadata(v1.jobId, 1, 0, True, files, layout(v1), operators(v1))
    assert {info["max_parallelism"] for info in meta["operators"].values()} == {128}
    meta["operators"][uid_hash("count")]["max_parallelism"] = 256
    with pytest.raises(SavepointRestoreError) as e:
        plan_restore(meta, layout(v1), "/sp/1", allow_non_restored=False)
    assert str(e.value) == (
        f"Failed to rollback to checkpoint/savepoint /sp/1. Max parallelism mismatch between checkpoint/savepoint "
        f"state and new program. Cannot map operator {uid_hash('count')} with max parallelism 256 to new program "
        f"with max parallelism 128. This indicates that the program has been changed in a non-compatible way "
        f"after the checkpoint/savepoint.")


def test_plan_refuses_a_file_sink_and_a_file_source_at_another_parallelism(tmp_path: Path) -> None:
    from flink_on_yarn.common import Encoder
    from flink_on_yarn.datastream.connectors.file_system import FileSink

    (tmp_path / "in.txt").write_text("a\n")
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    lines = env.read_text_file(str(tmp_path / "in.txt")).uid("lines")
    lines.sink_to(FileSink.for_row_format(str(tmp_path / "out"), Encoder.simple_string_encoder()).build()).uid("files")
    g = env.get_job_graph("files")
    files = {(t.vertex_id, t.subtask): (f"{t.vertex_id}_{t.subtask}", 1) for t in layout(g)}
    ops = operators(g)
    sink = next(info for info in ops.values() if info["uid"] == "files")
    assert sink["stateful"] and not sink["rescalable"]
    meta = metadata(g.jobId, 1, 0, True, files, layout(g), ops)
    wider = [TaskOperators(t.vertex_id, i, t.operators, t.source) for t in layout(g) if t.subtask == 0
             for i in range(3)]
    with pytest.raises(SavepointRestoreError) as e:
        plan_restore(meta, wider, "/sp/1", allow_non_restored=False)
    assert "The operator" in str(e.value) and "(uid 'files', " in str(e.value), str(e.value)
    assert "ran with parallelism 2 and now has 3" in str(e.value) and "(-p 2)" in str(e.value)
    # Without the sink, the file source's read positions (its splits at 2) are what is refused.
    src = next(v.sourceOperatorId for v in g.vertices if v.sourceOperatorId)
    meta["operators"] = {**ops, src: {"name": "Source", "uid": "lines", "stateful": False, "parallelism": 2}}
    for info in meta["operators"].values():
        info["rescalable"] = True
    with pytest.raises(SavepointRestoreError, match=r"The source .*'lines'.* ran with parallelism 2 and now has 3"):
        plan_restore(meta, wider, "/sp/1", allow_non_restored=False)


def test_restore_planned_puts_keyed_state_into_another_chain() -> None:
    g = job("v1")
    vertex = next(v for v in g.vertices if any(o.name == "KeyedProcess" for o in v.operators))
    ctx = TaskContext(job_id=g.jobId, task_name="t", subtask=0, parallelism=1, attempt=0,
                      runtime_mode="STREAMING")
    old = [decode(o.payload) for o in vertex.operators]
    for op in old:
        op.open(ctx)
    old[0].process(["a", "a", "b"])
    data = snapshot_chain(old, None, 1)
    # The new chain has an operator in front: the count's state is at index 0 of the old file.
    chain = [MapOperator(lambda x: x, "Map"), decode(vertex.operators[0].payload)]
    for op in chain:
        op.open(ctx)
    restore_planned(chain, None, RestorePlan(files=["f"], operators=[None, (0, 0)]), {"f": data}.__getitem__)
    assert chain[1].process(["a"]) == [("a", 3)]
    assert chain[1].process(["c"]) == [("c", 1)]


def test_settings_paths_and_layout() -> None:
    assert default_directory({"state.savepoints.dir": "/old"}) == "/old"
    assert default_directory({"execution.checkpointing.savepoint-dir": "/new", "state.savepoints.dir": "/o"}) == "/new"
    assert default_directory({}) is None
    assert local_path("file:///sp/a") == "/sp/a" and local_path("file:/sp/a") == "/sp/a" and local_path("/x") == "/x"
    assert restore_settings({"execution.savepoint.path": "file:/sp/1"}) == ("/sp/1", False)
    assert restore_settings({"execution.state-recovery.path": "/sp/2",
                             "execution.state-recovery.ignore-unclaimed-state": "true"}) == ("/sp/2", True)
    d = new_savepoint_dir("file:///sp", "0123456789" + "a" * 22)
    assert str(d.parent) == "/sp" and d.name.startswith("savepoint-012345-") and len(d.name) == 29


def test_operation_follows_its_savepoint() -> None:
    ops = Operations(max_kept=2)
    op, new = ops.trigger(Kind.SAVEPOINT, "j", "A" * 32)
    assert new and op.trigger_id == "a" * 32 and ops.trigger(Kind.SAVEPOINT, "j", "a" * 32) == (op, False)
    assert op.result() == {"status": {"id": "IN_PROGRESS"}, "operation": None}
    p = Checkpoint(1, 0, frozenset({"t"}), is_savepoint=True)
    op.attach(p)
    assert op.status == "IN_PROGRESS" and op.failure is None
    p.status, p.external_path = "COMPLETED", "file:/sp/savepoint-j-1"
    assert op.result() == {"status": {"id": "COMPLETED"}, "operation": {"location": "file:/sp/savepoint-j-1"}}
    failed, _ = ops.trigger(Kind.SAVEPOINT, "j", None)
    q = Checkpoint(2, 0, frozenset({"t"}), is_savepoint=True, status="FAILED", failure="Checkpoint expired")
    failed.attach(q)
    assert failed.status == "COMPLETED" and failed.failure == "CheckpointException: Checkpoint expired"
    refused, _ = ops.trigger(Kind.SAVEPOINT, "j", None)
    refused.attach("not running")
    assert refused.failure == "not running"
    assert ops.get(Kind.SAVEPOINT, "j", "a" * 32) is None  # the oldest went once more than 2 were kept


def test_savepoint_files_move_between_clusters_only_under_the_users_key(tmp_path: Path) -> None:
    """Cluster A writes a savepoint under the user's key; cluster B (another secret, the same user's key)
    verifies it and re-seals its files for its own TaskManagers; another user's key verifies nothing."""
    a, b, user, other = b"a" * 32, b"b" * 32, b"u" * 32, b"o" * 32
    storage_a = CheckpointStorage(tmp_path / "chk-a", "1" * 32, a)
    storage_a.write_state(3, "v_0", b"state of v 0")
    meta = {"job_id": "1" * 32, "checkpoint_id": 3, "savepoint": True, "operators": {},
            "tasks": {"v:0": {"file": "v_0", "size": 1, "operators": [], "source": ""}}}
    sp = write_savepoint(tmp_path / "sp" / "savepoint-111111-x", storage_a.chk_dir(3), a, user, meta)
    read, key = read_savepoint(str(sp), [user, b])
    assert read == meta and key == user
    with pytest.raises(CheckpointIntegrityError):
        read_savepoint(str(sp), [other, b])
    with pytest.raises(CheckpointIntegrityError):
        CheckpointStorage(tmp_path, "2" * 32, b).read_state(sp / "v_0")  # not under B's secret as written
    staged = tmp_path / "chk-b" / ("2" * 32) / "restore-3"
    stage_restore(str(sp), read, key, staged, b)
    assert CheckpointStorage(tmp_path / "chk-b", "2" * 32, b).read_state(staged / "v_0") == b"state of v 0"


class Endless(Source):
    """A source that never ends by itself: one record per batch, a few ms apart."""

    def batches(self, subtask: int, parallelism: int) -> Iterator[list[Any]]:
        n = 0
        while True:
            n += 1
            time.sleep(0.005)
            yield [n]


class Recorder(Operator):
    """Appends what reaches it to the module's EVENTS (the task decodes its own copy of this operator)."""

    def on_watermark(self, timestamp: int) -> tuple[list[Any], int | None]:
        EVENTS.append(("watermark", timestamp))
        return [], timestamp

    def finish(self) -> list[Any]:
        EVENTS.append(("finish", 0))
        return []


EVENTS: list[tuple[str, int]] = []


@pytest.mark.parametrize("drain", [False, True])
def test_stop_with_savepoint_ends_the_source_behind_its_barrier(tmp_path: Path, drain: bool) -> None:
    """The real task loop: a stop trigger makes the source snapshot and end (FINISHED); with drain the MAX
    watermark (and the end of input) comes first, without it neither (the job is suspended, as Flink's)."""
    EVENTS.clear()
    dep = TaskDeployment(execution_id="e", job_id="1" * 32, vertex_id="v", task_name="t", subtask=0,
                         parallelism=1, attempt=0, runtime_mode="STREAMING", operators=[encode(Recorder())],
                         source=encode(Endless()), checkpoint_dir=str(tmp_path))
    reports: list[dict[str, Any]] = []
    commands: Commands = queue.SimpleQueue()
    task = threading.Thread(target=run_task, args=(dep, reports.append, b"s" * 32), kwargs={"commands": commands})
    task.start()
    commands.put({"trigger": 4, "timestamp": 0, "stop": True, "drain": drain})
    task.join(timeout=20)
    assert not task.is_alive()
    acks = [r for r in reports if "checkpoint" in r]
    assert [a["checkpoint"] for a in acks] == [4] and Path(acks[0]["path"]).is_file()
    assert reports[-1]["state"] == "FINISHED"
    assert reports.index(acks[0]) < len(reports) - 1  # acknowledged before FINISHED
    assert (("watermark", LONG_MAX) in EVENTS) == drain and (("finish", 0) in EVENTS) == drain
