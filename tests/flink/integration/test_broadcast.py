"""Broadcast state end to end on the local runtime: a broadcast rule reaches every subtask of the operator
(parallelism 3), and a keyed broadcast process function's timers read the rule beside per-key state."""

from __future__ import annotations

from collections import Counter

import pytest

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
