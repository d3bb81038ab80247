"""`connect` end to end on the local runtime: our connected-streams example's CoMap and its keyed, event-time
KeyedCoProcessFunction print what Flink's semantics make of them (the order across keys and inputs is not
Flink's to promise, so lines compare as multisets)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter

import pytest

from tests.flink.conftest import ROOT

pytestmark = pytest.mark.integration


def run_connected(program: str) -> list[str]:
    res = subprocess.run([sys.executable, str(ROOT / "examples/pyflink/connected_streams.py"), program],
                         capture_output=True, text=True, timeout=120, cwd=ROOT,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert res.returncode == 0, res.stderr
    return res.stdout.splitlines()


def test_co_map_maps_each_input_with_its_function() -> None:
    assert Counter(run_connected("co_map")) == Counter(
        ["number 1", "number 2", "number 3", "word flink", "word yarn"])


def test_keyed_co_process_joins_by_key_and_times_out_in_event_time() -> None:
    # o1 (1) and o2 (2) are paid within 10 ms, o4 (30) at 35; o3 (5) never: its timer at 15 fires once the
    # watermark of both inputs passes 15, at the latest with the final watermark.
    assert Counter(run_connected("keyed_co_process")) == Counter(
        ["o2 paid at 3", "o1 paid at 8", "o4 paid at 35", "o3 timed out at 15"])
