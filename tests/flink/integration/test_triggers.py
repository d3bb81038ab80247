"""Triggers and evictors end to end on the local runtime: our triggers example prints what Flink's trigger
and evictor semantics make of six events ("hi" at 1, 2, 3, 6, 7 and 12 ms; windows of 10 ms)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.flink.conftest import ROOT

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(("which", "expected"), [
    # CountTrigger replaces the event-time firing: every 2nd record, contents kept; [10, 20) never reaches 2.
    ("count", ["('hi', [1, 2])", "('hi', [1, 2, 3, 6])"]),
    # Every 5 ms of event time and at the window's end: 5 and 9 in [0, 10), 15 and 19 in [10, 20).
    ("continuous", ["('hi', [1, 2, 3, 6, 7])", "('hi', [1, 2, 3, 6, 7])", "('hi', [12])", "('hi', [12])"]),
    # A purging count trigger of 4 on the global window: 7 and 12 wait for two more that never come.
    ("global", ["('hi', [1, 2, 3, 6])"]),
    # count_window(3) with a CountEvictor of 2: each firing of 3 records keeps the last 2.
    ("evictor", ["('hi', [2, 3])", "('hi', [7, 12])"]),
    # A custom Trigger: FIRE_AND_PURGE at each key's "flush"; "z" is left in a window that never fires.
    ("custom", ["('a', ['x', 'flush'])", "('b', ['y', 'flush'])"]),
])
def test_trigger_examples(which: str, expected: list[str]) -> None:
    res = subprocess.run([sys.executable, str(ROOT / "examples/pyflink/triggers.py"), which], capture_output=True,
                         text=True, timeout=120, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert res.returncode == 0, res.stderr
    assert sorted(res.stdout.splitlines()) == sorted(expected)
