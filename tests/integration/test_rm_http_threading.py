"""The RM's HTTP server keeps answering while a request waits for the RM lock (an inbox batch holds it):
the routes that take the lock or call Redis run in the threadpool, never on the event loop. A real RM on a
real Redis behind a real uvicorn on a free port; the test holds the lock itself, as a long batch would."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import redis
import uvicorn

from miniyarn.config import YarnConfiguration
from miniyarn.sockets import free_port
from resourcemanager.rm import ResourceManager
from resourcemanager.webapp.rest import create_app

BASE = "/ws/v1/cluster"


@pytest.fixture
def rm_web(redis_admin_url: str) -> Iterator[tuple[ResourceManager, str]]:
    client = redis.Redis.from_url(redis_admin_url)
    rm = ResourceManager(YarnConfiguration(load_files=False), client)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(rm), host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False, lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield rm, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        client.close()


def test_a_request_waiting_for_the_rm_lock_does_not_stall_health(rm_web: tuple[ResourceManager, str]) -> None:
    rm, url = rm_web
    with httpx.Client(base_url=url, timeout=10) as http:
        app_id = http.post(f"{BASE}/apps/new-application").json()["application-id"]
        body = {"application-id": app_id, "application-name": "slow", "resource": {"memory": 128, "vCores": 1},
                "am-container-spec": {"commands": {"command": "true"}}}
        answers: dict[str, int] = {}

        def call(name: str, method: str, path: str, json: object) -> None:
            with httpx.Client(base_url=url, timeout=10) as c:
                answers[name] = c.request(method, path, json=json).status_code

        waiting = [threading.Thread(target=call, args=("submit", "POST", f"{BASE}/apps", body)),
                   threading.Thread(target=call, args=("kill", "PUT", f"{BASE}/apps/{app_id}/state",
                                                       {"state": "KILLED"})),
                   threading.Thread(target=call, args=("proxy", "GET", f"/proxy/{app_id}/", None))]
        with rm.lock:  # a long inbox batch
            for t in waiting:
                t.start()
            time.sleep(0.3)  # the three are in, each waiting for the lock
            assert answers == {}
            started = time.monotonic()
            health = http.get("/health")
            took = time.monotonic() - started
            assert health.status_code in (200, 503) and took < 2.0, f"/health took {took:.1f}s"
        for t in waiting:
            t.join(timeout=10)
        assert answers["submit"] == 202
        assert rm.apps[app_id].state.value in ("ACCEPTED", "KILLING", "KILLED")
        # Kill and proxy raced the submission: whichever order they got the lock in, each had a YARN answer.
        assert set(answers) == {"submit", "kill", "proxy"}
        assert answers["kill"] in (200, 202, 404) and answers["proxy"] in (404, 410), answers
