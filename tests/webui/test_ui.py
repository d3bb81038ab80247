"""The RM UI pages, XSS escaping, and the RM's proxies (/proxy/<appId>/ to a JobManager's dashboard,
/node/<nodeId>/ to an NM's log pages) against real processes, without a browser."""

from __future__ import annotations

import html
from collections.abc import Callable

import httpx
import pytest

from tests.flink.conftest import FlinkCluster
from tests.integration.conftest import Cluster, wait_for
from tests.webui.conftest import SHIM, XSS_NAME, submit_app, submit_shim

pytestmark = pytest.mark.integration


def test_cluster_pages_and_xss(cluster: Cluster) -> None:
    app_id = submit_app(cluster, XSS_NAME, f"$PYTHON {SHIM}")
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
        assert r.status_code == 200 and "AM shim registered" in r.text, (path, r.text)
    listing = httpx.get(f"{cluster.rm_url}/node/{att['nodeId']}/containerlogs/{att['containerId']}/alice").text
    assert f'href="/node/{att["nodeId"]}/containerlogs/{att["containerId"]}/alice/AppMaster.stdout"' in listing
    overview = httpx.get(f"{cluster.rm_url}/node/{att['nodeId']}/", timeout=10).text
    assert f'href="/node/{att["nodeId"]}/containerlogs/' in overview  # the NM's absolute links, rewritten


def test_proxy_serves_the_jobmanager_dashboard(cluster: Cluster, flink: Callable[..., FlinkCluster]) -> None:
    jm = flink(tms=1, slots=2)
    app_id = submit_shim(cluster, "flink-session", jm.rest)
    base = f"{cluster.rm_url}/proxy/{app_id}"
    r = httpx.get(base, timeout=10)
    assert r.status_code == 302 and r.headers["location"] == f"/proxy/{app_id}/"
    index = httpx.get(base + "/", timeout=10)
    assert index.status_code == 200 and 'src="dashboard/dashboard.js"' in index.text
    js = httpx.get(base + "/dashboard/dashboard.js", timeout=10)
    assert js.status_code == 200 and "innerHTML" not in js.text
    assert httpx.get(base + "/overview", timeout=10).json() == jm.get("/overview")
    # A redirect from the AM comes back through the proxy.
    r = httpx.get(base + "/dashboard", timeout=10)
    assert r.status_code == 302 and r.headers["location"] == "./"
    tm = jm.get("/taskmanagers")["taskmanagers"][0]["id"]
    assert httpx.get(f"{base}/taskmanagers/{tm}/log", timeout=10).status_code == 200
    metrics = httpx.get(base + "/metrics", timeout=10)
    assert "flink_jobmanager_slots_total 2.0" in metrics.text
    wait_for("the RM apps table to link the proxy",
             lambda: f"/proxy/{app_id}/" in httpx.get(f"{cluster.rm_url}/cluster/apps", timeout=10).text)
