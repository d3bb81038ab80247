"""Savepoints on a per-job cluster on YARN, through the RM's proxy (`-yid`): `miniflink stop` ends the job
with a savepoint (the application SUCCEEDS once the client has the location), and a new per-job cluster run
with `-s` continues the keyed counts: the next "hello" is (hello, N+1), not (hello, 1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.flink.integration.test_savepoints import PROGRAM, FeedServer, lines
from tests.flink_yarn.conftest import SMALL, FlinkOnYarn
from tests.integration.conftest import wait_for

pytestmark = pytest.mark.integration


@pytest.mark.timeout(240)
def test_per_job_stop_with_savepoint_and_run_from_it_continue_the_counts(flink_yarn: FlinkOnYarn,
                                                                        tmp_path: Path) -> None:
    program = tmp_path / "count.py"
    program.write_text(PROGRAM)
    out = tmp_path / "out.txt"
    feed = FeedServer()
    try:
        res = flink_yarn.miniflink("run", "-t", "yarn-per-job", "-d", "-p", "1", *SMALL, "-py", str(program),
                                   "127.0.0.1", str(feed.port), str(out), "v1")
        assert res.returncode == 0, res.stdout + res.stderr
        jid = res.stdout.split("JobID ")[1].split()[0]
        [app] = flink_yarn.flink_apps()
        feed.send("hello", "hello", "world")
        wait_for("the first counts", lambda: "hello 2" in lines(out) and "world 1" in lines(out), timeout=60)

        stop = flink_yarn.miniflink("stop", "-yid", app["id"], "-p", str(tmp_path / "sp"), jid)
        assert stop.returncode == 0, stop.stdout + stop.stderr
        path = stop.stdout.split("Savepoint completed. Path: ")[1].split()[0]
        assert path.startswith(f"file:{tmp_path / 'sp'}/savepoint-{jid[:6]}-")
        assert (Path(path.removeprefix("file:")) / "_metadata").is_file()
        wait_for("the per-job application to end with its job",
                 lambda: flink_yarn.yarn.app(app["id"])["finalStatus"] == "SUCCEEDED", timeout=30)

        conns = len(feed.conns)
        res = flink_yarn.miniflink("run", "-t", "yarn-per-job", "-d", "-p", "1", "-s", path, *SMALL,
                                   "-py", str(program), "127.0.0.1", str(feed.port), str(out), "v2")
        assert res.returncode == 0, res.stdout + res.stderr
        second = next(a for a in flink_yarn.flink_apps() if a["id"] != app["id"])
        # A new per-job cluster (an AM, then a TaskManager container) connects, or ends saying why.
        wait_for("the restored job's socket source to connect", lambda: len(feed.conns) > conns or
                 flink_yarn.yarn.app(second["id"])["finishedTime"] > 0, timeout=90)
        assert len(feed.conns) > conns, flink_yarn.yarn.app(second["id"])["diagnostics"]
        feed.send("hello")
        wait_for("hello 3 from the restored count", lambda: "hello 3" in lines(out), timeout=60)
        assert lines(out).count("hello 1") == 1
        flink_yarn.miniflink("cancel", "-yid", second["id"], res.stdout.split("JobID ")[1].split()[0])
    finally:
        feed.close()
