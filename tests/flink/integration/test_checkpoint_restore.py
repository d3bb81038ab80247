"""Checkpoints end to end on a standalone cluster: a keyed running count over a file, checkpointed every
200 ms; a TaskManager is SIGKILLed once a checkpoint has completed, and the job restarts from it (Flink's
default fixed-delay strategy when checkpointing is on): the counts continue from the checkpoint instead of
starting at 1 again, and each key's final count equals `collections.Counter` of the input exactly."""

from __future__ import annotations

import os
import signal
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.flink.conftest import KEYED_COUNT_FUNCTION, FlinkCluster, keyed_count_set_up, wait_for

pytestmark = pytest.mark.integration

KEYED_COUNT = '''
import os, sys, time
from flink_on_yarn.common import Types
from flink_on_yarn.datastream import KeyedProcessFunction, StreamExecutionEnvironment
from flink_on_yarn.datastream.functions import SinkFunction
from flink_on_yarn.datastream.state import ValueStateDescriptor

''' + KEYED_COUNT_FUNCTION + '''
class AppendSink(SinkFunction):
    """At-least-once, as Flink's print sink: every update one line in a file of this process's own."""
    def __init__(self, out):
        self.out = out

    def open(self, runtime_context):
        os.makedirs(self.out, exist_ok=True)
        self.f = open(os.path.join(self.out, f"part-{os.getpid()}"), "a")

    def invoke(self, value, context):
        self.f.write(f"{value[0]} {value[1]}\\n")
        self.f.flush()

def slow(line):
    time.sleep(0.0015)  # about 0.5 s per 64 KB batch of these lines, 4.5 s per subtask: a kill lands mid-job
    return line.split()[0]

env = StreamExecutionEnvironment.get_execution_environment()
env.enable_checkpointing(200)
(env.read_text_file(sys.argv[1]).map(slow).key_by(lambda k: k).process(Count())
    .add_sink(AppendSink(sys.argv[2])))
env.execute("checkpointed keyed count")
'''


def outputs(out: Path) -> list[tuple[str, int]]:
    pairs = []
    for part in out.glob("part-*"):
        for line in part.read_text().splitlines():
            key, n = line.split()
            pairs.append((key, int(n)))
    return pairs


@pytest.mark.timeout(300)  # above the waits' own ceilings on a loaded machine
def test_killed_taskmanager_restores_from_checkpoint(flink: Callable[..., FlinkCluster], tmp_path: Path) -> None:
    cluster, ckpt, words, program = keyed_count_set_up(flink, tmp_path, KEYED_COUNT, keys=37, lines=6000)
    out = tmp_path / "out"
    job_id = cluster.run_detached(program, str(words), str(out))

    wait_for(lambda: cluster.get(f"/jobs/{job_id}/checkpoints")["counts"]["completed"] >= 1, 30,
             "a completed checkpoint")
    stats: dict[str, Any] = {}

    def latest_on_disk() -> bool:
        # Asked again until the answer and the disk agree: with one checkpoint retained every 200 ms, a newer
        # one may complete and prune the one a first answer named before the file is looked at.
        stats.update(cluster.get(f"/jobs/{job_id}/checkpoints"))
        return (Path(stats["latest"]["completed"]["external_path"]) / "_metadata").is_file()

    wait_for(latest_on_disk, 20, "the latest completed checkpoint's _metadata on disk")
    completed = stats["latest"]["completed"]
    assert completed["num_acknowledged_subtasks"] == completed["num_subtasks"] == 4
    assert Path(completed["external_path"]).parent == ckpt / job_id
    # Flink's asynchronous trigger: 202 {"request-id"}, polled until the checkpoint it took completes.
    rid = httpx.post(f"{cluster.rest}/jobs/{job_id}/checkpoints", json={}, headers=cluster.auth,
                     timeout=10).json()["request-id"]
    polled: dict[str, Any] = {}

    def triggered_done() -> bool:
        polled.update(cluster.get(f"/jobs/{job_id}/checkpoints/{rid}"))
        return bool(polled["status"]["id"] == "COMPLETED")

    wait_for(triggered_done, 20, "the triggered checkpoint")
    details = cluster.get(f"/jobs/{job_id}/checkpoints/details/{polled['operation']['checkpointId']}")
    assert details["status"] == "COMPLETED" and len(details["tasks"]) == 2
    assert all(t["num_acknowledged_subtasks"] == 2 for t in details["tasks"].values())
    assert cluster.get(f"/jobs/{job_id}/checkpoints/config")["interval"] == 200
    wait_for(lambda: len(outputs(out)) >= 600, 60, "600 updates written")
    victim = next(tm["id"] for tm in cluster.get("/taskmanagers")["taskmanagers"]
                  if tm["freeSlots"] < tm["slotsNumber"])
    os.killpg(cluster.tms[victim].pid, signal.SIGKILL)
    assert len(outputs(out)) < 6000  # the kill landed mid-job

    info = cluster.wait_state(job_id, ("FINISHED", "FAILED"), timeout=120)  # a ceiling for a loaded machine
    assert info["state"] == "FINISHED", cluster.get(f"/jobs/{job_id}/exceptions")
    assert info["restarts"] >= 1
    stats = cluster.get(f"/jobs/{job_id}/checkpoints")
    assert stats["counts"]["restored"] >= 1
    restored = stats["latest"]["restored"]
    assert restored["id"] >= 1 and restored["external_path"].startswith(str(ckpt / job_id))

    pairs = outputs(out)
    final: dict[str, int] = defaultdict(int)
    for key, n in pairs:
        final[key] = max(final[key], n)
    expected = Counter(line.split()[0] for line in words.read_text().splitlines())
    assert final == expected  # no record lost, none counted twice in the state
    # Every key was counted before the first checkpoint, so after the restore no count starts at 1 again:
    # each (key, 1) was emitted exactly once. A restart from scratch would emit every one of them twice.
    ones = Counter(key for key, n in pairs if n == 1)
    assert set(ones.values()) == {1} and len(ones) == 37
    # Retention (state.checkpoints.num-retained = 1): one completed checkpoint directory is left.
    assert len([p for p in (ckpt / job_id).iterdir() if (p / "_metadata").exists()]) == 1
