"""Web UI fixtures: a real RM + 2 NMs (tests.integration), a real JobManager + TaskManagers
(tests.flink), and YARN applications whose AM (am_shim.py, in a real NM container) points its tracking
URL at that JobManager, so the RM's /proxy/<appId>/ serves the JobManager's dashboard."""

from __future__ import annotations

import shlex
from pathlib import Path

import httpx

from tests.flink.conftest import flink, words_file  # noqa: F401 -- fixtures
from tests.integration.conftest import Cluster, cluster, wait_for  # noqa: F401 -- fixtures

SHIM = Path(__file__).with_name("am_shim.py")
XSS_NAME = "<script>alert(1)</script>"


def submit_app(c: Cluster, name: str, command: str, memory: int = 256) -> str:
    app_id = str(httpx.post(f"{c.rm_url}/ws/v1/cluster/apps/new-application").json()["application-id"])
    body = {"application-id": app_id, "application-name": name, "application-type": "Apache Flink",
            "resource": {"memory": memory, "vCores": 1}, "max-app-attempts": 1,
            "am-container-spec": {"commands": {"command": f"{command} 1><LOG_DIR>/AppMaster.stdout "
                                                          "2><LOG_DIR>/AppMaster.stderr"}}}
    r = httpx.post(f"{c.rm_url}/ws/v1/cluster/apps", json=body, params={"user.name": "alice"})
    assert r.status_code == 202, r.text
    return app_id


def submit_shim(c: Cluster, name: str, tracking_url: str) -> str:
    """An app whose AM registers `tracking_url`; returns once it is RUNNING with that URL."""
    cmd = f"$PYTHON {shlex.quote(str(SHIM))} --tracking-url {shlex.quote(tracking_url)}"
    app_id = submit_app(c, name, cmd)
    c.wait_app_state(app_id, "RUNNING", timeout=30)
    wait_for("the AM's tracking URL", lambda: c.app(app_id)["trackingUI"] == "ApplicationMaster")
    return app_id
