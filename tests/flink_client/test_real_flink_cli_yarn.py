"""Apache Flink's own CLI against a miniflink YARN session, through the RM's web proxy: `-m <rm host:port>/proxy/
<appId>` (Flink's RestClusterClient keeps the address's path before `/v1/...`; `rest.url-prefix` is not
applied to a `-m` address). The proxy
presents the application's secret itself, so the client sends none of it; with token auth on the RM it
sends the user's miniyarn token instead (FLINK_REST_CLIENT_HEADERS)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.flink_client.conftest import FlinkCli
from tests.flink_yarn.conftest import SMALL, FlinkOnYarn
from tests.integration.conftest import wait_for
from tests.line_server import LineServer

pytestmark = [pytest.mark.integration, pytest.mark.flink_client]


def test_real_flink_cli_through_the_rm_proxy(flink_yarn: FlinkOnYarn, flink_cli: FlinkCli, tmp_path: Path) -> None:
    res = flink_yarn.miniflink("yarn-session", "-d", "-s", "2", *SMALL)
    assert res.returncode == 0, res.stdout + res.stderr
    [app] = flink_yarn.flink_apps()
    nc = LineServer(["hello world"])
    try:
        res = flink_yarn.miniflink("run", "-d", "-p", "2", "-py", "examples/wordcount.py", "--hostname", "127.0.0.1",
                                   "--port", str(nc.port))
        assert res.returncode == 0, res.stdout + res.stderr
        jid = res.stdout.split("JobID ")[1].split()[0]
        rm = flink_yarn.yarn.rm_url.removeprefix("http://")
        via_proxy = ("-m", f"{rm}/proxy/{app['id']}")

        def listed_running() -> bool:
            out = flink_cli.run("list", *via_proxy, secret=None)
            return out.returncode == 0 and f"{jid} : StreamWordCount (RUNNING)" in out.stdout

        wait_for("the job listed RUNNING by bin/flink through the proxy", listed_running, timeout=60)
        sp = flink_cli.run("savepoint", *via_proxy, jid, f"file://{tmp_path}/sp", secret=None)
        assert sp.returncode == 0, sp.stdout + sp.stderr
        assert f"Savepoint completed. Path: file:{tmp_path}/sp/savepoint-{jid[:6]}-" in sp.stdout, sp.stdout
        cancel = flink_cli.run("cancel", *via_proxy, jid, secret=None)
        assert cancel.returncode == 0 and f"Cancelled job {jid}." in cancel.stdout, cancel.stdout + cancel.stderr

        def canceled() -> bool:
            out = flink_cli.run("list", "-a", *via_proxy, secret=None)
            return f"{jid} : StreamWordCount (CANCELED)" in out.stdout

        wait_for("the job CANCELED", canceled, timeout=60)
    finally:
        nc.close()
        flink_yarn.miniflink("yarn-session", "-id", app["id"], "stop")
