"""Partitioning, splits, operators over batches, config parsing: the pure parts of the runtime."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from flink_on_yarn.common.config import Configuration, parse_duration_ms, parse_dynamic
from flink_on_yarn.common.text import format_record
from flink_on_yarn.graph.operators import KeyedReduceOperator, PrintSinkOperator, SumReducer
from flink_on_yarn.graph.partitioning import hash_partition, key_group_table, rebalance_partition, subtask_for_key
from flink_on_yarn.graph.sources import read_split
from flink_on_yarn.graph.task_context import TaskContext


def test_hash_partition_agrees_with_subtask_for_key() -> None:
    batch = [(f"w{i}", 1) for i in range(1000)]
    parts = hash_partition(batch, lambda r: r[0], key_group_table(3), 3)
    assert sum(len(p) for p in parts) == 1000
    for i, part in enumerate(parts):
        assert all(subtask_for_key(r[0], 3) == i for r in part)


def test_key_groups_cover_all_subtasks_evenly() -> None:
    counts = Counter(key_group_table(4))
    assert set(counts) == {0, 1, 2, 3} and set(counts.values()) == {32}


def test_rebalance_round_robin() -> None:
    assert rebalance_partition(list(range(5)), 2, 1) == [[1, 3], [0, 2, 4]]


@pytest.mark.parametrize("p", [1, 2, 3, 7])
def test_splits_cover_every_line_once(tmp_path: Path, p: int) -> None:
    path = tmp_path / "f.txt"
    lines = [f"line {i} " + "x" * (i % 13) for i in range(500)] + [""]
    path.write_text("\n".join(lines))
    got = [ln for i in range(p) for batch in read_split(path, i, p) for ln in batch]
    assert got == lines[:-1] or got == lines


def test_keyed_sum_streaming_and_batch() -> None:
    data = [("a", 1), ("b", 1), ("a", 1)]
    op = KeyedReduceOperator(lambda r: r[0], SumReducer(1))
    op.open(TaskContext("j", "t", 0, 1))
    assert op.process(data) == [("a", 1), ("b", 1), ("a", 2)]
    batch = KeyedReduceOperator(lambda r: r[0], SumReducer(1))
    batch.open(TaskContext("j", "t", 0, 1, runtime_mode="BATCH"))
    assert batch.process(data) == [] and sorted(batch.finish()) == [("a", 2), ("b", 1)]


def test_print_format_like_flink(capsys: pytest.CaptureFixture[str]) -> None:
    assert format_record(("hello", 3)) == "(hello,3)"
    op = PrintSinkOperator()
    op.open(TaskContext("j", "t", 1, 2))
    op.process([("hello", 3)])
    assert capsys.readouterr().out == "2> (hello,3)\n"


def test_config_durations_and_dynamic() -> None:
    assert parse_duration_ms("30 s") == 30_000 and parse_duration_ms("500") == 500
    assert parse_duration_ms("5 min") == 300_000
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration_ms("soon")
    assert parse_dynamic(["a=b", "c = d"]) == {"a": "b", "c": "d"}
    with pytest.raises(ValueError, match="key=value"):
        parse_dynamic(["novalue"])
    assert Configuration({"rest.port": "0"}).get_int("rest.port") == 0
    assert Configuration().get("taskmanager.numberOfTaskSlots") == "1"


def test_local_mini_cluster_wordcount(capsys: pytest.CaptureFixture[str]) -> None:
    from flink_on_yarn.datastream import StreamExecutionEnvironment

    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    env.from_collection(["hello world", "hello java", "hello flink"]) \
        .flat_map(lambda s: [(w, 1) for w in s.split()]).key_by(lambda t: t[0]).sum(1).print()
    env.execute("local")
    out = capsys.readouterr().out.splitlines()
    # Untyped records (no output_type) print as PyFlink prints them: Python's str of the tuple.
    assert sum(1 for ln in out if ln.endswith("> ('hello', 3)")) == 1
    assert len(out) == 6


def test_text_of_records_matches_flinks_to_string_on_the_fast_path_and_off_it() -> None:
    from collections import namedtuple

    pair = namedtuple("pair", "word count")
    assert format_record(("to", 3)) == "(to,3)"
    assert format_record((1.5, True)) == "(1.5,true)"
    assert format_record(pair("x", 2)) == "(x,2)"
    assert format_record(("a", ("b", [1, 2]))) == "(a,(b,[1, 2]))"

