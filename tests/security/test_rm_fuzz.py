"""A bounded, seeded fuzz of the RM's REST API and UI against a real RM (token auth, ACLs on): random
methods, paths, query values, bodies (junk JSON, deep nesting, wrong types, huge numbers, bad UTF-8) and
content types, as alice with a valid token. Nothing may answer 5xx, and every REST error must be YARN's
RemoteException without Python internals."""

from __future__ import annotations

import json
import random
from collections import Counter
from typing import Any

import pytest

from tests.security import rm_web
from tests.security.rm_web import SecureRM

secure_rm = rm_web.secure_rm  # fixture

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

REQUESTS = 400
SEEDS = [9, 10, 11]
WRITES = {"/ws/v1/cluster/apps": "POST", "/ws/v1/cluster/apps/{app}/state": "PUT",
          "/ws/v1/cluster/apps/new-application": "POST", "/ws/v1/cluster/staging/{digest}": "PUT",
          "/proxy/{app}/{rest}": "PATCH", "/login": "POST"}
PATHS = ["/ws/v1/cluster", "/ws/v1/cluster/info", "/ws/v1/cluster/metrics", "/ws/v1/cluster/scheduler",
         "/ws/v1/cluster/nodes", "/ws/v1/cluster/nodes/{node}", "/ws/v1/cluster/apps", "/ws/v1/cluster/apps/{app}",
         "/ws/v1/cluster/apps/{app}/state", "/ws/v1/cluster/apps/{app}/appattempts",
         "/ws/v1/cluster/apps/{app}/appattempts/{attempt}/containers", "/ws/v1/cluster/apps/new-application",
         "/ws/v1/cluster/staging/{digest}", "/cluster", "/cluster/apps", "/cluster/app/{app}", "/cluster/nodes",
         "/cluster/scheduler", "/static/{name}", "/proxy/{app}/{rest}", "/node/{node}/{rest}", "/metrics",
         "/login", "/logout"]
PARAMS = ["states", "state", "queue", "user", "limit", "applicationTypes", "finalStatus", "startedTimeBegin",
          "startedTimeEnd", "finishedTimeBegin", "finishedTimeEnd", "user.name", "next", "token"]
METHODS = ["GET", "GET", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
INTERNALS = ("Traceback", "pydantic", "RecursionError", "File \"/", "('body'", "('query'")


def junk_text(rnd: random.Random) -> str:
    return rnd.choice(["", "-1", "0", "1", "abc", "10" * 30, "%00", "../..", "%2e%2e", "RUNNING,NOPE", "\u202e",
                       "'\"<>", "x" * rnd.randint(1, 3000), "application_1_0001", "container_1_0001_01_000001",
                       str(2**64), "1e309", "null", "KILLED", "UNDEFINED"])


def junk_json(rnd: random.Random, depth: int = 0) -> Any:
    kind = rnd.randint(0, 9 if depth < 4 else 5)
    if kind == 0:
        return rnd.choice([None, True, False])
    if kind == 1:
        return rnd.choice([0, -1, 2**31, 10**40, -(10**40), 1.5, float("1e300")])
    if kind in (2, 3, 4, 5):
        return junk_text(rnd)
    if kind in (6, 7):
        return [junk_json(rnd, depth + 1) for _ in range(rnd.randint(0, 4))]
    keys = ["application-id", "application-name", "queue", "priority", "am-container-spec", "resource",
            "memory", "vCores", "commands", "command", "environment", "entry", "key", "value", "state",
            "diagnostics", "application-acls", "max-app-attempts", "unmanaged-AM", "local-resources"]
    return {rnd.choice(keys): junk_json(rnd, depth + 1) for _ in range(rnd.randint(0, 5))}


def junk_body(rnd: random.Random, app: str) -> bytes:
    choice = rnd.randint(0, 7)
    if choice == 0:
        return b""
    if choice == 1:
        return rnd.choice([b"[", b"{"]) * rnd.randint(1, 200_000)
    if choice == 2:
        return bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 200)))
    if choice == 3:
        return json.dumps({"state": junk_json(rnd), "diagnostics": junk_json(rnd)}).encode()
    if choice == 4:
        extra = junk_json(rnd, 3)
        return json.dumps({"application-id": app, **(extra if isinstance(extra, dict) else {"x": extra})}).encode()
    return json.dumps(junk_json(rnd)).encode()


@pytest.mark.parametrize("seed", SEEDS)
def test_fuzz_the_rm_rest_api_and_ui(secure_rm: SecureRM, seed: int) -> None:
    rnd = random.Random(seed)
    app = secure_rm.submit("alice", "sleep 300")
    node = secure_rm.app(app)["masterNodeId"] or "127.0.0.1:1"
    statuses: Counter[int] = Counter()
    with secure_rm.client("alice") as alice:
        for _ in range(REQUESTS):
            template = rnd.choice(PATHS)
            path = template.format(
                node=rnd.choice([node, "nope", "127.0.0.1:1", junk_text(rnd)[:100]]),
                app=rnd.choice([app, app, "application_1_0001", "application_x", junk_text(rnd)[:200]]),
                attempt=rnd.choice([f"appattempt_{app.removeprefix('application_')}_000001", "appattempt_x",
                                    junk_text(rnd)[:100]]),
                digest=rnd.choice(["0" * 64, "x", junk_text(rnd)[:100]]),
                name=rnd.choice(["ui.js", "style.css", "../x", junk_text(rnd)[:5000]]),
                rest=rnd.choice(["", "jobs", "containerlogs/container_1_0001_01_000001/stdout", "%2e%2e/x",
                                 junk_text(rnd)[:300]]))
            params = {rnd.choice(PARAMS): junk_text(rnd) for _ in range(rnd.randint(0, 3))}
            method = WRITES[template] if template in WRITES and rnd.random() < 0.7 else \
                "GET" if rnd.random() < 0.6 else rnd.choice(METHODS)
            headers = {"Content-Type": rnd.choice(["application/json", "application/json; charset=utf-8",
                                                   "application/octet-stream", "application/xml", ""])}
            if rnd.random() < 0.3:
                headers["Accept"] = rnd.choice(["text/html", "application/json", "*/*", "application/xml"])
            content = junk_body(rnd, app) if method in ("POST", "PUT", "PATCH") else None
            if "/state" in path and method == "PUT" and content and b'"KILLED"' in content:
                content = content.replace(b'"KILLED"', b'"RUNNING"')  # keep the app alive for the next ones
            r = alice.request(method, path, params=params, content=content, headers=headers)
            statuses[r.status_code] += 1
            assert r.status_code < 500, (method, path[:300], params, (content or b"")[:200], r.text[:500])
            for marker in INTERNALS:
                assert marker not in r.text, (method, path[:300], r.text[:500])
            if path.startswith("/ws/") and r.status_code >= 400 and method != "HEAD":
                assert "RemoteException" in r.json(), (method, path[:300], r.text[:300])
        alice.put(f"/ws/v1/cluster/apps/{app}/state", json={"state": "KILLED"})
    print(f"\nRM fuzz: {REQUESTS} requests (seed {seed}), statuses {dict(sorted(statuses.items()))}")
    assert sum(n for s, n in statuses.items() if s >= 500) == 0
