"""Our copies of PyFlink's DataStream examples print exactly what PyFlink prints: run directly (the local mini
cluster) and, for keyed state, on a real JobManager and TaskManager. Expected lines follow Flink's semantics:
untyped results as Python's str, Types.TUPLE as Java's Tuple.toString, FLOAT with a Java float's 32 bits."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable

import pytest

from tests.flink.conftest import ROOT, FlinkCluster, wait_for

pytestmark = pytest.mark.integration

PEOPLE_TEL_PLUS_ONE = [
    """(1, '{"name": "Flink", "tel": 124, "addr": {"country": "Germany", "city": "Berlin"}}')""",
    """(2, '{"name": "hello", "tel": 136, "addr": {"country": "China", "city": "Shanghai"}}')""",
    """(3, '{"name": "world", "tel": 125, "addr": {"country": "USA", "city": "NewYork"}}')""",
    """(4, '{"name": "PyFlink", "tel": 33, "addr": {"country": "China", "city": "Hangzhou"}}')""",
]

STATE_ACCESS = [
    "('Alice', 110.0999984741211)",
    "('Bob', 30.200000762939453)",
    "('Alice', 130.0999984741211)",
    "('Bob', 83.29999923706055)",
    "('Alice', 143.19999885559082)",
    "('Bob', 86.39999914169312)",
    "('Bob', 102.49999952316284)",
    "('Alice', 163.29999923706055)",
]


def run_example(name: str) -> list[str]:
    res = subprocess.run([sys.executable, str(ROOT / "examples/pyflink" / name)], capture_output=True, text=True,
                         timeout=120, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert res.returncode == 0, res.stderr
    return res.stdout.splitlines()


def test_word_count_prints_final_tuple2_counts() -> None:
    out = run_example("word_count.py")
    text = ("flink is a framework and distributed processing engine for stateful computations over unbounded and "
            "bounded data streams flink runs in all common cluster environments and performs computations at in "
            "memory speed and at any scale")
    # BATCH mode: one final count per word, in Java's Tuple2 text; the order across keys is not Flink's to promise.
    assert Counter(out) == Counter(f"({w},{n})" for w, n in Counter(text.split()).items())


def test_basic_operations() -> None:
    out = run_example("basic_operations.py")
    assert out[:4] == PEOPLE_TEL_PLUS_ONE
    assert out[4:5] == PEOPLE_TEL_PLUS_ONE[:1]
    assert out[5:9] == ["('Germany', 123)", "('China', 135)", "('USA', 124)", "('China', 167)"]
    # A union's two inputs interleave as they arrive: the set of lines is fixed, their order is not.
    assert sorted(out[9:], key=int) == ["2", "4", "10", "20", "30", "40"]


def test_process_json_data() -> None:
    assert run_example("process_json_data.py") == [
        "(2, {'name': 'hello', 'tel': 136, 'addr': {'country': 'China', 'city': 'Shanghai'}})",
        "(4, {'name': 'PyFlink', 'tel': 33, 'addr': {'country': 'China', 'city': 'Hangzhou'}})",
    ]


def test_state_access_locally() -> None:
    assert run_example("state_access.py") == STATE_ACCESS


def test_state_access_on_a_session_cluster(flink: Callable[..., FlinkCluster]) -> None:
    cluster = flink(tms=1, slots=2)
    res = cluster.miniflink("run", "-m", cluster.rest, "-py", str(ROOT / "examples/pyflink/state_access.py"))
    assert res.returncode == 0, res.stderr
    tm = cluster.get("/taskmanagers")["taskmanagers"][0]["id"]

    def printed() -> list[str]:
        return [ln for ln in cluster.text(f"/taskmanagers/{tm}/stdout").splitlines() if ln.startswith("(")]

    wait_for(lambda: len(printed()) >= len(STATE_ACCESS), 30, "the state_access lines in the TaskManager's stdout")
    assert printed() == STATE_ACCESS
