"""A killed TaskManager: the job restarts from scratch (fixed-delay) on the survivor and still counts exactly."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.flink.conftest import FlinkCluster, wait_for
from tests.flink.integration.test_wordcount import expected, read_counts

pytestmark = pytest.mark.integration

SLOW_WORDCOUNT = '''
import sys, time
from flink_on_yarn.common import Encoder
from flink_on_yarn.datastream import StreamExecutionEnvironment
from flink_on_yarn.datastream.connectors.file_system import FileSink

def slow(line):
    time.sleep(0.002)  # about 2 s per 1,000 lines per subtask: time to kill a TaskManager mid-job
    return line

env = StreamExecutionEnvironment.get_execution_environment()
(env.read_text_file(sys.argv[1]).map(slow).flat_map(lambda l: [(w, 1) for w in l.lower().split()])
    .key_by(lambda p: p[0]).sum(1)
    .sink_to(FileSink.for_row_format(sys.argv[2], Encoder.simple_string_encoder()).build()))
env.execute("slow word count")
'''


def test_killed_taskmanager_restarts_job(flink: Callable[..., FlinkCluster], tmp_path: Path) -> None:
    cluster = flink(tms=2, slots=2, **{"restart-strategy": "fixed-delay",
                                       "restart-strategy.fixed-delay.attempts": "3",
                                       "restart-strategy.fixed-delay.delay": "500 ms"})
    words = tmp_path / "words.txt"
    words.write_text("\n".join(f"hello flink w{i % 37} w{i % 11}" for i in range(3000)) + "\n")
    program = tmp_path / "slow_wc.py"
    program.write_text(SLOW_WORDCOUNT)
    out = tmp_path / "out"
    job_id = cluster.run_detached(program, str(words), str(out))

    def busy_tm() -> str | None:
        for tm in cluster.get("/taskmanagers")["taskmanagers"]:
            if tm["freeSlots"] < tm["slotsNumber"]:
                return str(tm["id"])
        return None

    wait_for(lambda: cluster.get(f"/jobs/{job_id}")["status-counts"]["RUNNING"] == 4, 30, "all subtasks running")
    victim = busy_tm()
    assert victim is not None
    os.killpg(cluster.tms[victim].pid, signal.SIGKILL)
    info = cluster.wait_state(job_id, ("FINISHED", "FAILED"), timeout=60)
    assert info["state"] == "FINISHED", cluster.get(f"/jobs/{job_id}/exceptions")
    assert info["restarts"] >= 1 and info["timestamps"]["RESTARTING"] > 0
    # The fixed delay passes between the failure and the next attempt (CREATED is stamped when it starts).
    assert info["timestamps"]["CREATED"] - info["timestamps"]["RESTARTING"] >= 500
    assert victim in cluster.get(f"/jobs/{job_id}/exceptions")["root-exception"]
    assert read_counts(out) == expected(words)
    events = [e["event"] for e in cluster.get("/resourcemanager/allocation-history")["events"]]
    assert "taskmanager-lost" in events and events.count("slots-allocated") >= 2
    wait_for(lambda: cluster.get("/overview")["taskmanagers"] == 1, 10, "the lost TaskManager to be gone")
