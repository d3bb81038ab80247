"""The one renderer's pages against a real RM and two NMs, without a browser: the RM's attempt and About
pages, the scheduler's root and queue usage figures, the NM's node/containers/container/logs pages in the
RM's shell (stylesheet, nav, escaping) through the RM's /node/ proxy, and a finished container's "logs"
link, which the NM sends to the RM's log server (`yarn.log.server.url`, `/logs/...`) once its local dir is
gone, where the aggregated files are served."""

from __future__ import annotations

import html

import httpx
import pytest

from tests.integration.conftest import Cluster, wait_for
from tests.webui.conftest import IDLE_AM, XSS_NAME, submit_app

pytestmark = pytest.mark.integration

STYLESHEET = '<link rel="stylesheet" href="/static/style.css">'


def test_attempt_about_and_nm_pages_then_aggregated_logs(cluster: Cluster) -> None:
    rm = cluster.rm_url
    app_id = submit_app(cluster, XSS_NAME, f"$PYTHON {IDLE_AM}")
    cluster.wait_app_state(app_id, "RUNNING")
    [att] = cluster.get(f"/apps/{app_id}/appattempts")["appAttempts"]["appAttempt"]
    node, cid = att["nodeId"], att["containerId"]

    about = httpx.get(f"{rm}/cluster/cluster", timeout=10)
    assert about.status_code == 200 and "ResourceManager version" in about.text and STYLESHEET in about.text
    attempt = httpx.get(f"{rm}/cluster/appattempt/{att['appAttemptId']}", timeout=10).text
    assert cid in attempt and f'/node/{node}/containerlogs/{cid}/alice"' in attempt
    assert httpx.get(f"{rm}/cluster/app/{app_id}", timeout=10).text.count(
        f'href="/cluster/appattempt/{att["appAttemptId"]}"') == 1
    # The scheduler's figures as YARN computes them: root uses what its queues use; the app's share of
    # its queue (root.default, the whole cluster) is its share of the cluster.
    info = cluster.get("/scheduler")["scheduler"]["schedulerInfo"]
    [default] = info["queues"]["queue"]
    report = cluster.app(app_id)
    assert info["resourcesUsed"] == default["resourcesUsed"] and default["resourcesUsed"]["memory"] > 0
    assert report["queueUsagePercentage"] == report["clusterUsagePercentage"] > 0
    sched = httpx.get(f"{rm}/cluster/scheduler", timeout=10).text
    assert sched.count(f"<td>{default['resourcesUsed']['memory']} MB, 1 vcores</td>") == 2, sched  # root, default
    bad = httpx.get(f"{rm}/cluster/appattempt/appattempt_1_0001_000009", timeout=10)
    assert bad.status_code == 404 and "RemoteException" in bad.text

    # The NM's pages: the RM's shell (stylesheet, nav), escaped, links through the proxy.
    for path, must in ((f"/node/{node}/", "Total resource"), (f"/node/{node}/allContainers", cid),
                       (f"/node/{node}/container/{cid}", "Physical memory used"),
                       (f"/node/{node}/containerlogs/{cid}/alice", "AppMaster.stdout")):
        r = httpx.get(rm + path, timeout=10)
        assert r.status_code == 200 and must in r.text and STYLESHEET in r.text, (path, r.text)
        assert f'href="/node/{node}/allContainers"' in r.text and "<script" not in r.text, path
    assert f'href="/node/{node}/container/{cid}"' in httpx.get(f"{rm}/node/{node}/", timeout=10).text
    # Directly at the NM: the stylesheet is public (it holds nothing) and allowed by the pages' CSP.
    [nm] = [n for n in cluster.running_nodes() if n["id"] == node]
    css = httpx.get(f"http://{nm['nodeHTTPAddress']}/static/style.css", timeout=10)
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert "style-src 'self'" in css.headers["content-security-policy"]
    assert "script-src" not in css.headers["content-security-policy"]  # default-src 'none' covers scripts

    # The app ends; once the NM has removed the container's dir its logs link goes to the log server.
    r = httpx.put(f"{rm}/ws/v1/cluster/apps/{app_id}/state", json={"state": "KILLED"}, params={"user.name": "alice"},
                  timeout=10)
    assert r.status_code in (200, 202), r.text
    cluster.wait_app_state(app_id, "KILLED")
    listing = f"{rm}/node/{node}/containerlogs/{cid}/alice"
    moved = wait_for("the NM to send the logs link to the log server",
                     lambda: (r := httpx.get(listing, timeout=10)).status_code == 302 and r)
    assert moved.headers["location"] == f"/logs/{node}/{cid}/{cid}/alice", moved.headers
    page = wait_for("the aggregated logs", lambda: (p := httpx.get(rm + moved.headers["location"], timeout=10))
                    .status_code == 200 and "AppMaster.stdout" in p.text and p)
    assert STYLESHEET in page.text and "(aggregated)" in page.text
    href = f"/logs/{node}/{cid}/{cid}/alice/AppMaster.stdout"
    assert f'href="{href}"' in page.text
    assert "idle AM registered" in httpx.get(rm + href, timeout=10).text
    # A file link followed straight from the NM's page is sent to the same file.
    file_link = httpx.get(f"{listing}/AppMaster.stdout", timeout=10)
    assert file_link.status_code == 302 and file_link.headers["location"] == href
    # The ended app's "History" is that AM container's logs, not its own page again.
    app_page = httpx.get(f"{rm}/cluster/app/{app_id}", timeout=10).text
    assert f'/node/{node}/containerlogs/{cid}/alice" class="tracking-link">History<' in app_page
    assert html.escape(XSS_NAME) in app_page and XSS_NAME not in app_page
