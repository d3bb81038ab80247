"""Broadcast state end to end: on the local runtime a broadcast rule reaches every subtask of the operator
(parallelism 3) and a keyed broadcast process function's timers read the rule beside per-key state; on a
real cluster (two TaskManagers) the same across processes, written through the FileSink."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.flink.conftest import FlinkCluster
from tests.flink.integration.test_connect import run_connected

pytestmark = pytest.mark.integration


def test_a_broadcast_rule_reaches_every_subtask_once() -> None:
    # The values (1, 2) are below the rule's min (or come before it): only the three subtasks' rule lines.
    assert sorted(run_connected("broadcast")) == [
        "1> rule min=100 at subtask 0", "2> rule min=100 at subtask 1", "3> rule min=100 at subtask 2"]


def test_keyed_broadcast_timers_read_the_broadcast_limit() -> None:
    # The limits input has no timestamps: its end (Long.MAX) lets event time pass 100, after its record came.
    lines = [line.split("> ", 1)[1] for line in run_connected("keyed_broadcast")]  # parallelism 2: "N> " prefixes
    assert Counter(lines) == Counter(["alice 3 clicks, over the limit 2", "bob 1 clicks, within the limit 2",
                                      "carol 1 clicks, within the limit 2"])


CLUSTER_PROGRAM = '''
import sys
from flink_on_yarn.common import Encoder, Types, WatermarkStrategy
from flink_on_yarn.datastream import KeyedBroadcastProcessFunction, StreamExecutionEnvironment
from flink_on_yarn.datastream.connectors.file_system import FileSink
from flink_on_yarn.datastream.state import MapStateDescriptor, ValueStateDescriptor

RULES = MapStateDescriptor("rules", Types.STRING(), Types.INT())

class Second:
    def extract_timestamp(self, value, record_timestamp):
        return value[1]

class Limit(KeyedBroadcastProcessFunction):
    def open(self, runtime_context):
        self.subtask = runtime_context.get_index_of_this_subtask()
        self.clicks = runtime_context.get_state(ValueStateDescriptor("clicks", Types.INT()))

    def process_element(self, value, ctx):
        self.clicks.update((self.clicks.value() or 0) + 1)
        ctx.timer_service().register_event_time_timer(1000)
        return []

    def process_broadcast_element(self, value, ctx):
        ctx.get_broadcast_state(RULES).put("limit", value)
        yield f"limit {value} at subtask {self.subtask}"

    def on_timer(self, timestamp, ctx):
        limit = ctx.get_broadcast_state(RULES).get("limit")
        yield f"{ctx.get_current_key()} {self.clicks.value()} {'over' if self.clicks.value() > limit else 'within'}"

env = StreamExecutionEnvironment.get_execution_environment()
clicks = env.from_collection([(f"u{i}", t) for i in range(20) for t in range(i % 4 + 1)]) \\
    .assign_timestamps_and_watermarks(WatermarkStrategy.for_monotonous_timestamps().with_timestamp_assigner(Second()))
limits = env.from_collection([2]).broadcast(RULES)
clicks.key_by(lambda c: c[0]).connect(limits).process(Limit(), Types.STRING()) \\
    .sink_to(FileSink.for_row_format(sys.argv[1], Encoder.simple_string_encoder()).build())
env.execute("keyed broadcast on a cluster")
'''


def test_keyed_broadcast_across_taskmanagers(flink: Callable[..., FlinkCluster], tmp_path: Path) -> None:
    """Parallelism 2 on two TaskManagers: the rule reaches both subtasks' processes, every key's timer reads it,
    and the FileSink commits each line once at end of input."""
    cluster = flink(tms=2, slots=1)
    program = tmp_path / "keyed_broadcast.py"
    program.write_text(CLUSTER_PROGRAM)
    out = tmp_path / "out"
    res = cluster.miniflink("run", "-m", cluster.rest, "-p", "2", "-py", str(program), str(out))
    assert res.returncode == 0, res.stderr
    files = [p for p in out.rglob("*") if p.is_file()]
    assert files and all(not p.name.startswith(".") for p in files)  # nothing left in progress
    assert all(p.parent.parent == out and p.name.startswith("part-") for p in files)  # <bucket>/part-<uuid>-<i>-<n>
    lines = [line for p in files for line in p.read_text().splitlines()]
    clicks = {f"u{i}": i % 4 + 1 for i in range(20)}
    assert Counter(lines) == Counter(["limit 2 at subtask 0", "limit 2 at subtask 1"] + [
        f"{user} {n} {'over' if n > 2 else 'within'}" for user, n in clicks.items()])
