"""Rescaling from a savepoint, end to end: a keyed running count stopped with a savepoint at one parallelism and
run again from it (`miniflink run -s PATH -p N`) at another continues every word's count (`hello 3`, then
`hello 4`, not `hello 1`): each new subtask took its key groups from all the old ones. 2 -> 3 on one
cluster; 4 -> 2 on a second cluster (its own JobManager and TaskManager processes) that shares the user's key,
so the keys hash the same in a new cluster's task processes too. A job whose FileSink (operator state) would
change its parallelism is refused, naming the sink and the -p to use."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from flink_on_yarn.runtime.taskmanager import TASK_HASH_SEED
from tests.flink.conftest import APPEND_SINK, KEYED_COUNT_FUNCTION, ROOT, FlinkCluster, start_jobmanager, wait_for
from tests.flink.integration.test_savepoints import FeedServer, lines

pytestmark = pytest.mark.integration

PROGRAM = '''
import sys
from flink_on_yarn.common import Encoder, Types
from flink_on_yarn.datastream import KeyedProcessFunction, StreamExecutionEnvironment
from flink_on_yarn.datastream.connectors.file_system import FileSink
from flink_on_yarn.datastream.functions import SinkFunction
from flink_on_yarn.datastream.state import ValueStateDescriptor

''' + KEYED_COUNT_FUNCTION + APPEND_SINK + '''
host, port, out, sink = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
env = StreamExecutionEnvironment.get_execution_environment()
counted = env.socket_text_stream(host, port).uid("lines").key_by(lambda w: w).process(Count()).uid("count")
if sink == "file":
    counted.map(lambda kv: f"{kv[0]} {kv[1]}", Types.STRING()).sink_to(
        FileSink.for_row_format(out, Encoder.simple_string_encoder()).build()).uid("files")
else:
    counted.add_sink(AppendSink(out))
env.execute("rescaled count")
'''

# Enough distinct words that every subtask at 2, 3 and 4 owns some (checked below, not assumed).
WORDS = ["hello", "flink", "world", "yarn"] + [f"w{i}" for i in range(24)]


def first_round() -> list[str]:
    """Word i of WORDS (i % 3) + 1 times, "hello" 3 times."""
    sent = [w for i, w in enumerate(WORDS) for _ in range(i % 3 + 1)]
    return sent + ["hello"] * (3 - sent.count("hello"))


def counts(path: Path) -> Counter[str]:
    """Each word's highest count in the sink's lines."""
    best: Counter[str] = Counter()
    for line in lines(path):
        word, n = line.split()
        best[word] = max(best[word], int(n))
    return best


def run_from(cluster: FlinkCluster, savepoint: str, parallelism: int, program: Path, feed: FeedServer,
             out: Path, sink: str = "append") -> str:
    run = cluster.miniflink("run", "-m", cluster.rest, "-p", str(parallelism), "-d", "-s", savepoint, "-py",
                            str(program), "127.0.0.1", str(feed.port), str(out), sink)
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout.split("JobID ")[1].split()[0]


def count_then_stop(cluster: FlinkCluster, program: Path, feed: FeedServer, out: Path, parallelism: int,
                    spdir: Path) -> str:
    """Runs the count at `parallelism`, feeds the first round, waits for its exact counts, stops it with a
    savepoint; returns the savepoint's path."""
    jid = cluster.run_detached(program, "127.0.0.1", str(feed.port), str(out), "append", parallelism=parallelism)
    cluster.wait_state(jid, ("RUNNING",))
    sent = first_round()
    feed.send(*sent)
    wait_for(lambda: counts(out) == Counter(sent), 30, "the first round's counts")
    stop = cluster.miniflink("stop", "-m", cluster.rest, "--savepointPath", str(spdir), jid)
    assert stop.returncode == 0, stop.stdout + stop.stderr
    cluster.wait_state(jid, ("FINISHED",), timeout=20)
    return stop.stdout.split("Savepoint completed. Path: ")[1].split()[0]


def assert_continued(cluster: FlinkCluster, jid: str, feed: FeedServer, conns: int, out: Path) -> None:
    """One more of every word: each word's lines are exactly 1..N+1, once each, whichever subtask has it."""
    state = cluster.wait_state(jid, ("RUNNING", "FAILED"))["state"]
    assert state == "RUNNING", cluster.get(f"/jobs/{jid}/exceptions")["root-exception"]
    feed.next_connection(conns)
    feed.send(*WORDS)
    expected = Counter(first_round()) + Counter(WORDS)
    wait_for(lambda: counts(out) == expected, 30, "every word's count continued")
    seen = Counter(lines(out))
    for word, n in expected.items():
        assert [seen[f"{word} {i}"] for i in range(1, n + 1)] == [1] * n, (word, n, sorted(lines(out)))
    assert "hello 4" in seen and seen["hello 1"] == 1


