"""Savepoints end to end on a standalone cluster: a keyed running count over a socket the test feeds.
`miniflink savepoint` and the REST trigger write Flink's `savepoint-<jobid6>-<random>/_metadata`; `miniflink
stop` ends the job FINISHED with a final savepoint; `miniflink run -s` of a second version of the program (an
operator added, so the chain and the generated ids changed; the count keeps its uid) continues the counts:
the next "hello" is (hello, N+1), not (hello, 1); `cancel -s` takes one and cancels. A version without that
uid is refused with Flink's text."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.flink.conftest import APPEND_SINK, KEYED_COUNT_FUNCTION, FlinkCluster, wait_for
from tests.line_server import LineServer

pytestmark = pytest.mark.integration

PROGRAM = '''
import os, sys
from flink_on_yarn.common import Types
from flink_on_yarn.datastream import KeyedProcessFunction, StreamExecutionEnvironment
from flink_on_yarn.datastream.functions import SinkFunction
from flink_on_yarn.datastream.state import ValueStateDescriptor

''' + KEYED_COUNT_FUNCTION + APPEND_SINK + '''
host, port, out, version = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
env = StreamExecutionEnvironment.get_execution_environment()
words = env.socket_text_stream(host, port).uid("lines")
if version == "v2":
    words = words.filter(lambda w: w != "skip").map(lambda w: w.strip())  # an added operator and chain
counted = words.key_by(lambda w: w).process(Count()).uid("count" if version != "v3" else "another-count")
counted.add_sink(AppendSink(out))
env.execute("savepointed count " + version)
'''


class FeedServer(LineServer):
    """A line server the test writes to: each connection (one per job run) gets what `send` says."""

    def __init__(self) -> None:
        super().__init__([])

    def send(self, *lines: str) -> None:
        wait_for(lambda: bool(self.conns), 20, "the job's socket source to connect")
        self.conns[-1].sendall("".join(f"{line}\n" for line in lines).encode())

    def next_connection(self, before: int, timeout: float = 20) -> None:
        wait_for(lambda: len(self.conns) > before, timeout, "the next job's socket source to connect")


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


@pytest.mark.timeout(120)
def test_savepoint_stop_and_run_from_savepoint_continue_the_counts(
        flink: Callable[..., FlinkCluster], tmp_path: Path) -> None:
    spdir = tmp_path / "savepoints"
    cluster = flink(tms=1, slots=2, **{"execution.checkpointing.savepoint-dir": str(spdir)})
    program = tmp_path / "count.py"
    program.write_text(PROGRAM)
    feed = FeedServer()
    out = tmp_path / "out.txt"
    try:
        jid = cluster.run_detached(program, "127.0.0.1", str(feed.port), str(out), "v1")
        cluster.wait_state(jid, ("RUNNING",))
        feed.send("hello", "hello", "world")
        wait_for(lambda: "hello 2" in lines(out) and "world 1" in lines(out), 20, "the first counts")

        # `flink savepoint JOBID` into the configured directory: Flink's lines and layout, the job runs on.
        sp = cluster.miniflink("savepoint", "-m", cluster.rest, jid)
        assert sp.returncode == 0, sp.stdout + sp.stderr
        path = sp.stdout.split("Savepoint completed. Path: ")[1].split()[0]
        assert sp.stdout.startswith(f"Triggering savepoint for job {jid}.\nWaiting for response...\n"), sp.stdout
        assert "You can resume your program from this savepoint with the run command." in sp.stdout
        first = Path(path.removeprefix("file:"))
        assert first.parent == spdir and first.name.startswith(f"savepoint-{jid[:6]}-") and \
            len(first.name) == len("savepoint-") + 6 + 1 + 12, first
        assert (first / "_metadata").is_file()
        assert cluster.get(f"/jobs/{jid}/status") == {"status": "RUNNING"}

        # The REST shapes: 202 {"request-id"}, then {"status": {"id"}, "operation": {"location"}}.
        r = httpx.post(f"{cluster.rest}/jobs/{jid}/savepoints", json={"target-directory": str(tmp_path / "rest"),
                       "cancel-job": False}, headers=cluster.auth, timeout=10)
        assert r.status_code == 202 and set(r.json()) == {"request-id"}, r.text
        tid = r.json()["request-id"]
        wait_for(lambda: cluster.get(f"/jobs/{jid}/savepoints/{tid}")["status"]["id"] == "COMPLETED", 20,
                 "the REST savepoint")
        done = cluster.get(f"/jobs/{jid}/savepoints/{tid}")
        assert set(done) == {"status", "operation"} and set(done["operation"]) == {"location"}
        assert done["operation"]["location"].startswith(f"file:{tmp_path / 'rest'}/savepoint-{jid[:6]}-")

        # stop-with-savepoint: the counts so far are in it, the job FINISHES.
        feed.send("hello")
        wait_for(lambda: "hello 3" in lines(out), 20, "hello 3")
        stop = cluster.miniflink("stop", "-m", cluster.rest, "--savepointPath", str(tmp_path / "stopped"), jid)
        assert stop.returncode == 0, stop.stdout + stop.stderr
        assert stop.stdout.startswith(f'Suspending job "{jid}" with a CANONICAL savepoint.\n'), stop.stdout
        stopped = stop.stdout.split("Savepoint completed. Path: ")[1].split()[0]
        cluster.wait_state(jid, ("FINISHED",), timeout=20)
        again = cluster.miniflink("savepoint", "-m", cluster.rest, jid)  # a finished job takes none: Flink's block
        assert again.returncode == 1 and f"Triggering a savepoint for the job {jid} failed." in again.stderr
        assert "Not all required tasks are currently running." in again.stderr, again.stderr

        # Version 2 from the stop's savepoint: an operator added, the count's uid kept: counts continue.
        conns = len(feed.conns)
        run = cluster.miniflink("run", "-m", cluster.rest, "-p", "2", "-d", "-s", stopped, "-py", str(program),
                                "127.0.0.1", str(feed.port), str(out), "v2")
        assert run.returncode == 0, run.stdout + run.stderr
        jid2 = run.stdout.split("JobID ")[1].split()[0]
        state = cluster.wait_state(jid2, ("RUNNING", "FAILED"))["state"]
        assert state == "RUNNING", cluster.get(f"/jobs/{jid2}/exceptions")["root-exception"]
        feed.next_connection(conns)
        feed.send("hello", "flink")
        wait_for(lambda: "hello 4" in lines(out) and "flink 1" in lines(out), 20, "hello 4 after the restore")
        assert lines(out).count("hello 1") == 1  # only the first job's first hello
        # cancel -s: Flink's deprecated spelling still takes a savepoint, then cancels.
        cancel = cluster.miniflink("cancel", "-m", cluster.rest, "-s", str(tmp_path / "cancelled"), jid2)
        assert cancel.returncode == 0, cancel.stdout + cancel.stderr
        assert "DEPRECATION WARNING: Cancelling a job with savepoint is deprecated." in cancel.stdout
        assert f"Cancelled job {jid2}. Savepoint stored in file:{tmp_path / 'cancelled'}/savepoint-" in cancel.stdout
        cluster.wait_state(jid2, ("CANCELED",), timeout=20)

        # Version 3 renamed the count's uid: its state has no operator to go to, the job fails at once
        # (with -n it would start without it: test_savepoint_pieces).
        run = cluster.miniflink("run", "-m", cluster.rest, "-p", "2", "-d", "-s", stopped, "-py", str(program),
                                "127.0.0.1", str(feed.port), str(out), "v3")
        jid3 = run.stdout.split("JobID ")[1].split()[0]
        cluster.wait_state(jid3, ("FAILED",), timeout=20)
        cause = cluster.get(f"/jobs/{jid3}/exceptions")["root-exception"]
        assert f"Failed to rollback to checkpoint/savepoint {stopped.removeprefix('file:')}. Cannot map " \
               "checkpoint/savepoint state for operator" in cause and "'count'" in cause, cause
        assert "--allowNonRestoredState" in cause
    finally:
        feed.close()

