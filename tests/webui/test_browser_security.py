"""Browser attacks on the RM's origin, in headless Chromium against a real RM under token auth (tests.security's
`secure_rm`): a cross-site page (another loopback port, so the SameSite=Strict cookie *is* sent) tries to kill
an application and to submit one, and to post a job through `/proxy/<appId>/jobs` with `fetch` and a
`text/plain` form; an ApplicationMaster's own page under `/proxy/` tries to kill another application with
the user's cookie. Each must fail, the victim keep running, and the RM log the refusal."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests.integration.conftest import wait_for
from tests.security import rm_web
from tests.security.rm_web import SecureRM
from tests.webui import test_browser
from tests.webui.test_browser import CHROMIUM

secure_rm = rm_web.secure_rm  # fixture
browser_page = test_browser.browser_page  # fixture

pytestmark = [
    pytest.mark.integration, pytest.mark.browser, pytest.mark.timeout(180),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="browser tests need Debian's chromium at /usr/bin/chromium: "
                                                     "run scripts/install-browser.sh"),
]

ATTACK = """<!doctype html><html><head><meta charset="utf-8"><title>cute cats</title></head><body>
<form id="submit" method="POST" action="RM/ws/v1/cluster/apps" enctype="text/plain" target="sink1">
<input name='SUBMISSION_HEAD' value='SUBMISSION_TAIL'></form>
<form id="job" method="POST" action="RM/proxy/VICTIM/jobs" enctype="text/plain" target="sink2">
<input name='{"jobGraph": "' value='pickled"}'></form>
<iframe name="sink1"></iframe><iframe name="sink2"></iframe>
<p id="status">running</p>
<script>
const out = [];
async function attack() {
  const tries = [
    ["PUT", "RM/ws/v1/cluster/apps/VICTIM/state", "application/json", JSON.stringify({state: "KILLED"}), "cors"],
    ["POST", "RM/ws/v1/cluster/apps", "text/plain", SUBMISSION_JSON, "no-cors"],
    ["POST", "RM/proxy/VICTIM/jobs", "text/plain", "{}", "no-cors"],
  ];
  for (const [method, url, type, body, mode] of tries) {
    try {
      const r = await fetch(url, {method, mode, credentials: "include", headers: {"Content-Type": type}, body});
      out.push(`${method} ${url} ${r.type} ${r.status}`);
    } catch (e) { out.push(`${method} ${url} blocked ${e.name}`); }
  }
  document.getElementById("submit").submit();
  document.getElementById("job").submit();
  document.getElementById("status").textContent = "done";
}
attack();
</script></body></html>"""


class AttackerSite:
    """A page served from another loopback port: another origin, the same site (cookies flow)."""

    def __init__(self, page: str) -> None:
        body = page.encode()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _kill(rm: SecureRM, *app_ids: str) -> None:
    with rm.client("alice") as alice:
        for app_id in app_ids:
            alice.put(f"/ws/v1/cluster/apps/{app_id}/state", json={"state": "KILLED"})


def test_a_cross_site_page_cannot_kill_submit_or_post_jobs(secure_rm: SecureRM, browser_page: Any) -> None:
    page = browser_page
    victim = secure_rm.web_am("alice", "echo")
    with secure_rm.client("alice") as alice:
        free_id = alice.post("/ws/v1/cluster/apps/new-application").json()["application-id"]
    submission = {"application-id": free_id, "am-container-spec": {"commands": {"command": "touch /tmp/pwned"}}}
    text = json.dumps(submission)
    head, tail = text[:-1] + ', "x": "', '"}'  # a text/plain form posts `name=value`: JSON around the '='
    site = AttackerSite(ATTACK.replace("RM/", f"{secure_rm.url}/").replace("VICTIM", victim)
                        .replace("SUBMISSION_JSON", json.dumps(text)).replace("SUBMISSION_HEAD", head)
                        .replace("SUBMISSION_TAIL", tail))
    try:
        page.goto(f"{secure_rm.url}/login?token={secure_rm.token('alice')}")
        page.wait_for_url(f"{secure_rm.url}/cluster")
        page.goto(site.url)
        page.wait_for_function("document.getElementById('status').textContent === 'done'")
        page.wait_for_timeout(2000)  # the forms' posts land in their iframes
    finally:
        site.close()
    assert secure_rm.app(victim)["state"] == "RUNNING"
    with secure_rm.client("alice") as alice:
        assert alice.get(f"/ws/v1/cluster/apps/{free_id}").status_code == 404  # nothing was submitted
        seen = alice.get(f"/proxy/{victim}/seen").json()
    assert not any(s.startswith("POST") for s in seen), seen  # no job graph reached the JobManager
    log = secure_rm.log()
    assert "Refused POST /ws/v1/cluster/apps from" in log and "cross-origin request from http://127.0.0.1" in log
    assert f"Refused POST /proxy/{victim}/jobs" in log
    _kill(secure_rm, victim)


def test_an_am_page_under_the_proxy_cannot_act_on_the_rm_origin(secure_rm: SecureRM, browser_page: Any) -> None:
    page = browser_page
    victim = secure_rm.web_am("alice", "echo")
    evil = secure_rm.web_am("alice", "page", victim=victim)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{secure_rm.url}/login?token={secure_rm.token('alice')}")
    page.wait_for_url(f"{secure_rm.url}/cluster")
    page.goto(f"{secure_rm.url}/proxy/{evil}/")
    page.wait_for_function("document.getElementById('status').textContent.startsWith('done')")
    status = page.locator("#status").text_content() or ""
    assert "/state 200" not in status and "/state 202" not in status, status
    assert "cookie error SecurityError" in status, status  # an opaque origin: no access to the RM's cookies
    assert secure_rm.app(victim)["state"] == "RUNNING"
    with httpx.Client(base_url=secure_rm.url, headers={"Authorization": f"Bearer {secure_rm.token('alice')}"},
                      timeout=10) as alice:
        [report] = wait_for("the page's report", lambda: alice.get(f"/proxy/{evil}/report").json())
    assert "/state 200" not in report and "/state 202" not in report, report
    _kill(secure_rm, victim, evil)


def test_an_expired_login_goes_back_to_the_login_page(secure_rm: SecureRM, browser_page: Any) -> None:
    page = browser_page
    page.goto(f"{secure_rm.url}/login?token={secure_rm.token('alice')}")
    page.wait_for_url(f"{secure_rm.url}/cluster")
    page.context.clear_cookies()  # as if the cookie had expired
    page.wait_for_url(f"{secure_rm.url}/login?next=%2Fcluster", timeout=10_000)  # the next poll says 401
    page.locator("#token").fill(secure_rm.token("alice"))
    page.locator("#login-submit").click()
    page.wait_for_url(f"{secure_rm.url}/cluster")
