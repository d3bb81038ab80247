"""E2E fixtures: a real Docker engine and the miniyarn image (skipping with the reason when either is
missing), and a sweeper that removes every container our NMs labelled, even when a test fails."""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from nodemanager.executor.docker_spec import LABEL_NODE

IMAGE = os.environ.get("MINIYARN_IMAGE", "miniyarn:latest")


def docker_client():  # type: ignore[no-untyped-def]
    """A docker SDK client, or pytest.skip with why there is none."""
    try:
        import docker
        import docker.errors
    except ImportError:
        pytest.skip("the docker Python SDK is not installed (pip install docker)")
    try:
        client = docker.from_env(timeout=30)
        client.ping()
    except Exception as e:
        pytest.skip(f"no Docker daemon answers ({e}); start dockerd, then `bash scripts/test.sh --e2e`")
    return client


@pytest.fixture(scope="session")
def engine():  # type: ignore[no-untyped-def]
    client = docker_client()
    yield client
    client.close()


@pytest.fixture(scope="session")
def image(engine) -> str:  # type: ignore[no-untyped-def]
    import docker.errors

    try:
        engine.images.get(IMAGE)
    except docker.errors.ImageNotFound:
        pytest.skip(f"image {IMAGE} is not built; run `bash images/build.sh` first")
    return IMAGE


class Sweeper:
    """Remembers node ids whose Docker containers must not outlive the test."""

    def __init__(self, engine) -> None:  # type: ignore[no-untyped-def]
        self.engine = engine
        self.nodes: set[str] = set()

    def containers(self, node_id: str) -> list:  # type: ignore[type-arg]
        return list(self.engine.containers.list(all=True, filters={"label": f"{LABEL_NODE}={node_id}"}))

    def sweep(self) -> int:
        n = 0
        for node in self.nodes:
            for c in self.containers(node):
                c.remove(force=True)
                n += 1
        return n


@pytest.fixture
def sweeper(engine) -> Iterator[Sweeper]:  # type: ignore[no-untyped-def]
    s = Sweeper(engine)
    try:
        yield s
    finally:
        s.sweep()


# ---- the compose cluster -------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("credentials", "redis", "resourcemanager", "nodemanager")
# Services that run once and exit: done when exited 0, not when healthy.
ONE_SHOT = ("credentials",)
# Whom the tests act as: an ordinary user (not in yarn.admin.acl), with a token the RM signs.
USER = "e2e"


def compose_command() -> list[str]:
    """`docker-compose` (v1) if installed, else the `docker compose` plugin (v2); $MINIYARN_COMPOSE overrides."""
    if os.environ.get("MINIYARN_COMPOSE"):
        return os.environ["MINIYARN_COMPOSE"].split()
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    pytest.skip("neither docker-compose nor the docker compose plugin is installed (apt-get install docker-compose)")


