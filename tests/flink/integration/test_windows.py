"""Event time, timers and windows end to end: our copies of PyFlink's `event_time_timer` and `windowing/`
examples print what PyFlink prints (expected lines from Flink's window and watermark semantics), a
processing-time SocketWindowWordCount counts per 5 s window, and on a real cluster at parallelism 2 the
window tasks take the minimum watermark of their producers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.flink.conftest import ROOT, FlinkCluster, wait_for
from tests.flink.integration.test_pyflink_examples import run_example

pytestmark = pytest.mark.integration

ALICE, BOB = "163.29999923706055", "102.49999952316284"  # the float32 sums, as in state_access


def test_event_time_timer_fires_in_timestamp_order_at_the_final_watermark() -> None:
    assert run_example("event_time_timer.py") == [
        f"('Alice', 1001, {ALICE})", f"('Bob', 2001, {BOB})", f"('Alice', 3001, {ALICE})",
        f"('Bob', 3501, {BOB})", f"('Bob', 4001, {BOB})", f"('Alice', 5001, {ALICE})",
        f"('Bob', 7001, {BOB})", f"('Alice', 10001, {ALICE})"]


@pytest.mark.parametrize(("which", "expected"), [
    ("tumbling", ["(hi,0,5,4)", "(hi,5,10,3)", "(hi,15,20,1)"]),
    ("sliding", ["(hi,-2,3,2)", "(hi,0,5,4)", "(hi,2,7,4)", "(hi,4,9,3)", "(hi,6,11,2)", "(hi,8,13,2)",
                 "(hi,12,17,1)", "(hi,14,19,1)"]),
    ("session", ["(hi,1,14,6)", "(hi,15,20,1)"]),
    ("dynamic_session", ["(hi,1,6,4)", "(hi,8,13,2)", "(hi,15,22,1)"]),
    ("count", ["(hi,2)", "(hello,2)", "(hello,2)"]),
])
def test_windowing_examples(which: str, expected: list[str]) -> None:
    res = subprocess.run([sys.executable, str(ROOT / "examples/pyflink/windowing.py"), which], capture_output=True,
                         text=True, timeout=120, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == expected


def test_socket_window_word_count_counts_per_processing_time_window() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    second_batch = threading.Event()

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            conn.sendall(b"hello world\nhello flink\nhello\n")
            second_batch.wait(30)
            conn.sendall(b"flink flink\n")
            time.sleep(6)  # past the end of the second window, so it fires before the input ends

    threading.Thread(target=serve, daemon=True).start()
    proc = subprocess.Popen([sys.executable, str(ROOT / "examples/pyflink/socket_window_word_count.py"),
                             "--hostname", "127.0.0.1", "--port", str(port)], stdout=subprocess.PIPE, text=True,
                            cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    try:
        assert proc.stdout is not None
        first = [proc.stdout.readline().strip() for _ in range(3)]
        assert Counter(first) == Counter(["(hello,3)", "(world,1)", "(flink,1)"])
        second_batch.set()
        assert proc.stdout.readline().strip() == "(flink,2)"  # a new window: counts start again
        assert proc.wait(30) == 0
    finally:
        proc.kill()
        proc.wait()
        server.close()


def test_watermark_frames_take_the_minimum_over_two_producers() -> None:
    from flink_on_yarn.runtime.network import InputGate, RecordWriter
    from flink_on_yarn.runtime.watermarks import Watermark

    secret = b"s" * 64
    gate = InputGate("127.0.0.1", 2, secret)
    got: list[object] = []
    reader = threading.Thread(target=lambda: got.extend(gate.events()))
    reader.start()
    a = RecordWriter("FORWARD", [("127.0.0.1", gate.port)], None, "a", secret)
    b = RecordWriter("FORWARD", [("127.0.0.1", gate.port)], None, "b", secret)
    steps = [(a, 10), (b, 5), (b, 20), (a, 30)]
    for writer, ts in steps:
        writer.emit([ts])
        writer.emit_watermark(ts)
        time.sleep(0.05)  # one frame after the other, so the order the gate sees is the order sent
    a.close()
    b.close()
    reader.join(10)
    assert got == [[10], [5], Watermark(5), [20], Watermark(10), [30], Watermark(20), Watermark(2 ** 63 - 1)]


def test_side_outputs_reach_their_own_consumers(capsys: pytest.CaptureFixture[str]) -> None:
    from flink_on_yarn.common import Types
    from flink_on_yarn.datastream import OutputTag, ProcessFunction, StreamExecutionEnvironment

    odd = OutputTag("odd", Types.INT())

    class Split(ProcessFunction):
        def process_element(self, value: int, ctx: ProcessFunction.Context) -> object:
            yield (odd, value) if value % 2 else value

    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1)
    main = env.from_collection(list(range(1, 8)), type_info=Types.INT()).process(Split(), Types.INT())
    main.map(lambda x: ("even", x)).print()
    main.get_side_output(odd).map(lambda x: ("odd", x)).print()
    unread = OutputTag("unread")
    env.from_collection([1]).process(lambda v, ctx: [(unread, v), v + 100]).print()  # nobody reads "unread"
    env.execute("side outputs")
    out = capsys.readouterr().out.splitlines()
    assert sorted(out) == sorted(["('even', 2)", "('even', 4)", "('even', 6)", "('odd', 1)", "('odd', 3)",
                                  "('odd', 5)", "('odd', 7)", "101"])


PROGRAM = """
from flink_on_yarn.common import Time, Types, WatermarkStrategy
from flink_on_yarn.datastream import StreamExecutionEnvironment, TumblingEventTimeWindows

