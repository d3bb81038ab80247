"""Flink 2.x's applications on an application cluster (`jobmanager --python FILE`): the program is one
application holding the job it submitted, in Flink's ApplicationDetails/ApplicationDetailsInfo shapes,
and cancelling the application (POST /applications/<id>/cancel) cancels its job and ends the cluster."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from flink_on_yarn.security import secret as cluster_secret
from tests.conftest import Processes
from tests.flink.conftest import FAST, ROOT, wait_for
from tests.flink.integration.test_rest_flink_api import JAVA_HEADERS, JOB_DETAILS_KEYS
from tests.flink.integration.test_socket_cancel import LineServer

pytestmark = pytest.mark.integration


def test_application_cluster_lists_its_program_as_one_application(processes: Processes, tmp_path: Path) -> None:
    secret_file = tmp_path / "cluster.secret"
    cluster_secret.ensure_file(secret_file)
    headers = {**JAVA_HEADERS, "authorization": f"Bearer {cluster_secret.read_file(secret_file).decode()}"}
    addr_file = tmp_path / "jm.json"
    nc = LineServer()
    conf = {"rest.port": "0", "jobmanager.rpc.port": "0", "jobmanager.rpc.address": "127.0.0.1",
            "parallelism.default": "1", cluster_secret.FILE_KEY: str(secret_file), **FAST}
    try:
        args = ["-m", "flink_on_yarn.runtime.jobmanager", "--address-file", str(addr_file)]
        for k, v in conf.items():
            args += ["-D", f"{k}={v}"]
        jm = processes.start("jobmanager", [*args, "--python", str(ROOT / "examples/wordcount.py"), "--", "--hostname",
                                            "127.0.0.1", "--port", str(nc.port)])
        wait_for(addr_file.exists, 20, "the JobManager's address file")
        addr = json.loads(addr_file.read_text())
        tm_args = ["-m", "flink_on_yarn.runtime.taskmanager"]
        for k, v in {"jobmanager.rpc.address": "127.0.0.1", "jobmanager.rpc.port": addr["rpc"].rsplit(":", 1)[1],
                     "taskmanager.numberOfTaskSlots": "2", "taskmanager.resource-id": "tm-0",
                     cluster_secret.FILE_KEY: str(secret_file), **FAST}.items():
            tm_args += ["-D", f"{k}={v}"]
        processes.start("tm-0", tm_args)
        rest = addr["rest"]

        def get(path: str) -> httpx.Response:
            return httpx.request("GET", rest + path, content=b"{}", headers=headers, timeout=10)

        wait_for(lambda: get("/applications/overview").json()["applications"][0]["jobs"] == {"RUNNING": 1}, 30,
                 "the program's job running")
        [app] = get("/v1/applications/overview").json()["applications"]
        assert set(app) == {"id", "name", "status", "start-time", "end-time", "duration", "jobs"}
        assert (app["name"], app["status"], app["end-time"]) == ("wordcount.py", "RUNNING", -1)
        assert len(app["id"]) == 32 and app["duration"] >= 0
        info = get(f"/v1/applications/{app['id']}").json()
        [job] = info["jobs"]
        assert set(job) == JOB_DETAILS_KEYS and job["state"] == "RUNNING"
        assert info["status"] == "RUNNING" and info["timestamps"]["RUNNING"] == app["start-time"]
        assert set(info["timestamps"]) == {"CREATED", "RUNNING", "FAILING", "FAILED", "CANCELED", "FINISHED"}
        # The job is not an application of its own here: its id names none.
        assert get(f"/applications/{job['jid']}").status_code == 404
        r = httpx.post(f"{rest}/v1/applications/{app['id']}/cancel", content=b"{}", headers=headers, timeout=10)
        assert (r.status_code, r.json()) == (202, {})
        # The program's job is cancelled, the program returns, and the application cluster ends.
        jm.wait(30)
        assert f"Job {job['jid']} ended CANCELED" in processes.log("jobmanager")
    finally:
        nc.close()
