"""Apache Flink's own CLI against a live standalone miniflink cluster running the socket word count:
`flink list` shows it, `flink savepoint` takes a savepoint (Flink's client reads our operation's location),
`flink cancel` cancels it for real, `flink stop` stops a second one with a savepoint (FINISHED), and without
the secret the client fails visibly."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from flink_on_yarn.security import secret as cluster_secret
from tests.flink.conftest import ROOT, FlinkCluster
from tests.flink_client.conftest import FlinkCli
from tests.line_server import LineServer

pytestmark = [pytest.mark.integration, pytest.mark.flink_client]


def test_real_flink_cli_list_savepoint_stop_cancel(flink: Callable[..., FlinkCluster], flink_cli: FlinkCli,
                                                   tmp_path: Path) -> None:
    cluster = flink(tms=1, slots=2)
    nc = LineServer(["hello world", "hello flink"])
    try:
        res = cluster.miniflink("run", "-m", cluster.rest, "-p", "2", "-d", "-py", str(ROOT / "examples/wordcount.py"),
                                "--hostname", "127.0.0.1", "--port", str(nc.port))
        assert res.returncode == 0, res.stderr
        jid = res.stdout.split("JobID ")[1].split()[0]
        cluster.wait_state(jid, ("RUNNING",))
        address = cluster.rest.removeprefix("http://")
        secret = cluster_secret.read_file(cluster.secret_file).decode()

        listed = flink_cli.run("list", "-m", address, secret=secret)
        assert listed.returncode == 0, listed.stdout + listed.stderr
        assert jid in listed.stdout and "(RUNNING)" in listed.stdout, listed.stdout
        running = flink_cli.run("list", "-r", "-m", address, secret=secret)
        assert running.returncode == 0 and jid in running.stdout, running.stdout + running.stderr

        refused = flink_cli.run("list", "-m", address, secret=None)
        assert refused.returncode != 0, refused.stdout
        assert "Authentication required" in refused.stdout + refused.stderr

        sp = flink_cli.run("savepoint", "-m", address, jid, f"file://{tmp_path}/sp", secret=secret)
        assert sp.returncode == 0, sp.stdout + sp.stderr
        assert f"Savepoint completed. Path: file:{tmp_path}/sp/savepoint-{jid[:6]}-" in sp.stdout, sp.stdout
        assert cluster.get(f"/jobs/{jid}/status") == {"status": "RUNNING"}

        cancel = flink_cli.run("cancel", "-m", address, jid, secret=secret)
        assert cancel.returncode == 0, cancel.stdout + cancel.stderr
        assert f"Cancelled job {jid}." in cancel.stdout
        cluster.wait_state(jid, ("CANCELED",), timeout=30)
        again = flink_cli.run("list", "-a", "-m", address, secret=secret)
        assert jid in again.stdout and "(CANCELED)" in again.stdout, again.stdout + again.stderr

        res = cluster.miniflink("run", "-m", cluster.rest, "-p", "2", "-d", "-py", str(ROOT / "examples/wordcount.py"),
                                "--hostname", "127.0.0.1", "--port", str(nc.port))
        second = res.stdout.split("JobID ")[1].split()[0]
        cluster.wait_state(second, ("RUNNING",))
        stop = flink_cli.run("stop", "-m", address, "-p", f"file://{tmp_path}/stopped", second, secret=secret)
        assert stop.returncode == 0, stop.stdout + stop.stderr
        assert f'Suspending job "{second}" with a CANONICAL savepoint.' in stop.stdout, stop.stdout
        assert f"Savepoint completed. Path: file:{tmp_path}/stopped/savepoint-" in stop.stdout, stop.stdout
        cluster.wait_state(second, ("FINISHED",), timeout=30)
    finally:
        nc.close()
