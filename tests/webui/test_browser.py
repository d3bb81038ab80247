"""The web UIs in headless Chromium (Debian's /usr/bin/chromium, driven by playwright): the RM's /cluster
pages with nodes and apps, an application page, and the JobManager dashboard through the RM's
/proxy/<appId>/ with a running socket word count: TaskManagers and slots, a TM's stdout, cancel, the
allocation timeline. An app named <script>…</script> must show as text and never run.

Screenshots land in artifacts/screenshots/. Install the browser with scripts/install-browser.sh."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.flink.conftest import ROOT, FlinkCluster
from tests.flink.conftest import wait_for as flink_wait
from tests.integration.conftest import Cluster
from tests.webui.conftest import SHIM, XSS_NAME, submit_app, submit_shim

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = ROOT / "artifacts" / "screenshots"

pytestmark = [
    pytest.mark.integration, pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="browser tests need Debian's chromium at /usr/bin/chromium: "
                                                     "run scripts/install-browser.sh"),
]


class LineServer:
    """`nc -lk`: the word count's socket source connects here and reads what the test types."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.conn: socket.socket | None = None
        self.accepted = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        try:
            self.conn, _ = self.server.accept()
        except OSError:
            return
        self.accepted.set()

    def type(self, line: str) -> None:
        assert self.conn is not None
        self.conn.sendall((line + "\n").encode())

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.server.close()


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


def test_rm_ui_and_jobmanager_dashboard(cluster: Cluster, flink: Callable[..., FlinkCluster],
                                        browser_page: Any) -> None:
    from playwright.sync_api import expect

    page = browser_page
    SHOTS.mkdir(parents=True, exist_ok=True)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    nc = LineServer()
    try:
        jm = flink(tms=1, slots=2)
        xss_app = submit_app(cluster, XSS_NAME, f"$PYTHON {SHIM}")
        app_id = submit_shim(cluster, "Flink session cluster", jm.rest)
        cluster.wait_app_state(xss_app, "RUNNING")
        res = jm.miniflink("run", "-m", jm.rest.removeprefix("http://"), "-p", "2", "-d", "-py",
                           str(ROOT / "examples/wordcount.py"), "--hostname", "127.0.0.1", "--port", str(nc.port))
        assert res.returncode == 0, res.stderr
        job_id = res.stdout.split("JobID ")[1].split()[0]
        assert nc.accepted.wait(30), "the socket source never connected"
        jm.wait_state(job_id, ("RUNNING",))
        for line in ("hello world", "hello java", "hello flink"):
            nc.type(line)

        # RM: /cluster with nodes and both apps; the <script> name is text.
        page.goto(f"{cluster.rm_url}/cluster")
        for node in cluster.running_nodes():
            expect(page.locator("#nodes-body")).to_contain_text(node["id"])
        expect(page.locator("#apps-body")).to_contain_text("Flink session cluster")
        expect(page.locator("#apps-body .app-name", has_text=XSS_NAME)).to_have_count(1)
        page.wait_for_timeout(1500)  # at least one polling refresh has rebuilt the tables
        expect(page.locator("#apps-body .app-name", has_text=XSS_NAME)).to_have_count(1)
        assert page.locator("#apps-body script").count() == 0
        page.screenshot(path=str(SHOTS / "rm-cluster.png"), full_page=True)

        # The application page: attempts, live containers, logs link.
        page.locator("#apps-body a.app-link", has_text=app_id).click()
        expect(page.locator(".app-title")).to_have_text("Flink session cluster")
        expect(page.locator("#containers-body")).to_contain_text("_000001")
        expect(page.locator("#attempts-body")).to_contain_text("RUNNING")
        page.screenshot(path=str(SHOTS / "rm-app.png"), full_page=True)
        page.goto(f"{cluster.rm_url}/cluster/app/{xss_app}")
        expect(page.locator(".app-title")).to_have_text(XSS_NAME)
        page.goto(f"{cluster.rm_url}/cluster/scheduler")
        expect(page.locator("#queues-body")).to_contain_text("root")
        page.goto(f"{cluster.rm_url}/cluster/nodes")
        expect(page.locator("#nodes-body tr")).to_have_count(2)
        page.screenshot(path=str(SHOTS / "rm-nodes.png"), full_page=True)

        # The JobManager dashboard through the RM's proxy.
        proxy = f"{cluster.rm_url}/proxy/{app_id}/"
        page.goto(proxy)
        cards = page.locator("#overview-cards")
        expect(cards).to_contain_text("Task Managers")
        expect(cards.locator(".card", has_text="Task slots")).to_contain_text("0 / 2")
        expect(page.locator(".job-link", has_text="StreamWordCount")).to_have_count(1)
        page.screenshot(path=str(SHOTS / "jm-overview.png"), full_page=True)

        page.goto(proxy + "#/taskmanagers")
        tm_link = page.locator("a.tm-link").first
        expect(tm_link).to_have_text("tm-0")
        expect(page.locator("main table tbody tr").first).to_contain_text("2")
        tm_link.click()
        expect(page.locator("#tm-output")).to_contain_text("(hello,", timeout=30_000)
        assert page.url.startswith(proxy)
        page.screenshot(path=str(SHOTS / "jm-taskmanager-stdout.png"), full_page=True)

        page.goto(proxy + f"#/jobs/{job_id}")
        expect(page.locator("#job-graph g.vertex")).not_to_have_count(0)
        expect(page.locator("#job-graph")).to_contain_text("Parallelism: 2")
        expect(page.locator("#job-graph")).to_contain_text("Records in: 6", timeout=15_000)  # 3 lines, 6 words
        page.screenshot(path=str(SHOTS / "jm-job-running.png"), full_page=True)
        page.locator("#cancel-job").click()
        expect(page.locator("#job-state")).to_have_text("CANCELED", timeout=30_000)
        page.screenshot(path=str(SHOTS / "jm-job-canceled.png"), full_page=True)
        flink_wait(lambda: jm.get(f"/jobs/{job_id}")["state"] == "CANCELED", 5, "CANCELED over REST")

        page.goto(proxy + "#/resources")
        expect(page.locator("#allocation-timeline circle.point")).not_to_have_count(0)
        expect(page.locator("#allocation-timeline .job-start")).to_have_count(1)
        expect(page.locator("#allocation-timeline .job-end")).to_have_count(1)
        page.screenshot(path=str(SHOTS / "jm-allocation-timeline.png"), full_page=True)

        assert dialogs == [], f"a script ran in the page: {dialogs}"
        print(f"\nscreenshots: {SHOTS}")
    finally:
        nc.close()
