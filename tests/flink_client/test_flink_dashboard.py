"""Apache Flink's own web dashboard (its static files, taken from the apache-flink wheel's flink-dist jar at
test time, never committed) in headless Chromium against our JobManager: a small front server serves the
files and forwards every other path to the JobManager's REST API with the cluster secret, as Flink's own
JobManager serves both. The Overview page (Flink 2.3's applications and the cluster's slots), the running
jobs list, the job's graph and vertex table with measured figures (bytes, busy and back-pressured time:
no "undefined" left), a vertex's back-pressure and watermarks tabs, the TaskManagers list, a TaskManager's
memory and garbage collection panel, the JobManager's metrics panel and the thread dumps render, and the
Cancel button cancels (GET yarn-cancel). Every API call the pages make is answered without an error."""

from __future__ import annotations

import threading
import zipfile
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.flink.conftest import ROOT, FlinkCluster, wait_for
from tests.flink_client.conftest import flink_home
from tests.line_server import LineServer

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [pytest.mark.integration, pytest.mark.flink_client, pytest.mark.browser,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium "
                                                                 "(scripts/install-browser.sh)")]


def dashboard_files(dest: Path) -> Path:
    home = flink_home()
    if home is None:
        pytest.skip("no Flink jars: the dashboard files come from the apache-flink wheel's flink-dist jar "
                    "(.ci/run installs it and sets $MINIFLINK_TEST_FLINK_HOME)")
    [dist] = sorted((home / "lib").glob("flink-dist-*.jar"))
    with zipfile.ZipFile(dist) as jar:
        for name in jar.namelist():
            if name.startswith("web/") and not name.endswith("/"):
                jar.extract(name, dest)
    return dest / "web"


class Front:
    """Static files from `web`, everything else forwarded to `rest` with `auth`."""

    def __init__(self, web: Path, rest: str, auth: dict[str, str]) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                path = self.path.split("?", 1)[0]
                f = (web / (path.lstrip("/") or "index.html")).resolve()
                if self.command == "GET" and f.is_relative_to(web.resolve()) and f.is_file():
                    body = f.read_bytes()
                    ctype = {".js": "text/javascript", ".css": "text/css", ".html": "text/html",
                             ".svg": "image/svg+xml"}.get(f.suffix, "application/octet-stream")
                    self._reply(200, body, ctype)
                    return
                length = int(self.headers.get("content-length") or 0)
                data = self.rfile.read(length) if length else None
                headers = {**auth, "content-type": self.headers.get("content-type") or "application/json"}
                r = httpx.request(self.command, rest + self.path, content=data, headers=headers, timeout=10)
                outer.calls.append((self.command, path, r.status_code))
                self._reply(r.status_code, r.content, r.headers.get("content-type", "application/json"))

            def _reply(self, status: int, body: bytes, ctype: str) -> None:
                self.send_response(status)
                self.send_header("content-type", ctype)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_PATCH = do_POST = _serve

            def log_message(self, *args: Any) -> None:
                pass

        self.calls: list[tuple[str, str, int]] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def browser_page() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (the dev extra)")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.set_default_timeout(20_000)
            yield page
        finally:
            browser.close()


