"""`with_idleness` across tasks: of two socket sources feeding one event-time window, one stays silent; marked
idle (WatermarkStatus.IDLE) it no longer holds back the window task's min-of-inputs watermark, so the talking
source's windows fire while the job runs. Without idleness the silent input keeps event time at Long.MIN."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.flink.conftest import FlinkCluster, wait_for
from tests.line_server import LineServer

pytestmark = pytest.mark.integration

PROGRAM = '''
import sys
from flink_on_yarn.common import Duration, Time, Types, WatermarkStrategy
from flink_on_yarn.common.watermark_strategy import TimestampAssigner
from flink_on_yarn.datastream import StreamExecutionEnvironment, TumblingEventTimeWindows

class Ts(TimestampAssigner):
    def extract_timestamp(self, value, record_timestamp):
        return value[1]

def parse(line):
    key, ts = line.split(",")
    return key, int(ts)

env = StreamExecutionEnvironment.get_execution_environment()
env.get_config().set_auto_watermark_interval(50)
strategy = WatermarkStrategy.for_monotonous_timestamps().with_timestamp_assigner(Ts())
if sys.argv[3] == "idle":
    strategy = strategy.with_idleness(Duration.of_millis(300))
out = Types.TUPLE([Types.STRING(), Types.LONG()])
talking = env.socket_text_stream("127.0.0.1", int(sys.argv[1])).map(parse, output_type=out) \\
    .assign_timestamps_and_watermarks(strategy)
silent = env.socket_text_stream("127.0.0.1", int(sys.argv[2])).map(parse, output_type=out) \\
    .assign_timestamps_and_watermarks(strategy)
(talking.union(silent).key_by(lambda r: r[0]).window(TumblingEventTimeWindows.of(Time.seconds(5)))
    .reduce(lambda a, b: (a[0], a[1] + b[1]), output_type=out).set_parallelism(1).print())
env.execute("idle input")
'''


def stdout(cluster: FlinkCluster) -> str:
    return "".join(cluster.text(f"/taskmanagers/{tm['id']}/stdout")
                   for tm in cluster.get("/taskmanagers")["taskmanagers"])


@pytest.mark.timeout(90)
def test_an_idle_source_does_not_hold_back_the_window(flink: Callable[..., FlinkCluster], tmp_path: Path) -> None:
    cluster = flink(tms=1, slots=4)
    program = tmp_path / "idle.py"
    program.write_text(PROGRAM)
    runs = []
    for mode in ("idle", "strict"):
        talking = LineServer([f"a,{ts}" for ts in (1000, 2000, 6000, 12000)])
        silent = LineServer([])
        runs.append((mode, talking, silent,
                     cluster.run_detached(program, str(talking.port), str(silent.port), mode, parallelism=1)))
    try:
        # The windows [0, 5 s) and [5 s, 10 s) close at the talking source's watermark 11999 (the silent one idle).
        wait_for(lambda: "(a,3000)" in stdout(cluster) and "(a,6000)" in stdout(cluster), 30,
                 "the idle-aware job's windows to fire")
        lines = stdout(cluster).splitlines()
        assert lines.count("(a,3000)") == 1 and lines.count("(a,6000)") == 1
        assert "(a,12000)" not in lines  # its window [10 s, 15 s) is still open: event time is at 11999
        for _, _, _, job_id in runs:
            assert cluster.get(f"/jobs/{job_id}")["state"] == "RUNNING"
    finally:
        for _, talking, silent, _ in runs:
            talking.close()
            silent.close()
    for _, _, _, job_id in runs:
        assert cluster.wait_state(job_id, ("FINISHED", "FAILED"), timeout=30)["state"] == "FINISHED"
    # The strict job fired nothing while running (its silent input held event time at Long.MIN); at the end of
    # input both jobs fire every window: each result twice in all, once per job, and (a,12000) once per job.
    lines = stdout(cluster).splitlines()
    assert lines.count("(a,3000)") == 2 and lines.count("(a,6000)") == 2 and lines.count("(a,12000)") == 2
