"""What users saw, in headless Chromium with a screenshot each (artifacts/screenshots/): the RM's scheduler
page with root's usage, a LOST node neither Healthy nor available, an attempt's diagnostics wrapped inside
its table, the NM's pages in the RM's shell and stylesheet, a finished container's logs link (and the ended
app's History link) reaching its aggregated logs; and on a standalone Flink cluster the TaskManager's CPU
cores (its 1 granted core, not the machine's) and the allocation timeline's time and job labels inside the
chart and apart from each other. Install the browser with scripts/install-browser.sh."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.flink.conftest import FlinkCluster
from tests.integration.conftest import Cluster, wait_for
from tests.webui import test_browser
from tests.webui.conftest import IDLE_AM, XSS_NAME, submit_app
from tests.webui.test_browser import CHROMIUM, SHOTS

browser_page = test_browser.browser_page  # fixture

pytestmark = [
    pytest.mark.integration, pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="browser tests need Debian's chromium at /usr/bin/chromium: "
                                                     "run scripts/install-browser.sh"),
]

SHORT_JOB = """
import sys
from flink_on_yarn.datastream import StreamExecutionEnvironment
env = StreamExecutionEnvironment.get_execution_environment()
env.from_collection([1, 2, 3]).map(lambda x: x * 2).print()
env.execute(sys.argv[1])
"""


def inside(page: Any, selector: str) -> bool:
    """Whether the element shows all of its content within the visible part of its panel (nothing clipped
    or scrolled away)."""
    return bool(page.locator(selector).first.evaluate("""e => {
        const panel = e.closest('.panel'), r = e.getBoundingClientRect(), p = panel.getBoundingClientRect();
        return e.scrollWidth <= e.clientWidth + 1 && r.right <= p.right + 1
            && panel.scrollWidth <= panel.clientWidth + 1;
    }"""))


def test_rm_and_nm_pages_users_stumbled_on(cluster: Cluster, browser_page: Any) -> None:
    from playwright.sync_api import expect

    page, rm = browser_page, cluster.rm_url
    SHOTS.mkdir(parents=True, exist_ok=True)
    app_id = submit_app(cluster, XSS_NAME, f"$PYTHON {IDLE_AM}", memory=1024)
    failing = submit_app(cluster, "fails", "sh -c 'exit 3'")
    cluster.wait_app_state(app_id, "RUNNING")
    cluster.wait_app_state(failing, "FAILED")

    # Scheduler: root uses what root.default uses (it said 0 MB).
    page.goto(f"{rm}/cluster/scheduler")
    used = f"{cluster.app(app_id)['allocatedMB']} MB, 1 vcores"
    expect(page.locator("#queues-body tr")).to_have_count(2)
    for row in (0, 1):
        expect(page.locator("#queues-body tr").nth(row)).to_contain_text(used)
    page.screenshot(path=str(SHOTS / "rm-scheduler.png"), full_page=True)

    # A failed attempt's long diagnostics wrap inside the attempts table.
    page.goto(f"{rm}/cluster/app/{failing}")
    expect(page.locator("#attempts-body td.diag-cell")).to_contain_text("exit")
    assert inside(page, "#attempts-body td.diag-cell"), "the diagnostics cell is clipped"
    page.screenshot(path=str(SHOTS / "rm-app-diagnostics.png"), full_page=True)

    # The NM's pages through the RM: the same shell and stylesheet, its containers and their logs.
    [att] = cluster.get(f"/apps/{app_id}/appattempts")["appAttempts"]["appAttempt"]
    node, cid = att["nodeId"], att["containerId"]
    page.goto(f"{rm}/node/{node}/")
    expect(page.locator("header.top")).to_have_css("background-color", "rgb(15, 27, 45)")
    expect(page.locator("#nm-containers-body")).to_contain_text(cid)
    page.screenshot(path=str(SHOTS / "nm-node.png"), full_page=True)
    page.locator("#nm-containers-body tr", has_text=cid).get_by_role("link", name="logs").click()
    expect(page.locator("#log-files")).to_contain_text("AppMaster.stdout")
    expect(page.locator("header.top")).to_have_css("background-color", "rgb(15, 27, 45)")
    page.screenshot(path=str(SHOTS / "nm-container-logs.png"), full_page=True)

    # The app ends: its AM container's logs link, then its History link, reach the aggregated logs.
    r = httpx.put(f"{rm}/ws/v1/cluster/apps/{app_id}/state", json={"state": "KILLED"}, params={"user.name": "alice"},
                  timeout=10)
    assert r.status_code in (200, 202), r.text
    cluster.wait_app_state(app_id, "KILLED")
    wait_for("the NM to clean up the container", lambda: httpx.get(
        f"{rm}/node/{node}/containerlogs/{cid}/alice", timeout=10).status_code == 302)
    page.goto(f"{rm}/cluster/app/{app_id}")
    page.locator("#attempts-body").get_by_role("link", name="logs").click()
    page.wait_for_url(f"{rm}/logs/{node}/{cid}/{cid}/alice")
    expect(page.locator("#log-files")).to_contain_text("AppMaster.stdout")
    page.screenshot(path=str(SHOTS / "rm-aggregated-logs.png"), full_page=True)
    page.locator("#log-files a", has_text="AppMaster.stdout").click()
    expect(page.locator("body")).to_contain_text("idle AM registered")
    page.goto(f"{rm}/cluster/app/{app_id}")
    page.locator("a.tracking-link", has_text="History").click()
    page.wait_for_url(f"{rm}/logs/{node}/{cid}/{cid}/alice")

    # A node that dies is LOST: not Healthy, nothing available, its last heartbeat before its death.
    other = next(n for n in cluster.running_nodes() if n["id"] != node)
    [(_, proc)] = [(n, p) for n, p in cluster.processes.procs if n in cluster.nodes and
                   str(other["id"].rsplit(":", 1)[1]) in cluster.processes.log(n).split("started,")[0]]
    os.killpg(proc.pid, signal.SIGKILL)
    page.goto(f"{rm}/cluster/nodes")
    lost = page.locator("#nodes-body tr", has_text=other["id"])
    expect(lost.locator(".badge")).to_have_text("LOST", timeout=15_000)
    expect(lost).to_contain_text("Lost")
    expect(lost).not_to_contain_text("Healthy")
    expect(lost.locator("td").nth(5)).to_have_text("0 MB")
    page.screenshot(path=str(SHOTS / "rm-nodes-lost.png"), full_page=True)


def test_flink_dashboard_cores_and_timeline_labels(flink: Callable[..., FlinkCluster], tmp_path: Path,
                                                   browser_page: Any) -> None:
    from playwright.sync_api import expect

    page = browser_page
    SHOTS.mkdir(parents=True, exist_ok=True)
    cluster = flink(tms=0)
    cluster.add_taskmanager("tm-one-core", 2, **{"taskmanager.cpu.cores": "1"})
    cluster.wait_taskmanagers(1)
    program = tmp_path / "short.py"
    program.write_text(SHORT_JOB)
    for name in ("first short job", "second short job"):  # ends right after it starts: labels close together
        job_id = cluster.run_detached(program, name, parallelism=1)
        cluster.wait_state(job_id, ("FINISHED",))
    page.set_extra_http_headers(cluster.auth)

    page.goto(f"{cluster.rest}/#/taskmanagers")
    row = page.locator("main table tbody tr", has_text="tm-one-core")
    expect(row.locator("td").nth(3)).to_have_text("1")  # CPU cores: its one core, not the machine's
    page.screenshot(path=str(SHOTS / "jm-taskmanager-cores.png"), full_page=True)

    page.goto(f"{cluster.rest}/#/resources")
    labels = page.locator("#allocation-timeline .job-label")
    expect(labels).to_have_count(4)
    # Measured in one go: the dashboard redraws the chart every refresh, so element handles go stale.
    geometry = page.locator("#allocation-timeline").evaluate("""svg => {
        const box = (e) => { const r = e.getBoundingClientRect(); return {x: r.x, y: r.y, width: r.width,
                                                                          height: r.height}; };
        return {chart: box(svg), labels: [...svg.querySelectorAll('.job-label')].map(box),
                ticks: [...svg.querySelectorAll('.time-tick')].map(box)};
    }""")
    chart, boxes, ticks = geometry["chart"], geometry["labels"], geometry["ticks"]
    assert len(boxes) == 4 and len(ticks) == 7, geometry
    for i, a in enumerate(boxes):
        assert a["x"] >= chart["x"] - 1 and a["x"] + a["width"] <= chart["x"] + chart["width"] + 1, a
        for b in boxes[i + 1:]:
            apart = (a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"] or
                     a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"])
            assert apart, f"job labels overlap: {a} {b}"
    for box in (ticks[0], ticks[-1]):
        assert chart["x"] - 1 <= box["x"] and box["x"] + box["width"] <= chart["x"] + chart["width"] + 1, box
    page.screenshot(path=str(SHOTS / "jm-allocation-timeline-labels.png"), full_page=True)
