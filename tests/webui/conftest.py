"""Web UI fixtures: a real RM + 2 NMs (tests.integration's `cluster`, or tests.flink_yarn's `flink_yarn` with a
`miniflink` runner aimed at it), a standalone JobManager (tests.flink's `flink`, for its /metrics), and two
ways to fill the RM with applications: `submit_app` (any AM command over the REST API; idle_am.py is an AM
with no UI) and `run_wordcount` (a real Flink per-job cluster on YARN whose tracking URL is the JobManager's
dashboard, reading words from a LineServer)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.flink.conftest import flink, words_file  # noqa: F401 -- fixtures
from tests.flink_yarn.conftest import ROOT, SMALL, FlinkOnYarn, flink_yarn  # noqa: F401 -- fixtures
from tests.integration.conftest import Cluster, cluster, wait_for  # noqa: F401 -- fixtures
from tests.line_server import LineServer

IDLE_AM = Path(__file__).with_name("idle_am.py")
XSS_NAME = "<script>alert(1)</script>"
WORDCOUNT = str(ROOT / "examples" / "wordcount.py")
HELLO = ["hello world", "hello yarn", "hello flink"]


def submit_app(c: Cluster, name: str, command: str, memory: int = 256) -> str:
    app_id = str(httpx.post(f"{c.rm_url}/ws/v1/cluster/apps/new-application").json()["application-id"])
    body = {"application-id": app_id, "application-name": name, "application-type": "Apache Flink",
            "resource": {"memory": memory, "vCores": 1}, "max-app-attempts": 1,
            "am-container-spec": {"commands": {"command": f"{command} 1><LOG_DIR>/AppMaster.stdout "
                                                          "2><LOG_DIR>/AppMaster.stderr"}}}
    r = httpx.post(f"{c.rm_url}/ws/v1/cluster/apps", json=body, params={"user.name": "alice"})
    assert r.status_code == 202, r.text
    return app_id


@pytest.fixture
def hello_lines() -> Iterator[LineServer]:
    server = LineServer(HELLO)
    yield server
    server.close()


def run_wordcount(fy: FlinkOnYarn, lines: LineServer, parallelism: int, slots: int) -> tuple[str, str]:
    """`miniflink run -t yarn-per-job -d` of the socket word count: (application id, job id), once YARN
    reports the application RUNNING with the JobManager's dashboard as its tracking UI."""
    res = fy.miniflink("run", "-t", "yarn-per-job", "-d", "-p", str(parallelism), "-D",
                       f"taskmanager.numberOfTaskSlots={slots}", *SMALL, "-py", WORDCOUNT,
                       "--hostname", "127.0.0.1", "--port", str(lines.port))
    assert res.returncode == 0, res.stdout + res.stderr
    job_id = res.stdout.split("JobID ")[1].split()[0]
    m = re.search(r"application (application_\d+_\d+) runs detached", res.stdout)
    assert m, res.stdout
    app_id = m.group(1)
    fy.yarn.wait_app_state(app_id, "RUNNING")
    wait_for("the JobManager as tracking UI", lambda: fy.yarn.app(app_id)["trackingUI"] == "ApplicationMaster")
    return app_id, job_id
