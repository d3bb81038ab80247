"""Attacks on the ResourceManager's HTTP side (issue 9: attack 2, the proxy, ACL and RM "Low" items), each
performed against a real RM (token auth, ACLs on, as the minicluster runs it) and a real NM, and each
asserted refused with YARN's error body, and logged where the issue says so."""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from miniyarn.cli.main import main
from miniyarn.security import tokens
from miniyarn.sockets import free_port
from resourcemanager.cli import add_arguments
from tests.conftest import Processes
from tests.integration.conftest import start_rm, wait_for
from tests.security import rm_web
from tests.security.rm_web import ADMIN, SecureRM

secure_rm = rm_web.secure_rm  # the module's fixture

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

SLEEP = "sleep 120"
HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)">'


def remote(r: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = r.json()["RemoteException"]
    return body


def no_internals(text: str) -> None:
    for marker in ("Traceback", "pydantic", "RecursionError", "('", "File \"/"):
        assert marker not in text, text


def raw_http(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
        return out


# ---- authentication ------------------------------------------------------------------------------------

def test_no_token_is_401_on_rest_and_a_login_redirect_in_a_browser(secure_rm: SecureRM) -> None:
    with secure_rm.client() as anon:
        for path in ("/ws/v1/cluster/apps", "/ws/v1/cluster/nodes", "/metrics", "/proxy/application_1_0001/",
                     "/node/127.0.0.1:1/"):
            r = anon.get(path)
            assert r.status_code == 401, (path, r.text)
            assert r.headers["www-authenticate"] == "Bearer"
            exc = remote(r)
            assert exc["exception"] == "AuthenticationException"
            assert exc["javaClassName"] == "org.apache.hadoop.security.authentication.client.AuthenticationException"
        # Attack 2: POST /apps without a credential runs nothing.
        r = anon.post("/ws/v1/cluster/apps/new-application")
        assert r.status_code == 401
        r = anon.post("/ws/v1/cluster/apps", json={"application-id": "application_1_0001",
                                                  "am-container-spec": {"commands": {"command": "touch /tmp/x"}}})
        assert r.status_code == 401
        # user.name is not a credential under token auth.
        assert anon.get("/ws/v1/cluster/apps", params={"user.name": ADMIN}).status_code == 401
        page = anon.get("/cluster/apps", headers={"Accept": "text/html"})
        assert page.status_code == 302 and page.headers["location"] == "/login?next=%2Fcluster%2Fapps"
        assert anon.get("/health").status_code == 200
        assert anon.get("/login").status_code == 200 and 'name="token"' in anon.get("/login").text
    assert "Unauthenticated POST /ws/v1/cluster/apps" in secure_rm.log()


def test_forged_expired_and_garbage_tokens_are_refused(secure_rm: SecureRM) -> None:
    forged = tokens.sign(b"not-the-cluster-secret", ADMIN)
    expired = tokens.sign(secure_rm.secret, ADMIN, ttl_s=-10)
    for token, why in ((forged, "Invalid signature"), (expired, "expired"), ("Zm9vYmFy", "Invalid signed text")):
        r = httpx.get(f"{secure_rm.url}/ws/v1/cluster/apps", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401 and why in remote(r)["message"], r.text
    # A cookie forged the same way is refused too.
    r = httpx.get(f"{secure_rm.url}/ws/v1/cluster/apps",
                  cookies={"hadoop.auth": tokens.cookie_value(b"not-the-cluster-secret", ADMIN)})
    assert r.status_code == 401


def test_login_sets_a_signed_httponly_strict_cookie_and_logout_clears_it(secure_rm: SecureRM) -> None:
    with secure_rm.client() as browser:
        bad = browser.post("/login", data={"token": "nope", "next": "/cluster"})
        assert bad.status_code == 401 and "login-error" in bad.text
        r = browser.post("/login", data={"token": secure_rm.token("alice"), "next": "//evil.example/x"})
        assert r.status_code == 303 and r.headers["location"] == "/cluster"  # never an open redirect
        cookie = r.headers["set-cookie"]
        assert cookie.startswith("hadoop.auth=") and "HttpOnly" in cookie and "SameSite=strict" in cookie
        assert "Path=/" in cookie
        page = browser.get("/cluster", headers={"Accept": "text/html"})
        assert page.status_code == 200 and "Cluster overview" in page.text
        assert page.headers["x-frame-options"] == "DENY" and "frame-ancestors 'none'" in \
            page.headers["content-security-policy"]
        browser.get("/logout")
        assert browser.get("/cluster", headers={"Accept": "text/html"}).status_code == 302
    # The link the minicluster prints.
    with secure_rm.client() as browser:
        r = browser.get("/login", params={"token": secure_rm.token("alice")})
        assert r.status_code == 303 and r.headers["location"] == "/cluster"
        assert browser.get("/ws/v1/cluster/apps").status_code == 200


def test_the_submitter_is_the_token_user_not_user_name(secure_rm: SecureRM) -> None:
    app_id = secure_rm.submit("alice", SLEEP, params={"user.name": ADMIN})
    assert secure_rm.app(app_id)["user"] == "alice"
    with secure_rm.client("alice") as alice:
        alice.put(f"/ws/v1/cluster/apps/{app_id}/state", json={"state": "KILLED"})


def test_miniyarn_token_round_trip_and_clear_errors(secure_rm: SecureRM, capsys: pytest.CaptureFixture[str]) -> None:
    creds_dir = str(secure_rm.credentials.dir)
    assert main(["token", "-user", "carol", "-validity", "600", "--credentials-dir", creds_dir]) == 0
    token = capsys.readouterr().out.strip()
    r = httpx.get(f"{secure_rm.url}/ws/v1/cluster/apps", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    assert main(["token", "-user", "carol", "--credentials-dir", "/nonexistent/creds"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("miniyarn token: Credentials directory /nonexistent/creds does not exist") and \
        err.count("\n") == 1


def test_cli_without_a_token_says_how_to_get_one(secure_rm: SecureRM, tmp_path: Path) -> None:
    env = {"MINIYARN_TOKEN_FILE": str(tmp_path / "none"), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "miniyarn.cli.main", "application", "-list", "--rm-address",
                          secure_rm.url], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "export MINIYARN_TOKEN=$(miniyarn token -user $USER)" in out.stderr and "Traceback" not in out.stderr
    env["MINIYARN_TOKEN"] = secure_rm.token("alice")
    ok = subprocess.run([sys.executable, "-m", "miniyarn.cli.main", "application", "-list", "--rm-address",
                         secure_rm.url], env=env, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    # Another user's -kill: one line in YARN's words (the CLI reads the report first: VIEW_APP), and the
    # application keeps running.
    app_id = secure_rm.submit("alice", SLEEP)
    env["MINIYARN_TOKEN"] = secure_rm.token("eve")
    kill = subprocess.run([sys.executable, "-m", "miniyarn.cli.main", "application", "-kill", app_id,
                           "--rm-address", secure_rm.url], env=env, capture_output=True, text=True, timeout=60)
    assert kill.returncode != 0 and kill.stderr == f"User eve cannot perform operation VIEW_APP on {app_id}\n"
    assert "Traceback" not in kill.stderr and secure_rm.app(app_id)["state"] not in ("KILLED", "FINISHED")
    with secure_rm.client("alice") as alice:
        alice.put(f"/ws/v1/cluster/apps/{app_id}/state", json={"state": "KILLED"})


# ---- ACLs -----------------------------------------------------------------------------------------------

def test_another_users_kill_is_403_and_logged_the_owner_admin_and_modify_acl_may(secure_rm: SecureRM) -> None:
    app_id = secure_rm.submit("alice", SLEEP, acls={"MODIFY_APP": "bob", "VIEW_APP": "bob"})
    with secure_rm.client("eve") as eve:
        r = eve.put(f"/ws/v1/cluster/apps/{app_id}/state", json={"state": "KILLED"})
        assert r.status_code == 403
        exc = remote(r)
        assert exc == {"exception": "AccessControlException",
                       "message": f"User eve cannot perform operation MODIFY_APP on {app_id}",
                       "javaClassName": "org.apache.hadoop.security.AccessControlException"}
    assert secure_rm.app(app_id)["state"] not in ("KILLED", "FINISHED", "FAILED")
    assert "USER=eve" in secure_rm.log() and f"APPID={app_id}" in secure_rm.log()
    with secure_rm.client("bob") as bob:  # named in MODIFY_APP
        assert bob.put(f"/ws/v1/cluster/apps/{app_id}/state", json={"state": "KILLED"}).status_code in (200, 202)
    assert secure_rm.wait_final(app_id)["state"] == "KILLED"
    other = secure_rm.submit("alice", SLEEP)
    with secure_rm.client(ADMIN) as admin:  # yarn.admin.acl
        assert admin.put(f"/ws/v1/cluster/apps/{other}/state", json={"state": "KILLED"}).status_code in (200, 202)


def test_view_acl_guards_reports_and_lists_show_only_what_yarn_shows(secure_rm: SecureRM) -> None:
    app_id = secure_rm.submit("alice", SLEEP, acls={"VIEW_APP": "bob"})
    wait_for("the AM to run", lambda: secure_rm.app(app_id)["runningContainers"] == 1)
    attempt = f"appattempt_{app_id.removeprefix('application_')}_000001"
    with secure_rm.client("eve") as eve:
        for path in (f"/ws/v1/cluster/apps/{app_id}", f"/ws/v1/cluster/apps/{app_id}/appattempts",
                     f"/ws/v1/cluster/apps/{app_id}/appattempts/{attempt}/containers", f"/cluster/app/{app_id}"):
            r = eve.get(path)
            assert r.status_code == 403 and remote(r)["message"] == \
                f"User eve cannot perform operation VIEW_APP on {app_id}", (path, r.text)
        [row] = [a for a in eve.get("/ws/v1/cluster/apps").json()["apps"]["app"] if a["id"] == app_id]
        assert row["user"] == "alice" and row["amContainerLogs"] == "" and row["amRPCAddress"] == "N/A"
        assert row["allocatedMB"] == 0 and row["trackingUrl"] == ""
        node, cid = secure_rm.app(app_id)["masterNodeId"], f"container_{app_id.removeprefix('application_')}_01_000001"
        r = eve.get(f"/node/{node}/containerlogs/{cid}/AppMaster.stderr")
        assert r.status_code == 403, r.text
    with secure_rm.client("bob") as bob:
        assert bob.get(f"/ws/v1/cluster/apps/{app_id}").status_code == 200
        assert bob.get(f"/ws/v1/cluster/apps/{app_id}/appattempts").status_code == 200
        assert bob.put(f"/ws/v1/cluster/apps/{app_id}/state", json={"state": "KILLED"}).status_code == 403
    with secure_rm.client("alice") as alice:
        alice.put(f"/ws/v1/cluster/apps/{app_id}/state", json={"state": "KILLED"})


def test_app_ids_cannot_be_squatted(secure_rm: SecureRM) -> None:
    with secure_rm.client("eve") as eve, secure_rm.client("alice") as alice:
        mine = eve.post("/ws/v1/cluster/apps/new-application").json()["application-id"]
        ts, seq = mine.removeprefix("application_").split("_")
        ahead = f"application_{ts}_{int(seq) + 1:04d}"
        body = {"application-id": ahead, "am-container-spec": {"commands": {"command": "true"}}}
        r = eve.post("/ws/v1/cluster/apps", json=body)
        assert r.status_code == 400 and "was not issued by this ResourceManager" in remote(r)["message"]
        theirs = alice.post("/ws/v1/cluster/apps/new-application").json()["application-id"]
        assert theirs == ahead  # the id eve tried to take is still alice's to use
        r = eve.post("/ws/v1/cluster/apps", json={**body, "application-id": theirs})
        assert r.status_code == 403 and "issued to another user" in remote(r)["message"]
        assert alice.post("/ws/v1/cluster/apps", json={**body, "application-id": theirs}).status_code == 202


# ---- CSRF and Host ------------------------------------------------------------------------------------

def test_cross_origin_and_simple_content_type_state_changes_are_refused(secure_rm: SecureRM) -> None:
    app_id = secure_rm.submit("alice", SLEEP)
    cookie = {"hadoop.auth": tokens.cookie_value(secure_rm.secret, "alice")}
    with secure_rm.client(cookies=cookie) as browser:
        r = browser.put(f"/ws/v1/cluster/apps/{app_id}/state", json={"state": "KILLED"},
                        headers={"Origin": "http://evil.example"})
        assert r.status_code == 403 and "cross-origin" in remote(r)["message"]
        r = browser.put(f"/ws/v1/cluster/apps/{app_id}/state", content=b'{"state": "KILLED"}',
                        headers={"Content-Type": "text/plain"})
        assert r.status_code == 403 and "text/plain" in remote(r)["message"]
        new = browser.post("/ws/v1/cluster/apps/new-application").json()["application-id"]
        body = b'{"application-id": "%s", "am-container-spec": {"commands": {"command": "touch /tmp/pwn"}}}' % \
            new.encode()
        for ctype in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
            r = browser.post("/ws/v1/cluster/apps", content=body, headers={"Content-Type": ctype})
            assert r.status_code == 403, (ctype, r.text)
        r = browser.post(f"/proxy/{app_id}/jobs", content=b"{}", headers={"Content-Type": "text/plain",
                                                                         "Origin": "http://evil.example"})
        assert r.status_code == 403
        assert secure_rm.app(app_id)["state"] not in ("KILLED", "FINISHED")
        # The same-origin UI (its kill button: a JSON PUT from the RM's own origin) works.
        r = browser.put(f"/ws/v1/cluster/apps/{app_id}/state", json={"state": "KILLED"},
                        headers={"Origin": secure_rm.url})
        assert r.status_code in (200, 202), r.text
    assert "cross-origin request from http://evil.example" in secure_rm.log()


def test_a_foreign_host_header_is_400(secure_rm: SecureRM) -> None:
    with secure_rm.client(ADMIN) as admin:
        r = admin.get("/ws/v1/cluster/info", headers={"Host": "attacker.example:8088"})
        assert r.status_code == 400 and remote(r)["message"] == "Invalid Host header"
        assert admin.get("/ws/v1/cluster/info", headers={"Host": f"localhost:{secure_rm.port}"}).status_code == 200


# ---- bad input -----------------------------------------------------------------------------------------

def test_nested_json_bad_params_and_odd_paths_are_4xx_without_internals(secure_rm: SecureRM) -> None:
    app_id = secure_rm.submit("alice", SLEEP)
    with secure_rm.client("alice") as alice:
        deep = b"[" * 100_000
        for method, path in (("PUT", f"/ws/v1/cluster/apps/{app_id}/state"), ("POST", "/ws/v1/cluster/apps")):
            r = alice.request(method, path, content=deep, headers={"Content-Type": "application/json"})
            assert r.status_code == 400, r.text
            no_internals(r.text)
        nested = b'{"state": ' + b"[" * 5_000 + b"]" * 5_000 + b"}"
        r = alice.put(f"/ws/v1/cluster/apps/{app_id}/state", content=nested,
                      headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and "nests deeper" in remote(r)["message"]
        for params in ({"startedTimeBegin": "abc"}, {"startedTimeBegin": "-1"}, {"finishedTimeEnd": "x"},
                       {"startedTimeBegin": "10", "startedTimeEnd": "5"}, {"finalStatus": "BOGUS"},
                       {"limit": "x"}, {"limit": "0"}, {"states": "NOPE"}):
            r = alice.get("/ws/v1/cluster/apps", params=params)
            assert r.status_code == 400 and remote(r)["exception"] == "BadRequestException", (params, r.text)
            no_internals(r.text)
        assert alice.get("/ws/v1/cluster/apps", params={"finalStatus": "UNDEFINED",
                                                        "startedTimeBegin": "0"}).status_code == 200
        new = alice.post("/ws/v1/cluster/apps/new-application").json()["application-id"]
        r = alice.post("/ws/v1/cluster/apps", json={"application-id": new, "priority": 10**40})
        assert r.status_code == 400 and "priority" in remote(r)["message"], r.text
        no_internals(r.text)
        r = alice.post("/ws/v1/cluster/apps", json={"application-id": new, "resource": {"memory": "lots"}})
        assert r.status_code == 400
        no_internals(r.text)
        r = alice.get("/static/" + "a" * 5000 + ".js")
        assert r.status_code == 404
        r = alice.delete("/ws/v1/cluster/apps")
        assert r.status_code == 405 and remote(r)["exception"] == "WebApplicationException", r.text
        alice.put(f"/ws/v1/cluster/apps/{app_id}/state", json={"state": "KILLED"})


def test_hostile_app_names_are_escaped_in_the_rm_ui(secure_rm: SecureRM) -> None:
    app_id = secure_rm.submit("alice", SLEEP, name=HOSTILE)
    with secure_rm.client("alice") as alice:
        for path in ("/cluster", "/cluster/apps", f"/cluster/app/{app_id}"):
            page = alice.get(path).text
            assert HOSTILE not in page and "<script>alert" not in page and "onerror=\"alert" not in page, path
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page, path
        alice.put(f"/ws/v1/cluster/apps/{app_id}/state", json={"state": "KILLED"})


# ---- the proxy -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("tracking", ["RM_REST", "http://192.0.2.10:8080/", "file:///etc/passwd",
                                      "https://{self}/", "javascript:alert(1)", "NM_REST"])
def test_ssrf_tracking_urls_are_refused_and_logged(secure_rm: SecureRM, tracking: str) -> None:
    with secure_rm.client(ADMIN) as admin:
        node = admin.get("/ws/v1/cluster/nodes").json()["nodes"]["node"][0]["nodeHTTPAddress"]
    url = tracking.replace("RM_REST", f"http://127.0.0.1:{secure_rm.port}/ws/v1/cluster") \
        .replace("NM_REST", f"http://{node}/ws/v1/node")
    app_id = secure_rm.web_am("alice", "echo", tracking=url)
    with secure_rm.client("alice") as alice:
        r = alice.get(f"/proxy/{app_id}/apps")
        assert r.status_code == 502, r.text
        assert f"The proxy refused to forward to application {app_id}" in r.text
        assert "clusterInfo" not in r.text and '"app"' not in r.text
        alice.put(f"/ws/v1/cluster/apps/{app_id}/state", json={"state": "KILLED"})
    assert f"Refused to proxy GET /proxy/{app_id}/apps" in secure_rm.log()


def test_proxy_forwards_no_browser_credentials_keeps_no_cookies_and_sandboxes(secure_rm: SecureRM) -> None:
    app_id = secure_rm.web_am("alice", "echo")
    token = secure_rm.token("alice")
    with secure_rm.client("alice", cookies={"hadoop.auth": "x", "other": "y"}) as alice:
        r = alice.get(f"/proxy/{app_id}/echo", headers={"Accept": "application/json"})
        assert r.status_code == 200, r.text
        seen = {k.lower(): v for k, v in r.json()["headers"].items()}
        assert "cookie" not in seen
        assert seen["authorization"].startswith("Bearer ") and token not in seen["authorization"]
        assert seen["x-forwarded-user"] == "alice"
        assert "set-cookie" not in r.headers  # the AM cannot set (or overwrite) cookies on the RM's origin
        assert r.headers["content-security-policy"].startswith("sandbox allow-scripts")
        assert "allow-same-origin" not in r.headers["content-security-policy"]
        # A second request: no cookie jar shared across requests or apps.
        seen2 = {k.lower(): v for k, v in alice.get(f"/proxy/{app_id}/again").json()["headers"].items()}
        assert "cookie" not in seen2
        # `..` does not climb out of the application's proxy.
        assert alice.get(f"/proxy/{app_id}/%2e%2e/%2e%2e/ws/v1/cluster/apps").status_code == 400
    with secure_rm.client("eve") as eve:
        assert eve.get(f"/proxy/{app_id}/echo").status_code == 403
        assert eve.patch(f"/proxy/{app_id}/jobs/x", params={"mode": "cancel"}).status_code == 403
    with secure_rm.client("alice") as alice:
        alice.put(f"/ws/v1/cluster/apps/{app_id}/state", json={"state": "KILLED"})


def test_a_browser_page_load_gets_a_capability_url_that_only_opens_that_app(secure_rm: SecureRM) -> None:
    echo = secure_rm.web_am("alice", "echo")
    other = secure_rm.web_am("alice", "echo")
    cookie = {"hadoop.auth": tokens.cookie_value(secure_rm.secret, "alice")}
    with secure_rm.client(cookies=cookie) as browser:
        r = browser.get(f"/proxy/{echo}/page", headers={"Accept": "text/html"})
        assert r.status_code == 302 and r.headers["location"].startswith(f"/proxy/{echo}/~")
        cap_path = r.headers["location"]
    cap = cap_path.split("/")[3]
    with httpx.Client(base_url=secure_rm.url, timeout=10) as sandboxed:  # no cookie, Origin: null
        r = sandboxed.get(f"{cap_path}", headers={"Origin": "null"})
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "*"
        assert r.json()["path"] == "/page"
        assert r.headers["referrer-policy"] == "no-referrer"
        pre = sandboxed.options(f"/proxy/{echo}/{cap}/jobs/1", headers={
            "Origin": "null", "Access-Control-Request-Method": "PATCH"})
        assert pre.status_code == 204 and "PATCH" in pre.headers["access-control-allow-methods"]
        assert sandboxed.patch(f"/proxy/{echo}/{cap}/jobs/1", params={"mode": "cancel"},
                               headers={"Origin": "null"}).json()["method"] == "PATCH"
        # The capability opens that application's proxy only: not another app's, not the RM's REST.
        assert sandboxed.get(f"/proxy/{other}/{cap}/x").status_code == 401
        assert sandboxed.get(f"/ws/v1/cluster/apps/{cap}").status_code == 401
        forged = cap[:-4] + ("AAAA" if not cap.endswith("AAAA") else "BBBB")
        assert sandboxed.get(f"/proxy/{echo}/{forged}/x").status_code == 401
    with secure_rm.client("alice") as alice:
        for app_id in (echo, other):
            alice.put(f"/ws/v1/cluster/apps/{app_id}/state", json={"state": "KILLED"})


def test_a_silent_am_does_not_starve_other_apps_proxy(secure_rm: SecureRM) -> None:
    silent = secure_rm.web_am("alice", "silent")
    echo = secure_rm.web_am("alice", "echo")
    headers = {"Authorization": f"Bearer {secure_rm.token('alice')}"}

    async def attack() -> tuple[list[int], float, int]:
        limits = httpx.Limits(max_connections=100)
        async with httpx.AsyncClient(base_url=secure_rm.url, headers=headers, limits=limits,
                                     timeout=httpx.Timeout(8.0)) as http:
            async def hung(i: int) -> int:
                try:
                    return (await http.get(f"/proxy/{silent}/hang/{i}")).status_code
                except httpx.TimeoutException:
                    return 0
            hanging = [asyncio.create_task(hung(i)) for i in range(24)]
            await asyncio.sleep(2.0)
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            ok = (await http.get(f"/proxy/{echo}/fine")).status_code
            elapsed = loop.time() - t0
            statuses = list(await asyncio.gather(*hanging))
            return statuses, elapsed, ok

    statuses, elapsed, ok = asyncio.run(attack())
    assert ok == 200 and elapsed < 2.0, (ok, elapsed)
    assert statuses.count(503) == 24 - 16, statuses  # past the per-application cap: 503 at once
    assert "already has 16 proxied requests in flight" in secure_rm.log()
    with secure_rm.client("alice") as alice:
        for app_id in (silent, echo):
            alice.put(f"/ws/v1/cluster/apps/{app_id}/state", json={"state": "KILLED"})


def test_dot_dot_through_node_does_not_reach_the_nm_rest(secure_rm: SecureRM) -> None:
    with secure_rm.client(ADMIN) as admin:
        node = admin.get("/ws/v1/cluster/nodes").json()["nodes"]["node"][0]["id"]
        assert admin.get(f"/node/{node}/%2e%2e/ws/v1/node/info").status_code == 400
        assert admin.get(f"/node/{node}/containerlogs/%2E%2E/%2e%2e/ws/v1/node/info").status_code == 400
        r = admin.get(f"/node/{node}/")
        assert r.status_code == 200
        csp = r.headers["content-security-policy"]
        assert "script-src 'none'" in csp and csp.startswith("sandbox")  # NM pages run no script on our origin
    token = secure_rm.token(ADMIN)
    raw = raw_http(secure_rm.port, f"GET /node/{node}/../ws/v1/node/info HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   f"Authorization: Bearer {token}\r\nConnection: close\r\n\r\n".encode())
    assert raw.startswith(b"HTTP/1.1 400") or raw.startswith(b"HTTP/1.1 404"), raw[:200]
    assert b"nodeInfo" not in raw


# ---- secure defaults -----------------------------------------------------------------------------------

def test_listening_beyond_loopback_with_simple_auth_needs_insecure(redis_url: str, processes: Processes) -> None:
    out = subprocess.run([sys.executable, "-m", "resourcemanager", "--redis-url", redis_url, "--host", "0.0.0.0",
                          "--port", str(free_port())], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert out.stderr.startswith("miniyarn resourcemanager: refusing to listen on 0.0.0.0 with "
                                 "hadoop.http.authentication.type=simple") and "--insecure" in out.stderr
    port = free_port()
    processes.start("rm", ["-m", "resourcemanager", "--redis-url", redis_url, "--host", "0.0.0.0",
                           "--port", str(port), "--insecure"])
    wait_for("the --insecure RM", lambda: httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200)
    # The default bind is loopback.

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert parser.parse_args([]).host == "127.0.0.1"


def test_simple_auth_state_changes_are_same_origin_only_too(redis_url: str, processes: Processes) -> None:
    """Attack 4 as reported: `simple` auth (what a standalone RM runs by default), a cross-site `text/plain`
    request. No credential is verified in simple mode, so the origin and body type are all there is."""
    url = start_rm(processes, redis_url)
    with httpx.Client(base_url=url, timeout=10) as http:
        app_id = http.post("/ws/v1/cluster/apps/new-application").json()["application-id"]
        body = {"application-id": app_id, "am-container-spec": {"commands": {"command": "touch /tmp/pwned"}}}
        r = http.post("/ws/v1/cluster/apps", content=json.dumps(body), headers={"Content-Type": "text/plain"})
        assert r.status_code == 403 and remote(r)["exception"] == "AccessControlException"
        r = http.post("/ws/v1/cluster/apps", json=body, headers={"Origin": "http://evil.example"})
        assert r.status_code == 403
        assert http.get(f"/ws/v1/cluster/apps/{app_id}").status_code == 404  # nothing ran
        r = http.post(f"/proxy/{app_id}/jobs", content=b"{}", headers={"Content-Type": "text/plain"})
        assert r.status_code == 403
        # A script or CLI sending JSON (no Origin) is what simple mode is for.
        assert http.post("/ws/v1/cluster/apps", json=body, params={"user.name": "alice"}).status_code == 202
        assert http.get(f"/ws/v1/cluster/apps/{app_id}").json()["app"]["user"] == "alice"
        assert http.get("/ws/v1/cluster/info", headers={"Host": "rebound.example"}).status_code == 400
        http.put(f"/ws/v1/cluster/apps/{app_id}/state", json={"state": "KILLED"})
    assert "Refused POST /ws/v1/cluster/apps" in processes.log("rm")
