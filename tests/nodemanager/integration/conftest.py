"""A real NodeManager process on the test's own Redis db, and helpers to grant containers, send it
commands and read the heartbeats it pushes on the RM inbox (no RM runs in these tests)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import redis

from miniyarn import keys
from miniyarn.protocol import ApplicationFinished, ContainerGrant, Msg, StartContainer, StopContainer
from miniyarn.records import Container, ContainerLaunchContext, LocalResource, Resource
from miniyarn.security.credentials import digest
from tests.conftest import Processes, admin_url

# Fast intervals so a test takes about a second, not YARN's defaults.
FAST = ["-D", "yarn.resourcemanager.nodemanagers.heartbeat-interval-ms=200",
        "-D", "yarn.nodemanager.container-monitor.interval-ms=200"]
APP = "application_1700000000000_0001"


def cid(n: int) -> str:
    return f"container_1700000000000_0001_01_{n:06d}"


def wait_for(what: str, check: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}; last seen: {last!r}")


@dataclass
class NM:
    node_id: str
    redis: redis.Redis
    processes: Processes
    name: str

    @property
    def url(self) -> str:
        return f"http://{self.node_id}"

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.url + path, timeout=5)

    def send(self, cmd: Msg) -> None:
        self.redis.rpush(keys.nm_commands(self.node_id), cmd.model_dump_json())

    def grant(self, container_id: str, memory: int = 256, node_id: str | None = None) -> Container:
        """Store the grant the RM would, with the digest of `token(container_id)` (the test plays the RM)."""
        c = Container(id=container_id, node_id=node_id or self.node_id, node_http_address=self.node_id,
                      resource=Resource(memory=memory, vcores=1))
        grant = ContainerGrant(**c.model_dump(), token_digest=digest(token(container_id)))
        self.redis.set(keys.container(container_id), grant.model_dump_json())
        return c

    def start(self, container_id: str, commands: list[str], memory: int = 256, grant: bool = True,
              env: dict[str, str] | None = None, resources: dict[str, LocalResource] | None = None) -> None:
        c = self.grant(container_id, memory) if grant else Container(
            id=container_id, node_id=self.node_id, node_http_address=self.node_id,
            resource=Resource(memory=memory, vcores=1))
        ctx = ContainerLaunchContext(commands=commands, environment=env or {}, local_resources=resources or {})
        self.send(StartContainer(container=c, launch_context=ctx, user="alice", requested_by="test",
                                 container_token=token(container_id)))

    def stop(self, container_id: str, exit_status: int = -105, diagnostics: str = "Stopped by test") -> None:
        self.send(StopContainer(container_id=container_id, exit_status=exit_status, diagnostics=diagnostics,
                                container_token=token(container_id)))

    def app_finished(self, app_id: str = APP) -> None:
        """As the RM does it: the app's final state in its record first, then the command."""
        self.redis.set(keys.app(app_id), json.dumps({"app_id": app_id, "state": "FINISHED"}))
        self.send(ApplicationFinished(application_id=app_id))

    def inbox(self) -> list[dict[str, Any]]:
        return [json.loads(m) for m in self.redis.lrange(keys.rm_inbox(), 0, -1)]

    def statuses(self, container_id: str) -> list[dict[str, Any]]:
        return [s for m in self.inbox() if m["type"] == "node_heartbeat"
                for s in m["container_statuses"] if s["container_id"] == container_id]

    def wait_state(self, container_id: str, state: str, timeout: float = 10.0) -> dict[str, Any]:
        found: dict[str, Any] = wait_for(
            f"{container_id} {state}",
            lambda: next((s for s in self.statuses(container_id) if s["state"] == state), None), timeout)
        return found


def token(container_id: str) -> str:
    """The container token these tests hand out (the RM derives its own from its master key)."""
    return f"token-of-{container_id}"


def start_nm(processes: Processes, redis_url: str, name: str = "nm", memory_mb: int = 2048,
             extra: list[str] | None = None) -> NM:
    processes.start(name, ["-m", "nodemanager", "--redis-url", redis_url, "--port", "0", "--memory-mb",
                           str(memory_mb), "--vcores", "4", *FAST, *(extra or [])])
    line = wait_for("the NodeManager to start",
                    lambda: re.search(r"NodeManager (\S+) started", processes.log(name)), timeout=15)
    return NM(line.group(1), redis.Redis.from_url(admin_url(redis_url)), processes, name)


@pytest.fixture
def nm(redis_url: str, processes: Processes) -> Iterator[NM]:
    yield start_nm(processes, redis_url)