env = StreamExecutionEnvironment.get_execution_environment()
env.set_parallelism(2)
env.get_config().set_auto_watermark_interval(1)  # a watermark after nearly every batch: windows fire mid-stream
events = [(f"k{i % 5}", t) for t in range(0, 20000, 3) for i in range(3)]
env.from_collection(events, type_info=Types.TUPLE([Types.STRING(), Types.INT()])) \\
    .assign_timestamps_and_watermarks(WatermarkStrategy.for_monotonous_timestamps()
                                      .with_timestamp_assigner(lambda v, ts: v[1])) \\
    .map(lambda v: (v[0], 1), output_type=Types.TUPLE([Types.STRING(), Types.INT()])) \\
    .key_by(lambda v: v[0]) \\
    .window(TumblingEventTimeWindows.of(Time.milliseconds(100))) \\
    .reduce(lambda a, b: (a[0], a[1] + b[1])) \\
    .print()
env.execute("windows at p=2")
"""


def test_windows_across_channels_on_a_cluster(flink: Callable[..., FlinkCluster], tmp_path: Path) -> None:
    cluster = flink(tms=1, slots=2)
    prog = tmp_path / "windows_p2.py"
    prog.write_text(PROGRAM)
    res = cluster.miniflink("run", "-m", cluster.rest, "-py", str(prog))
    assert res.returncode == 0, res.stderr
    events = [(f"k{i % 5}", t) for t in range(0, 20000, 3) for i in range(3)]
    expected = Counter((k, t // 100 * 100) for k, t in events)
    tm = cluster.get("/taskmanagers")["taskmanagers"][0]["id"]

    def lines() -> list[str]:
        return [ln for ln in cluster.text(f"/taskmanagers/{tm}/stdout").splitlines() if "> (" in ln]

    wait_for(lambda: len(lines()) >= len(expected), 30, "every window's line in the TaskManager's stdout")
    got = Counter(ln.split("> ", 1)[1] for ln in lines())
    # Each (key, 100 ms window) fires exactly once, with all its records: no window fires early on one
    # channel's watermark while the other channel still has records for it.
    per_key: Counter[str] = Counter()
    for (k, _), n in expected.items():
        per_key[f"({k},{n})"] += 1
    assert got == per_key and len(lines()) == len(expected)