@dataclass
class ComposeCluster:
    """One `docker compose` project of compose.yaml (its own bridge network, MINIYARN_NETWORK), or with
    compose.host.yaml the host-network variant, on ports of its own."""

    project: str
    env: dict[str, str]
    engine: Any
    command: list[str] = field(default_factory=compose_command)
    files: tuple[str, ...] = ("compose.yaml",)
    # The services the files define (compose.ha.yaml adds resourcemanager2): whose logs a failure dumps.
    services: tuple[str, ...] = SERVICES

    @property
    def host_network(self) -> bool:
        return "compose.host.yaml" in self.files

    @property
    def network(self) -> str:
        """The Docker network the YARN containers join ("host" for the host-network variant)."""
        return "host" if self.host_network else self.env["MINIYARN_NETWORK"]

    @property
    def host_address_for_containers(self) -> str:
        """Where a YARN container reaches a server the test runs on this host: the bridge network's
        gateway (this host's address on it), or loopback on the host network."""
        if self.host_network:
            return "127.0.0.1"
        return str(self.engine.networks.get(self.network).attrs["IPAM"]["Config"][0]["Gateway"])

    @property
    def rm_url(self) -> str:
        return f"http://127.0.0.1:{self.env['MINIYARN_RM_PORT']}"

    @property
    def redis_address_for_containers(self) -> tuple[str, int]:
        """Where a YARN container reaches Redis: by its service name on the bridge network, at loopback on
        the host network."""
        if self.host_network:
            return "127.0.0.1", int(self.env["MINIYARN_REDIS_PORT"])
        return "redis", 6379

    @cached_property
    def token(self) -> str:
        """A token for USER, signed in the RM's container with the cluster's secret (as docs/docker.md says)."""
        out = self.compose("exec", "-T", "resourcemanager", "miniyarn", "token", "-user", USER).stdout.strip()
        assert out and "\n" not in out, out
        return out

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @cached_property
    def http(self) -> httpx.Client:
        """The RM's REST API as USER: every route but /health wants the token."""
        return httpx.Client(base_url=self.rm_url, headers=self.auth, timeout=10)

    def get(self, path: str, **params: Any) -> Any:
        r = self.http.get(path, params=params or None)
        r.raise_for_status()
        return r.json()

    def submit_ds(self, command: str, containers: int = 3, name: str = "ds") -> str:
        """A DistributedShell application over REST as USER, its script staged through the RM (users
        hold no Redis credential)."""
        from miniyarn.distributedshell.client import submission

        data = command.encode()
        staged = self.http.put(f"/ws/v1/cluster/staging/{hashlib.sha256(data).hexdigest()}", content=data)
        staged.raise_for_status()
        app_id = str(self.http.post("/ws/v1/cluster/apps/new-application").json()["application-id"])
        body = submission(app_id, str(staged.json()["resource"]), containers, name=name, container_memory=128)
        resp = self.http.post("/ws/v1/cluster/apps", json=body)
        assert resp.status_code == 202, resp.text
        return app_id

    def wait_app_done(self, app_id: str, timeout: float = 90) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while (app := self.get(f"/ws/v1/cluster/apps/{app_id}")["app"])["state"] not in (
                "FINISHED", "FAILED", "KILLED"):
            assert time.monotonic() < deadline, app
            time.sleep(0.3)
        return dict(app)

    def aggregated_logs(self, app_id: str, timeout: float = 30) -> dict[str, str]:
        """`"<container id> <file>"` -> text of every file the NMs aggregated for `app_id`, from the RM's
        log server (what `miniyarn logs` reads), once no node owes its upload any more."""
        deadline = time.monotonic() + timeout
        while True:
            r = self.http.get(f"/ws/v1/applicationhistory/apps/{app_id}/logs")
            if r.status_code == 200 and r.json().get("containerLogsInfo") and not r.json().get("pendingNodes"):
                break
            assert time.monotonic() < deadline, f"logs of {app_id} not aggregated after {timeout:.0f} s: {r.text}"
            time.sleep(0.3)
        out = {}
        for info in r.json()["containerLogsInfo"]:
            cid = str(info["containerId"])
            for f in info.get("containerLogInfo") or []:
                name = str(f["fileName"])
                body = self.http.get(f"/ws/v1/applicationhistory/containerlogs/{cid}/{quote(name, safe='')}")
                body.raise_for_status()
                out[f"{cid} {name}"] = body.text
        return out

    def compose(self, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
        files = [arg for f in self.files for arg in ("-f", str(ROOT / f))]
        cmd = [*self.command, *files, "-p", self.project, *args]
        return subprocess.run(cmd, env={**os.environ, **self.env}, capture_output=True, text=True,
                              timeout=timeout, check=check, cwd=ROOT)

    def containers(self, service: str | None = None) -> list[Any]:
        labels = [f"com.docker.compose.project={self.project}"]
        if service:
            labels.append(f"com.docker.compose.service={service}")
        return list(self.engine.containers.list(all=True, filters={"label": labels}))

    def health(self) -> dict[str, str]:
        """Container name -> `healthy`/`starting`/`unhealthy`, or its status (`completed` for a one-shot
        service that exited 0)."""
        out = {}
        for c in self.containers():
            c.reload()
            state = c.attrs["State"]
            if c.labels.get("com.docker.compose.service") in ONE_SHOT and not state.get("Running"):
                out[c.name] = "completed" if state.get("ExitCode") == 0 else f"exited {state.get('ExitCode')}"
            else:
                out[c.name] = state.get("Health", {}).get("Status", c.status)
        return out

    def wait_healthy(self, expected: int, timeout: float = 60) -> float:
        """Seconds until `expected` containers are all healthy."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            h = self.health()
            if len(h) == expected and all(s in ("healthy", "completed") for s in h.values()):
                return time.monotonic() - t0
            time.sleep(0.25)
        raise AssertionError(f"compose services not healthy after {timeout:.0f} s: {self.health()}")

    def dump_logs(self) -> None:
        for service in self.services:
            r = self.compose("logs", "--no-color", "--tail", "200", service, check=False)
            sys.stderr.write(f"\n===== docker compose logs {service} =====\n{r.stdout[-8000:]}{r.stderr[-2000:]}\n")
        self.dump_yarn_logs()

    def node_ids(self) -> set[str]:
        try:
            nodes = self.get("/ws/v1/cluster/nodes")["nodes"] or {}
        except Exception:
            return set()
        return {str(n["id"]) for n in nodes.get("node", [])}

    def yarn_containers(self) -> list[Any]:
        """The Docker containers this cluster's NMs started (AMs, TaskManagers, shell containers)."""
        nodes = self.node_ids()
        return [c for c in self.engine.containers.list(all=True, filters={"label": LABEL_NODE})
                if c.labels.get(LABEL_NODE) in nodes]

    def dump_yarn_logs(self) -> None:
        """What the YARN containers left: the live ones (state, `docker logs`), the files in the NMs'
        log dirs (the containers' stdout/stderr/taskmanager.out...), and the logs aggregated in Redis."""
        w = sys.stderr.write
        try:
            for c in self.yarn_containers():
                c.reload()
                state = {k: c.attrs["State"].get(k) for k in ("Status", "ExitCode", "OOMKilled", "Error")}
                out = c.logs(tail=100).decode(errors="replace")
                w(f"\n===== YARN container {c.name} {c.labels} {state} =====\n{out[-4000:]}\n")
        except Exception as e:
            w(f"\n(no YARN container listing: {e})\n")
        host_dir = Path(self.env["MINIYARN_HOST_DIR"])
        for f in sorted(host_dir.glob("nm-*/logs/application_*/container_*/*")):
            if f.is_file():
                w(f"\n===== {f.relative_to(host_dir)} =====\n{f.read_text(errors='replace')[-4000:]}\n")
        try:
            apps = (self.get("/ws/v1/cluster/apps")["apps"] or {}).get("app", [])
            for app in apps:
                for name, body in sorted(self.aggregated_logs(app["id"], timeout=1).items()):
                    w(f"\n===== aggregated {app['id']} {name} =====\n{body[-4000:]}\n")
        except Exception as e:
            w(f"\n(no aggregated logs: {e})\n")

    def leftovers(self) -> list[str]:
        label = f"com.docker.compose.project={self.project}"
        found = [f"container {c.name}" for c in self.containers()]
        found += [f"network {n.name}" for n in self.engine.networks.list(filters={"label": label})]
        found += [f"volume {v.name}" for v in self.engine.volumes.list(filters={"label": label})]
        return found


@pytest.fixture
def yarn_logs_on_failure(compose_cluster: ComposeCluster, request: pytest.FixtureRequest) -> Iterator[None]:
    """Last in a test's arguments (so torn down first, while its applications still run): when the test
    failed, dump its YARN containers' logs now, not only at the module's end when they are long gone."""
    failed_before = request.session.testsfailed
    yield
    if request.session.testsfailed > failed_before:
        compose_cluster.dump_yarn_logs()


def compose_env(host_dir: Path, project: str) -> dict[str, str]:
    """Ports (the RM's published one; Redis's for the host-network variant) and a network of the
    project's own, so a test cluster meets nobody else's."""
    from miniyarn.sockets import free_port

    rm_port = 8088 if _port_free(8088) else free_port()
    return {"MINIYARN_REDIS_PORT": str(free_port()), "MINIYARN_RM_PORT": str(rm_port), "MINIYARN_NETWORK": project,
            "MINIYARN_HOST_DIR": str(host_dir), "MINIYARN_NM_MEMORY_MB": "2048", "MINIYARN_NM_VCORES": "2",
            "MINIYARN_IMAGE": IMAGE}


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@contextmanager
def compose_up(cluster: ComposeCluster, engine: Any, request: pytest.FixtureRequest,
               host_dir: Path | None = None, nodemanagers: int = 3) -> Iterator[float]:
    """The life of a compose fixture's cluster: up with `nodemanagers` NodeManagers, all healthy (yields
    how long that took); then `down -v`, which must leave no container, network or volume of the project,
    no YARN container of its nodes and (given `host_dir`) no NM work area. Logs are dumped when a test
    failed."""
    failed_before = request.session.testsfailed
    sweeper = Sweeper(engine)
    # One container per service but the NMs, which are `nodemanagers`.
    expected = len(cluster.services) - 1 + nodemanagers
    try:
        cluster.compose("up", "-d", "--scale", f"nodemanager={nodemanagers}")
        yield cluster.wait_healthy(expected, timeout=120)
    except BaseException:
        cluster.dump_logs()
        raise
    finally:
        if request.session.testsfailed > failed_before:
            cluster.dump_logs()
        sweeper.nodes.update(cluster.node_ids())
        if "http" in cluster.__dict__:
            cluster.http.close()
        down = cluster.compose("down", "-v", "--timeout", "20", check=False)
        swept = sweeper.sweep()
        left = cluster.leftovers()
        for c in cluster.containers():
            c.remove(force=True, v=True)
        assert down.returncode == 0, down.stderr
        assert not left, f"`down -v` left {left}"
        assert swept == 0, f"{swept} YARN containers outlived their NodeManagers"
        if host_dir is not None:
            areas = list(host_dir.glob("nm-*"))
            assert not areas, f"`down -v` left the NMs' work areas {areas}"


@pytest.fixture(scope="module")
def compose_cluster(engine, image: str, tmp_path_factory: pytest.TempPathFactory,  # type: ignore[no-untyped-def]
                    request: pytest.FixtureRequest) -> Iterator[ComposeCluster]:
    """compose.yaml up with 3 NodeManagers, all healthy; `down -v` after the module, which must leave
    no container, network or volume of the project (and no YARN container of its nodes)."""
    project = f"miniyarn-e2e-{os.getpid()}"
    files = ("compose.host.yaml",) if os.environ.get("MINIYARN_E2E_HOST_NETWORK") else ("compose.yaml",)
    cluster = ComposeCluster(project, compose_env(tmp_path_factory.mktemp("compose"), project), engine, files=files)
    with compose_up(cluster, engine, request) as healthy_s:
        cluster.up_to_healthy_s = healthy_s  # type: ignore[attr-defined]
        yield cluster
