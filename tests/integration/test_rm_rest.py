"""The RM's REST API against a real RM process: shapes, bad input, kill, pending reasons."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.conftest import Cluster, wait_for

pytestmark = pytest.mark.integration


def new_app(c: Cluster) -> str:
    r = httpx.post(f"{c.rm_url}/ws/v1/cluster/apps/new-application")
    assert r.status_code == 200
    body = r.json()
    assert body["maximum-resource-capability"]["memory"] > 0
    return str(body["application-id"])


def submission(app_id: str, memory: int = 512, queue: str = "default", **extra: Any) -> dict[str, Any]:
    return {"application-id": app_id, "application-name": "sleeper", "queue": queue,
            "am-container-spec": {"commands": {"command": "sleep 30"}},
            "resource": {"memory": memory, "vCores": 1}, "application-type": "YARN", **extra}


def remote_exception(r: httpx.Response, status: int) -> dict[str, str]:
    assert r.status_code == status, r.text
    body: dict[str, str] = r.json()["RemoteException"]
    assert set(body) == {"exception", "message", "javaClassName"}
    return body


def test_info_metrics_scheduler_and_cluster_page(rm_only: Cluster) -> None:
    info = rm_only.get("/info")["clusterInfo"]
    assert info["state"] == "STARTED" and info["haState"] == "ACTIVE"
    assert rm_only.get("/metrics")["clusterMetrics"]["activeNodes"] == 0
    sched = rm_only.get("/scheduler")["scheduler"]["schedulerInfo"]
    assert sched["type"] == "capacityScheduler"
    assert sched["queues"]["queue"][0]["queueName"] == "default"
    r = httpx.get(f"{rm_only.rm_url}/cluster", headers={"Accept": "text/html"})
    assert r.status_code == 200
    assert httpx.get(f"{rm_only.rm_url}/ws/v1/cluster/apps", headers={"Accept": "application/xml"}).json() == {
        "apps": None}


def test_submit_waits_with_reason_then_kill(rm_only: Cluster) -> None:
    app_id = new_app(rm_only)
    r = httpx.post(f"{rm_only.rm_url}/ws/v1/cluster/apps", json=submission(app_id))
    assert r.status_code == 202 and r.content == b""
    assert r.headers["Location"].endswith(f"/ws/v1/cluster/apps/{app_id}")
    report = rm_only.app(app_id)
    assert report["state"] == "ACCEPTED"
    wait_for("a pending reason", lambda: "no NodeManager is running" in rm_only.app(app_id)["diagnostics"])
    apps = rm_only.get("/apps", states="ACCEPTED")["apps"]["app"]
    assert [a["id"] for a in apps] == [app_id]
    assert rm_only.get("/apps", states="RUNNING")["apps"] is None
    r = httpx.put(f"{rm_only.rm_url}/ws/v1/cluster/apps/{app_id}/state", json={"state": "KILLED"})
    assert r.status_code in (200, 202)
    wait_for("KILLED", lambda: rm_only.get(f"/apps/{app_id}/state")["state"] == "KILLED")
    r = httpx.put(f"{rm_only.rm_url}/ws/v1/cluster/apps/{app_id}/state", json={"state": "KILLED"})
    assert r.status_code == 200 and r.json() == {"state": "KILLED"}
    assert rm_only.app(app_id)["finalStatus"] == "KILLED"


def test_bad_input_gets_yarn_errors_and_changes_nothing(rm_only: Cluster) -> None:
    base = f"{rm_only.rm_url}/ws/v1/cluster"
    e = remote_exception(httpx.get(f"{base}/apps/application_1_0001"), 404)
    assert e["exception"] == "NotFoundException" and "application_1_0001" in e["message"]
    e = remote_exception(httpx.get(f"{base}/apps/not_an_app"), 400)
    assert "Invalid ApplicationId" in e["message"]
    e = remote_exception(httpx.get(f"{base}/apps", params={"states": "BOGUS"}), 400)
    assert "BOGUS" in e["message"]
    remote_exception(httpx.post(f"{base}/apps", content=b"{not json"), 400)
    app_id = new_app(rm_only)
    e = remote_exception(httpx.post(f"{base}/apps", json=submission(app_id, memory=99999)), 400)
    assert e["exception"] == "InvalidResourceRequestException"
    assert "maximum allowed allocation" in e["message"]
    e = remote_exception(httpx.post(f"{base}/apps", json=submission(app_id, memory=-5)), 400)
    e = remote_exception(httpx.post(f"{base}/apps", json=submission(app_id, queue="nosuchqueue")), 400)
    assert "nosuchqueue" in e["message"]
    bad_type = submission(app_id)
    bad_type["resource"] = {"memory": "lots", "vCores": 1}
    e = remote_exception(httpx.post(f"{base}/apps", json=bad_type), 400)
    assert "resource.memory" in e["message"]
    e = remote_exception(httpx.put(f"{base}/apps/{app_id}/state", json={"state": "RUNNING"}), 404)
    assert rm_only.get("/apps")["apps"] is None
    # The RM still serves, and the app id is still usable after the refusals.
    assert httpx.post(f"{base}/apps", json=submission(app_id)).status_code == 202
    e = remote_exception(httpx.post(f"{base}/apps", json=submission(app_id)), 400)
    assert "already present" in e["message"]
    e = remote_exception(httpx.put(f"{base}/apps/{app_id}/state", json={"state": "RUNNING"}), 400)
    assert "Only 'KILLED'" in e["message"]
    assert rm_only.app(app_id)["state"] == "ACCEPTED"
