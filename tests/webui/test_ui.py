"""The RM UI pages, XSS escaping, and the RM's proxies (/proxy/<appId>/ to the dashboard of a Flink per-job
cluster's JobManager, the application's AM on YARN; /node/<nodeId>/ to an NM's log pages) against real
processes, without a browser."""

from __future__ import annotations

import html

import httpx
import psutil
import pytest

from tests.flink_yarn.conftest import FlinkOnYarn
from tests.integration.conftest import Cluster, wait_for
from tests.webui.conftest import IDLE_AM, XSS_NAME, LineServer, run_wordcount, submit_app

pytestmark = pytest.mark.integration


def test_cluster_pages_and_xss(cluster: Cluster) -> None:
    app_id = submit_app(cluster, XSS_NAME, f"$PYTHON {IDLE_AM}")
    cluster.wait_app_state(app_id, "RUNNING")
    escaped = html.escape(XSS_NAME)
    for path in ("/cluster", "/cluster/apps", f"/cluster/app/{app_id}"):
        r = httpx.get(cluster.rm_url + path, timeout=10)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert escaped in r.text, path
        assert XSS_NAME not in r.text, path
    page = httpx.get(f"{cluster.rm_url}/cluster/app/{app_id}", timeout=10).text
    assert "_01_000001" in page and "/containerlogs/" in page  # the AM container and its logs link
    nodes = httpx.get(f"{cluster.rm_url}/cluster/nodes", timeout=10).text
    assert all(n["id"] in nodes for n in cluster.running_nodes())
    assert "root" in httpx.get(f"{cluster.rm_url}/cluster/scheduler", timeout=10).text
    assert httpx.get(f"{cluster.rm_url}/static/ui.js", timeout=10).status_code == 200
    assert "innerHTML" not in httpx.get(f"{cluster.rm_url}/static/ui.js", timeout=10).text

    # The AM's stdout through the RM: /node/<nodeId>/containerlogs/<cid>/<file>, user optional.
    att = cluster.get(f"/apps/{app_id}/appattempts")["appAttempts"]["appAttempt"][0]
    for path in (f"/node/{att['nodeId']}/containerlogs/{att['containerId']}/AppMaster.stdout",
                 f"/node/{att['nodeId']}/containerlogs/{att['containerId']}/alice/AppMaster.stdout"):
        r = httpx.get(cluster.rm_url + path, timeout=10)
        assert r.status_code == 200 and "idle AM registered" in r.text, (path, r.text)
    listing = httpx.get(f"{cluster.rm_url}/node/{att['nodeId']}/containerlogs/{att['containerId']}/alice").text
    assert f'href="/node/{att["nodeId"]}/containerlogs/{att["containerId"]}/alice/AppMaster.stdout"' in listing
    overview = httpx.get(f"{cluster.rm_url}/node/{att['nodeId']}/", timeout=10).text
    assert f'href="/node/{att["nodeId"]}/containerlogs/' in overview  # the NM's absolute links, rewritten


def test_proxy_serves_the_jobmanager_dashboard(flink_yarn: FlinkOnYarn, hello_lines: LineServer) -> None:
    yarn = flink_yarn.yarn
    app_id, job_id = run_wordcount(flink_yarn, hello_lines, parallelism=2, slots=2)
    jm = f"http://{yarn.app(app_id)['amRPCAddress']}"
    # Asked directly, the JobManager wants its application's secret (the proxy presents it for us).
    [am] = [p for p in psutil.process_iter(["cmdline", "cwd"])
            if "flink_on_yarn.yarn.appmaster" in (p.info["cmdline"] or []) and app_id in (p.info["cwd"] or "")]
    as_the_proxy = {"authorization": f"Bearer {am.environ()['MINIYARN_CLIENT_TO_AM_SECRET']}"}
    base = f"{yarn.rm_url}/proxy/{app_id}"
    r = httpx.get(base, timeout=10)
    assert r.status_code == 302 and r.headers["location"] == f"/proxy/{app_id}/"
    index = httpx.get(base + "/", timeout=10)
    assert index.status_code == 200 and 'src="dashboard/dashboard.js"' in index.text
    js = httpx.get(base + "/dashboard/dashboard.js", timeout=10)
    assert js.status_code == 200 and "innerHTML" not in js.text
    wait_for("the same overview direct and through the proxy", lambda: (
        (o := httpx.get(base + "/overview", timeout=10).json())["slots-available"] == 0
        and o == httpx.get(jm + "/overview", timeout=10, headers=as_the_proxy).json()))
    # A redirect from the AM comes back through the proxy.
    r = httpx.get(base + "/dashboard", timeout=10)
    assert r.status_code == 302 and r.headers["location"] == "./"
    [tm] = httpx.get(base + "/taskmanagers", timeout=10).json()["taskmanagers"]
    assert tm["id"].startswith(f"container_{app_id.removeprefix('application_')}_01_")  # a YARN container
    assert httpx.get(f"{base}/taskmanagers/{tm['id']}/log", timeout=10).status_code == 200
    wait_for("(hello,3) through the proxy",
             lambda: "(hello,3)" in httpx.get(f"{base}/taskmanagers/{tm['id']}/stdout", timeout=10).text)
    metrics = httpx.get(base + "/metrics", timeout=10)
    assert "flink_jobmanager_slots_total 2.0" in metrics.text
    wait_for("the RM apps table to link the proxy",
             lambda: f"/proxy/{app_id}/" in httpx.get(f"{yarn.rm_url}/cluster/apps", timeout=10).text)

    # The dashboard's cancel (a PATCH through the proxy) ends the per-job cluster and its JobManager ...
    r = httpx.patch(f"{base}/jobs/{job_id}", params={"mode": "cancel"}, timeout=10)
    assert r.status_code == 202, r.text
    report = yarn.wait_app_state(app_id, "FINISHED", "FAILED", "KILLED")
    assert (report["state"], report["finalStatus"]) == ("FINISHED", "KILLED"), report
    # ... after which (once the JobManager, which may answer a moment after unregistering, is gone) the
    # proxy says so: 410 with the application's end to a UI's polling, and a page load goes to the RM's
    # application page (no history server here).
    wait_for("the proxy to answer 410", lambda: httpx.get(
        f"{base}/jobs/{job_id}", headers={"Accept": "application/json"}, timeout=10).status_code == 410)
    r = httpx.get(f"{base}/jobs/{job_id}", headers={"Accept": "application/json"}, timeout=10)
    assert r.status_code == 410, r.text
    ended = r.json()["application"]
    assert (ended["id"], ended["state"], ended["finalStatus"]) == (app_id, "FINISHED", "KILLED")
    assert f"Job {job_id} ended CANCELED" in ended["diagnostics"]
    assert ended["appPage"] == f"/cluster/app/{app_id}"
    r = httpx.get(base + "/", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}, timeout=10)
    assert r.status_code == 302 and r.headers["location"] == f"/cluster/app/{app_id}"
    page = httpx.get(yarn.rm_url + r.headers["location"], timeout=10).text
    assert '<span class="badge FINISHED">FINISHED</span> <span class="badge KILLED">KILLED</span>' in page
