"""Bad input: one-line errors at submit naming the cause, 400 for a malformed job graph, running jobs untouched."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.flink.conftest import FlinkCluster

pytestmark = pytest.mark.integration

RAISES = """
from flink_on_yarn.datastream import StreamExecutionEnvironment
env = StreamExecutionEnvironment.get_execution_environment()
raise ValueError("bad argument --frobnicate")
"""
NO_EXECUTE = """
from flink_on_yarn.datastream import StreamExecutionEnvironment
env = StreamExecutionEnvironment.get_execution_environment()
env.from_collection([1, 2, 3]).print()
"""
UNPICKLABLE = """
import threading
from flink_on_yarn.datastream import StreamExecutionEnvironment
lock = threading.Lock()
def f(x):
    with lock:
        return x
env = StreamExecutionEnvironment.get_execution_environment()
env.from_collection([1, 2, 3]).map(f).print()
env.execute()
"""
TOO_BIG = """
from flink_on_yarn.datastream import StreamExecutionEnvironment
env = StreamExecutionEnvironment.get_execution_environment()
env.from_collection([1, 2, 3]).map(lambda x: x).set_parallelism(5).print()
env.execute("too big")
"""


@pytest.mark.parametrize(("source", "needle"), [
    (RAISES, "raised ValueError: bad argument --frobnicate (at prog.py:4)"),
    (NO_EXECUTE, "did not call execute()"),
    (UNPICKLABLE, "cannot ship function of operator 'Map'"),
])
def test_program_errors_are_one_line(flink: Callable[..., FlinkCluster], tmp_path: Path, source: str,
                                     needle: str) -> None:
    cluster = flink(tms=1, slots=1)
    prog = tmp_path / "prog.py"
    prog.write_text(source)
    res = cluster.miniflink("run", "-m", cluster.rest, "-py", str(prog))
    assert res.returncode == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], res.stderr
    assert cluster.get("/jobs")["jobs"] == []


def test_malformed_job_graph_is_400(flink: Callable[..., FlinkCluster]) -> None:
    cluster = flink(tms=1, slots=1)
    for body in (b"not json", b'{"vertices": []}', b'{"vertices": [{"id": "x", "name": "v", "parallelism": 0}]}',
                 b'{"vertices": [{"id": "' + b"a" * 32 + b'", "name": "v", "parallelism": 1}]}'):
        r = httpx.post(cluster.rest + "/jobs", content=body,
                       headers={"content-type": "application/json", **cluster.auth})
        assert r.status_code == 400, (body, r.text)
        assert r.json()["errors"]
    assert cluster.get("/overview")["taskmanagers"] == 1


def test_not_enough_slots_fails_after_timeout(flink: Callable[..., FlinkCluster], tmp_path: Path) -> None:
    cluster = flink(tms=1, slots=2, **{"slot.request.timeout": "1500"})
    prog = tmp_path / "big.py"
    prog.write_text(TOO_BIG)
    res = cluster.miniflink("run", "-m", cluster.rest, "-py", str(prog))
    assert res.returncode == 1
    assert "needs 5 slots, the cluster has 2 slots" in res.stderr, res.stderr
    jobs = cluster.get("/jobs/overview")["jobs"]
    assert [j["state"] for j in jobs] == ["FAILED"]
    exc = cluster.get(f"/jobs/{jobs[0]['jid']}/exceptions")["root-exception"]
    assert "NoResourceAvailableException" in exc and "slot.request.timeout" in exc
    assert cluster.get("/overview")["slots-available"] == 2
