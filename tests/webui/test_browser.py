"""The web UIs in headless Chromium (Debian's /usr/bin/chromium, driven by playwright), on a real Flink
per-job cluster on YARN (an RM under token auth with ACLs on, as the minicluster runs it, two NMs, a JobManager
AM and two TaskManager containers): the browser logs in with the link the minicluster prints; the RM's /cluster
lists the running word count; its tracking link leads through the RM's /proxy/<appId>/ to the Flink
dashboard with 2 TaskManagers and 4 slots; a TaskManager's stdout shows the counts; the allocation timeline
has points; the dashboard's cancel button cancels the job, the dashboard says so although the JobManager
exits right after, and YARN shows the application FINISHED with final status KILLED. An app named
<script>…</script> must show as text and never run.

Screenshots land in artifacts/screenshots/. Install the browser with scripts/install-browser.sh."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.flink_yarn.conftest import ROOT
from tests.integration.conftest import wait_for
from tests.webui import secure_cluster
from tests.webui.conftest import IDLE_AM, XSS_NAME, LineServer, run_wordcount
from tests.webui.secure_cluster import SecureFlinkOnYarn, submit_app

secure_flink_yarn = secure_cluster.secure_flink_yarn  # fixture

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = ROOT / "artifacts" / "screenshots"

pytestmark = [
    pytest.mark.integration, pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="browser tests need Debian's chromium at /usr/bin/chromium: "
                                                     "run scripts/install-browser.sh"),
]


@pytest.fixture
def browser_page() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (the dev extra)")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                     args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.set_default_timeout(20_000)
            yield page
        finally:
            browser.close()


def test_rm_ui_to_the_dashboard_of_a_per_job_cluster(secure_flink_yarn: SecureFlinkOnYarn, hello_lines: LineServer,
                                                     browser_page: Any) -> None:
    from playwright.sync_api import expect

    page = browser_page
    flink_yarn = secure_flink_yarn
    yarn = flink_yarn.yarn
    auth = yarn.headers()
    SHOTS.mkdir(parents=True, exist_ok=True)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    xss_app = submit_app(yarn, XSS_NAME, f"$PYTHON {IDLE_AM}")
    app_id, job_id = run_wordcount(flink_yarn, hello_lines, parallelism=4, slots=2)
    yarn.wait_app_state(xss_app, "RUNNING")
    proxy = f"{yarn.rm_url}/proxy/{app_id}/"

    # Not logged in: the login page. The link the minicluster prints logs in and opens /cluster.
    page.goto(f"{yarn.rm_url}/cluster")
    page.wait_for_url(re.compile(r".*/login\?next=%2Fcluster$"))
    page.goto(f"{yarn.rm_url}/login?token={yarn.token()}")
    page.wait_for_url(f"{yarn.rm_url}/cluster")
    # RM: /cluster with both nodes and both apps; the <script> name is text, also after a polling refresh.
    for node in yarn.running_nodes():
        expect(page.locator("#nodes-body")).to_contain_text(node["id"])
    expect(page.locator("#apps-body .app-name", has_text=XSS_NAME)).to_have_count(1)
    page.wait_for_timeout(1500)  # at least one polling refresh has rebuilt the tables
    expect(page.locator("#apps-body .app-name", has_text=XSS_NAME)).to_have_count(1)
    assert page.locator("#apps-body script").count() == 0
    # The running per-job word count: an "Apache Flink" application RUNNING, with a tracking UI.
    flink_rows = (page.locator("#apps-body tr").filter(has_text="Apache Flink").filter(has_text="RUNNING")
                  .filter(has_text="ApplicationMaster").filter(has_not_text=XSS_NAME))
    expect(flink_rows).to_have_count(1)
    row = flink_rows.first
    expect(row.locator("a.app-link")).to_have_text(app_id)
    expect(row.locator(".app-name")).to_have_text("Flink per-job cluster")
    page.screenshot(path=str(SHOTS / "rm-cluster.png"), full_page=True)

    # Its application page: the attempt and the live containers (the JobManager AM and 2 TaskManagers).
    row.locator("a.app-link").click()
    expect(page.locator(".app-title")).to_have_text("Flink per-job cluster")
    expect(page.locator("#attempts-body")).to_contain_text("RUNNING")
    expect(page.locator("#containers-body tr")).to_have_count(3)
    expect(page.locator("#containers-body tr", has_text="_000001")).to_contain_text("AM")
    page.screenshot(path=str(SHOTS / "rm-app.png"), full_page=True)
    page.go_back()

    # Its tracking link: the RM's proxy, serving the JobManager's dashboard.
    # The page load comes back at a capability URL (the sandboxed dashboard's relative URLs carry it).
    row.get_by_role("link", name="ApplicationMaster").click()
    page.wait_for_url(re.compile(re.escape(proxy) + r"~[A-Za-z0-9_.-]+/$"))
    dashboard = page.url
    cards = page.locator("#overview-cards")
    expect(cards.locator(".card", has_text="Task Managers")).to_contain_text("2")
    expect(cards.locator(".card", has_text="Task slots")).to_contain_text("0 / 4")
    expect(page.locator(".job-link", has_text="StreamWordCount")).to_have_count(1)
    page.screenshot(path=str(SHOTS / "jm-overview.png"), full_page=True)

    # The TaskManagers (YARN containers of this application); the one that counts "hello" shows it.
    page.locator("#nav a", has_text="Task Managers").click()
    tm_rows = page.locator("main table tbody tr")
    expect(tm_rows).to_have_count(2)
    for i in range(2):
        expect(tm_rows.nth(i).locator("a.tm-link")).to_contain_text(f"container_{app_id.removeprefix('application_')}")
        expect(tm_rows.nth(i).locator("td").nth(1)).to_have_text("2")
    page.screenshot(path=str(SHOTS / "jm-taskmanagers.png"), full_page=True)
    tms = [t["id"] for t in httpx.get(proxy + "taskmanagers", headers=auth, timeout=5).json()["taskmanagers"]]
    counter = wait_for("(hello, in a TaskManager's stdout", lambda: next(
        (t for t in tms if "(hello," in httpx.get(f"{proxy}taskmanagers/{t}/stdout", headers=auth, timeout=5).text),
         None), timeout=30)
    page.locator("main tr", has_text=counter).get_by_role("link", name="stdout").click()
    expect(page.locator("#tm-output")).to_contain_text("(hello,3)")
    assert page.url == f"{dashboard}#/taskmanagers/{counter}/stdout"
    page.screenshot(path=str(SHOTS / "jm-taskmanager-stdout.png"), full_page=True)

    # The allocation timeline: 2 TaskManagers requested, allocated, registered; slots to the job.
    page.locator("#nav a", has_text="Allocation timeline").click()
    expect(page.locator("#allocation-timeline circle.point")).not_to_have_count(0)
    expect(page.locator("#allocation-timeline .job-start")).to_have_count(1)
    expect(page.locator("#allocation-timeline .series-tmRegistered")).to_have_count(1)
    page.screenshot(path=str(SHOTS / "jm-allocation-timeline.png"), full_page=True)

    # The job, then the cancel button: the job is CANCELED although the per-job JobManager exits right after.
    page.locator("#nav a", has_text="Overview").click()
    page.locator(".job-link", has_text="StreamWordCount").click()
    expect(page.locator("#job-graph g.vertex")).not_to_have_count(0)
    expect(page.locator("#job-graph")).to_contain_text("Parallelism: 4")
    expect(page.locator("#job-graph")).to_contain_text("Records in: 6")  # 3 lines, 6 words
    # The vertex table's measured figures: bytes the sink read, its busy/idle/back-pressured times.
    expect(page.locator("main table").first).to_contain_text("Back-pressured")
    expect(page.locator("main tr", has_text="Keyed Aggregation")).to_contain_text(re.compile(r"\d+(\.\d)? K?B"))
    expect(page.locator("#job-state")).to_have_text("RUNNING")
    page.screenshot(path=str(SHOTS / "jm-job-running.png"), full_page=True)
    page.locator("#cancel-job").click()
    expect(page.locator("#job-state")).to_have_text("CANCELED", timeout=15_000)
    report = yarn.wait_app_state(app_id, "FINISHED", "FAILED", "KILLED")
    assert (report["state"], report["finalStatus"]) == ("FINISHED", "KILLED"), report
    expect(page.locator("#cluster-ended")).to_contain_text(f"{app_id} is FINISHED with final status KILLED")
    expect(page.locator("#cancel-job")).to_be_disabled()
    page.screenshot(path=str(SHOTS / "jm-job-canceled.png"), full_page=True)

    # From the dashboard back to YARN: the application page shows it FINISHED / KILLED.
    page.locator("#yarn-app-link").click()
    page.wait_for_url(f"{yarn.rm_url}/cluster/app/{app_id}")
    expect(page.locator(".app-title")).to_have_text("Flink per-job cluster")
    expect(page.locator("#app-state .badge")).to_have_text(["FINISHED", "KILLED"])
    expect(page.locator("#diagnostics")).to_contain_text(f"Job {job_id} ended CANCELED")
    # Its containers, all completed now: the JobManager's and both TaskManagers', with their exit statuses.
    expect(page.locator("#containers-body tr")).to_have_count(3)
    expect(page.locator("#containers-body")).not_to_contain_text("RUNNING")
    expect(page.locator("#containers-body")).to_contain_text("COMPLETE exit")
    page.screenshot(path=str(SHOTS / "rm-app-killed.png"), full_page=True)
    # Its tracking link ("History"): the JobManager is gone and there is no history server, so its AM
    # container's logs (the NM's while it keeps them, then the aggregated ones), not this page again.
    am_container = f"container_{app_id.removeprefix('application_')}_01_000001"
    page.locator("a.tracking-link", has_text="History").click()
    page.wait_for_url(re.compile(rf".*/(node/[^/]+/containerlogs|logs/[^/]+)/{am_container}/.*"))
    expect(page.locator("#log-files a.log-file")).not_to_have_count(0)
    page.go_back()
    page.wait_for_url(f"{yarn.rm_url}/cluster/app/{app_id}")

    page.goto(f"{yarn.rm_url}/cluster/app/{xss_app}")
    expect(page.locator(".app-title")).to_have_text(XSS_NAME)
    # Kill from the application page, as `yarn application -kill` would: two clicks, then KILLED.
    page.locator("#kill-app").click()
    expect(page.locator("#kill-app")).to_have_text("Click again to kill")
    page.locator("#kill-app").click()
    expect(page.locator("#app-state .badge")).to_have_text(["KILLED", "KILLED"], timeout=15000)
    expect(page.locator("#kill-app")).to_have_count(0)
    page.goto(f"{yarn.rm_url}/cluster/scheduler")
    expect(page.locator("#queues-body")).to_contain_text("root")
    page.goto(f"{yarn.rm_url}/cluster/nodes")
    expect(page.locator("#nodes-body tr")).to_have_count(2)
    page.screenshot(path=str(SHOTS / "rm-nodes.png"), full_page=True)

    assert dialogs == [], f"a script ran in the page: {dialogs}"
    print(f"\nscreenshots: {SHOTS}")