def spread(parallelism: int) -> set[int]:
    """The subtasks WORDS' keys go to, hashed in a process with the seed task processes run with."""
    code = ("import json, sys; from flink_on_yarn.runtime.state_rescale import owner; "
            f"print(json.dumps(sorted({{owner(w, {parallelism}) for w in sys.argv[1:]}})))")
    res = subprocess.run([sys.executable, "-c", code, *WORDS], capture_output=True, text=True, timeout=30,
                         cwd=ROOT, env=dict(os.environ, PYTHONHASHSEED=TASK_HASH_SEED), check=True)
    return set(json.loads(res.stdout))


@pytest.mark.timeout(150)
def test_savepoint_at_2_runs_on_at_3(flink: Callable[..., FlinkCluster], tmp_path: Path) -> None:
    assert spread(2) == {0, 1} and spread(3) == {0, 1, 2}
    cluster = flink(tms=1, slots=3)
    program = tmp_path / "count.py"
    program.write_text(PROGRAM)
    feed, out = FeedServer(), tmp_path / "out.txt"
    try:
        savepoint = count_then_stop(cluster, program, feed, out, 2, tmp_path / "sp")
        conns = len(feed.conns)
        jid = run_from(cluster, savepoint, 3, program, feed, out)
        assert_continued(cluster, jid, feed, conns, out)
        assert max(v["parallelism"] for v in cluster.get(f"/jobs/{jid}")["vertices"]) == 3
    finally:
        feed.close()


@pytest.mark.timeout(180)
def test_savepoint_at_4_runs_on_at_2_in_another_cluster(flink: Callable[..., FlinkCluster], tmp_path: Path) -> None:
    assert spread(4) == {0, 1, 2, 3}
    first = flink(tms=1, slots=4)
    program = tmp_path / "count.py"
    program.write_text(PROGRAM)
    feed, out = FeedServer(), tmp_path / "out.txt"
    try:
        savepoint = count_then_stop(first, program, feed, out, 4, tmp_path / "sp")
        # Cluster B: its own JobManager and TaskManager; the same key (a standalone cluster's savepoint key is
        # its secret), as a user's clusters on YARN share theirs.
        other = tmp_path / "b"
        other.mkdir()
        shutil.copy(first.secret_file, other / "cluster.secret")
        rest, rpc = start_jobmanager(first.processes, other, name="jobmanager-b")
        second = FlinkCluster(first.processes, rest, rpc, {}, {}, other / "cluster.secret")
        second.add_taskmanager("tm-b-0", 2)
        second.wait_taskmanagers(1)
        conns = len(feed.conns)
        jid = run_from(second, savepoint, 2, program, feed, out)
        assert_continued(second, jid, feed, conns, out)
    finally:
        feed.close()


@pytest.mark.timeout(120)
def test_operator_state_at_another_parallelism_is_refused(flink: Callable[..., FlinkCluster],
                                                          tmp_path: Path) -> None:
    cluster = flink(tms=1, slots=3, **{"execution.checkpointing.interval": "500ms"})
    program = tmp_path / "count.py"
    program.write_text(PROGRAM)
    feed, out = FeedServer(), tmp_path / "files"
    try:
        jid = cluster.run_detached(program, "127.0.0.1", str(feed.port), str(out), "file", parallelism=2)
        cluster.wait_state(jid, ("RUNNING",))
        feed.send("hello")
        stop = cluster.miniflink("stop", "-m", cluster.rest, "--savepointPath", str(tmp_path / "sp"), jid)
        assert stop.returncode == 0, stop.stdout + stop.stderr
        savepoint = stop.stdout.split("Savepoint completed. Path: ")[1].split()[0]
        cluster.wait_state(jid, ("FINISHED",), timeout=20)
        refused = run_from(cluster, savepoint, 3, program, feed, out, "file")
        cluster.wait_state(refused, ("FAILED",), timeout=20)
        cause = cluster.get(f"/jobs/{refused}/exceptions")["root-exception"]
        assert f"Failed to rollback to checkpoint/savepoint {savepoint.removeprefix('file:')}. The operator " \
               in cause, cause
        assert "(uid 'files', " in cause and "ran with parallelism 2 and now has 3" in cause, cause
        assert "restore with the savepoint's parallelism (-p 2)" in cause, cause
    finally:
        feed.close()
