"""Integration fixtures: a real ResourceManager process (and NodeManagers) on a test's own Redis db."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import redis

from miniyarn import blobs
from miniyarn.distributedshell.client import submission
from miniyarn.security import credentials
from miniyarn.security.credentials import with_user
from miniyarn.sockets import free_ports
from tests.conftest import Processes, admin_url, free_port

FINAL_APP_STATES = ("FINISHED", "FAILED", "KILLED")

# Short expiries so liveness tests take seconds, not YARN's ten minutes.
FAST_CONF = [
    "-D", "yarn.nm.liveness-monitor.expiry-interval-ms=3000",
    "-D", "yarn.am.liveness-monitor.expiry-interval-ms=20000",
    "-D", "yarn.scheduler.minimum-allocation-mb=128",
]


def wait_for(what: str, check: Callable[[], Any], timeout: float = 20.0, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (httpx.HTTPError, KeyError, ValueError) as e:
            last = e
        if last and not isinstance(last, Exception):
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}; last seen: {last!r}")


@dataclass
class Cluster:
    redis_url: str
    rm_url: str
    processes: Processes
    nodes: list[str] = field(default_factory=list)

    @property
    def admin_url(self) -> str:
        """The cluster's Redis as the rm user, for the test's own reads (daemons get `redis_url`)."""
        return admin_url(self.redis_url)

    def attempt_url(self, attempt_id: str) -> str:
        """The Redis URL the RM gives the attempt's AM container (its own user, the AMRM token)."""
        return with_user(self.redis_url, attempt_id, amrm_token(attempt_id))

    def get(self, path: str, **params: Any) -> Any:
        r = httpx.get(f"{self.rm_url}/ws/v1/cluster{path}", params=params, timeout=10)
        r.raise_for_status()
        return r.json()

    def app(self, app_id: str) -> dict[str, Any]:
        report: dict[str, Any] = self.get(f"/apps/{app_id}")["app"]
        return report

    def wait_app_state(self, app_id: str, *states: str, timeout: float = 30.0) -> dict[str, Any]:
        # An unregistered app is reported FINISHED while its AM container still runs (RMAppState FINISHING,
        # as in YARN); only finishedTime says the RM has let go of it, so final states wait for that too.
        def reached(a: dict[str, Any]) -> bool:
            return bool(a["state"] in states and (a["state"] not in FINAL_APP_STATES or a["finishedTime"] > 0))
        return dict(wait_for(f"{app_id} in {states}", lambda: reached(a := self.app(app_id)) and a, timeout))

    def start_nm(self, name: str, memory_mb: int = 4096, vcores: int = 4, port: int = 0) -> None:
        self.processes.start(name, ["-m", "nodemanager", "--redis-url", self.redis_url, "--port", str(port),
                                    "--memory-mb", str(memory_mb), "--vcores", str(vcores), *FAST_CONF])
        self.nodes.append(name)

    def running_nodes(self) -> list[dict[str, Any]]:
        nodes = self.get("/nodes", states="RUNNING")["nodes"]
        return list(nodes["node"]) if nodes else []


def pings(r: redis.Redis) -> bool:
    """Whether `r`'s Redis answers PING now (a refused connection is a no, any other error raises); `r` is
    closed after."""
    try:
        return bool(r.ping())
    except redis.ConnectionError:
        return False
    finally:
        r.close()


def amrm_token(attempt_id: str) -> str:
    """What the RM of these tests derives for an attempt (the session's credentials hold its master key)."""
    found = credentials.from_env()
    assert found is not None
    return credentials.derive(found.rm_master_key(), "amrm", attempt_id)


def launch_rm(processes: Processes, redis_url: str, extra: list[str] | None = None, name: str = "rm",
              port: int = 0) -> str:
    """An RM process started, not yet waited for (see `rm_up`): its URL."""
    port = port or free_port()
    processes.start(name, ["-m", "resourcemanager", "--redis-url", redis_url, "--port", str(port),
                           "--host", "127.0.0.1", *FAST_CONF, *(extra or [])])
    return f"http://127.0.0.1:{port}"


def rm_up(url: str) -> None:
    wait_for("the ResourceManager", lambda: httpx.get(f"{url}/health", timeout=1).status_code == 200)


def start_rm(processes: Processes, redis_url: str, extra: list[str] | None = None, name: str = "rm") -> str:
    url = launch_rm(processes, redis_url, extra, name)
    rm_up(url)
    return url


def two_node_cluster(redis_url: str, processes: Processes) -> Cluster:
    """A real RM and two real NMs (4 GB, 4 vcores each) on `redis_url`. The NMs start beside the RM, not after
    it: they meet it only through Redis (a first heartbeat waits in its inbox), as compose starts them, so the
    three start-ups overlap instead of adding up."""
    rm_port, *nm_ports = free_ports(3)
    c = Cluster(redis_url, launch_rm(processes, redis_url, port=rm_port), processes)
    c.start_nm("nm1", port=nm_ports[0])
    c.start_nm("nm2", port=nm_ports[1])
    rm_up(c.rm_url)
    wait_for("2 running NodeManagers", lambda: len(c.running_nodes()) == 2)
    return c


@pytest.fixture
def rm_only(redis_url: str, processes: Processes) -> Iterator[Cluster]:
    yield Cluster(redis_url, start_rm(processes, redis_url), processes)


@pytest.fixture
def cluster(redis_url: str, processes: Processes) -> Iterator[Cluster]:
    """A real RM and two real NMs (4 GB, 4 vcores each) on the test's own Redis database."""
    yield two_node_cluster(redis_url, processes)


def submit_ds(rm_url: str, redis_url: str, command: str, containers: int = 3, name: str = "ds") -> str:
    """A DistributedShell application submitted over REST, its script staged straight into Redis (the CLI
    client would block until the application ends)."""
    r = redis.Redis.from_url(admin_url(redis_url))
    try:
        script = blobs.put(r, command.encode())
    finally:
        r.close()
    app_id = str(httpx.post(f"{rm_url}/ws/v1/cluster/apps/new-application", timeout=10).json()["application-id"])
    body = submission(app_id, script.resource, containers, name=name, container_memory=128)
    assert httpx.post(f"{rm_url}/ws/v1/cluster/apps", json=body, timeout=10).status_code == 202
    return app_id