def test_flinks_own_dashboard_against_our_jobmanager(flink: Callable[..., FlinkCluster], tmp_path: Path,
                                                     browser_page: Any) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=20_000)  # the page's own default: two shared cores render slowly

    web = dashboard_files(tmp_path / "dashboard")
    cluster = flink(tms=1, slots=2)
    nc = LineServer(["hello world", "hello flink"])
    front = Front(web, cluster.rest, cluster.auth)
    page = browser_page
    try:
        res = cluster.miniflink("run", "-m", cluster.rest, "-p", "2", "-d", "-py", str(ROOT / "examples/wordcount.py"),
                                "--hostname", "127.0.0.1", "--port", str(nc.port))
        assert res.returncode == 0, res.stderr
        jid = res.stdout.split("JobID ")[1].split()[0]
        cluster.wait_state(jid, ("RUNNING",))

        page.goto(front.url + "/#/overview")
        expect(page.get_by_text("Running Application List").first).to_be_visible()
        expect(page.get_by_text("StreamWordCount").first).to_be_visible()
        expect(page.get_by_text("Total Task Slots").first).to_be_visible()
        page.goto(front.url + "/#/job/running")
        expect(page.get_by_text("StreamWordCount").first).to_be_visible()
        page.goto(front.url + f"/#/job/running/{jid}/overview")
        expect(page.get_by_text("StreamWordCount").first).to_be_visible()
        # The job graph's nodes and the vertex table, with the records the sink has read (the sum of its
        # subtasks' reports, as the REST answers it).
        vertices = cluster.get(f"/jobs/{jid}")["vertices"]
        for v in vertices:
            expect(page.get_by_text(v["name"]).first).to_be_visible()
        wait_for(lambda: cluster.get(f"/jobs/{jid}")["vertices"][-1]["metrics"]["read-records"] >= 4, 30,
                 "the sink's records")
        page.reload()
        expect(page.locator("nz-table, table").first).to_be_visible()
        # The graph's nodes and the vertex table show measured figures: busy and back-pressured shares,
        # bytes received (the sink's, as the REST answers them), nothing left "undefined".
        expect(page.get_by_text("Backpressured (max): 0%").first).to_be_visible()
        expect(page.get_by_text("Busy (max): N/A").first).to_be_visible()  # the source's is not measured
        expect(page.get_by_text("Bytes Received").first).to_be_visible()
        sink = cluster.get(f"/jobs/{jid}")["vertices"][-1]
        assert sink["metrics"]["read-bytes"] > 0
        for text in ("undefined", "NaN", "loading"):
            assert text not in page.inner_text("body"), text
        page.goto(front.url + f"/#/job/running/{jid}/overview/{sink['id']}/backpressure")
        expect(page.get_by_text("Back Pressure Status: OK").first).to_be_visible()
        page.goto(front.url + f"/#/job/running/{jid}/overview/{sink['id']}/watermarks")
        expect(page.get_by_text("No Watermark").first).to_be_visible()
        page.goto(front.url + "/#/task-manager")
        expect(page.get_by_text("tm-0").first).to_be_visible()
        page.goto(front.url + "/#/task-manager/tm-0/metrics")
        expect(page.get_by_text("Memory").first).to_be_visible()
        expect(page.get_by_text("Garbage Collection").first).to_be_visible()
        expect(page.get_by_text("gen0").first).to_be_visible()
        page.screenshot(path=str(tmp_path / "flink-dashboard-tm.png"))
        page.goto(front.url + "/#/task-manager/tm-0/thread-dump")
        wait_for(lambda: ("GET", "/taskmanagers/tm-0/thread-dump", 200) in front.calls, 20, "the thread dump")
        # The dump shows in the page's editor: the TaskManager's main thread, innermost frame first.
        expect(page.locator(".monaco-editor").first).to_contain_text('"MainThread"')
        page.goto(front.url + "/#/job-manager/metrics")
        expect(page.get_by_text("JVM (Heap/Non-Heap) Memory").first).to_be_visible()
        expect(page.get_by_text("gen0").first).to_be_visible()
        page.goto(front.url + f"/#/job/running/{jid}/overview")
        page.get_by_text("Cancel Job").first.click()
        confirm = page.get_by_role("button", name="Yes")
        if confirm.count():
            confirm.first.click()
        wait_for(lambda: cluster.get(f"/jobs/{jid}")["state"] == "CANCELED", 30, "the dashboard's Cancel")
        assert ("GET", f"/jobs/{jid}/yarn-cancel", 202) in front.calls
        for path in ("/applications/overview", f"/jobs/{jid}/vertices/{sink['id']}/backpressure",
                     f"/jobs/{jid}/vertices/{sink['id']}/watermarks", "/taskmanagers/tm-0/thread-dump",
                     "/jobmanager/metrics"):
            assert ("GET", path, 200) in front.calls, path
        # Every API call the dashboard made on these pages was answered (no 404/405/500 left).
        assert not [c for c in front.calls if c[2] >= 400 and c[1] != f"/jobs/{jid}/yarn-cancel"], front.calls
    finally:
        front.close()
        nc.close()
