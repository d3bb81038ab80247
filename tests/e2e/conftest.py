"""E2E fixtures: a real Docker engine and the miniyarn image (skipping with the reason when either is
missing), and a sweeper that removes every container our NMs labelled, even when a test fails."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
SERVICES = ("redis", "resourcemanager", "nodemanager")


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
    """One `docker compose` project of compose.yaml, on ports of its own."""

    project: str
    env: dict[str, str]
    engine: Any
    command: list[str] = field(default_factory=compose_command)

    @property
    def rm_url(self) -> str:
        return f"http://127.0.0.1:{self.env['MINIYARN_RM_PORT']}"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.env['MINIYARN_REDIS_PORT']}/0"

    def compose(self, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [*self.command, "-f", str(ROOT / "compose.yaml"), "-p", self.project, *args]
        return subprocess.run(cmd, env={**os.environ, **self.env}, capture_output=True, text=True,
                              timeout=timeout, check=check, cwd=ROOT)

    def containers(self, service: str | None = None) -> list[Any]:
        labels = [f"com.docker.compose.project={self.project}"]
        if service:
            labels.append(f"com.docker.compose.service={service}")
        return list(self.engine.containers.list(all=True, filters={"label": labels}))

    def health(self) -> dict[str, str]:
        out = {}
        for c in self.containers():
            c.reload()
            out[c.name] = c.attrs["State"].get("Health", {}).get("Status", c.status)
        return out

    def wait_healthy(self, expected: int, timeout: float = 60) -> float:
        """Seconds until `expected` containers are all healthy."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            h = self.health()
            if len(h) == expected and all(s == "healthy" for s in h.values()):
                return time.monotonic() - t0
            time.sleep(0.25)
        raise AssertionError(f"compose services not healthy after {timeout:.0f} s: {self.health()}")

    def dump_logs(self) -> None:
        for service in SERVICES:
            r = self.compose("logs", "--no-color", "--tail", "200", service, check=False)
            sys.stderr.write(f"\n===== docker compose logs {service} =====\n{r.stdout[-8000:]}{r.stderr[-2000:]}\n")
        self.dump_yarn_logs()

    def node_ids(self) -> set[str]:
        import httpx

        try:
            nodes = httpx.get(f"{self.rm_url}/ws/v1/cluster/nodes", timeout=5).json()["nodes"] or {}
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
            import redis

            from miniyarn import keys

            r = redis.Redis.from_url(self.redis_url, socket_timeout=5)
            for key in sorted(r.scan_iter(match=keys.app_logs("*"))):
                for name, text in sorted(r.hgetall(key).items()):
                    w(f"\n===== aggregated {key.decode()} {name.decode()} =====\n"
                      f"{text.decode(errors='replace')[-4000:]}\n")
            r.close()
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


def compose_env(host_dir: Path) -> dict[str, str]:
    from tests.conftest import free_port

    rm_port = 8088 if _port_free(8088) else free_port()
    return {"MINIYARN_REDIS_PORT": str(free_port()), "MINIYARN_RM_PORT": str(rm_port),
            "MINIYARN_HOST_DIR": str(host_dir), "MINIYARN_NM_MEMORY_MB": "2048", "MINIYARN_NM_VCORES": "2",
            "MINIYARN_IMAGE": IMAGE}


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.fixture(scope="module")
def compose_cluster(engine, image: str, tmp_path_factory: pytest.TempPathFactory,  # type: ignore[no-untyped-def]
                    request: pytest.FixtureRequest) -> Iterator[ComposeCluster]:
    """compose.yaml up with 3 NodeManagers, all healthy; `down -v` after the module, which must leave
    no container, network or volume of the project (and no YARN container of its nodes)."""
    cluster = ComposeCluster(f"miniyarn-e2e-{os.getpid()}", compose_env(tmp_path_factory.mktemp("compose")), engine)
    failed_before = request.session.testsfailed
    sweeper = Sweeper(engine)
    try:
        cluster.compose("up", "-d", "--scale", "nodemanager=3")
        cluster.up_to_healthy_s = cluster.wait_healthy(5)  # type: ignore[attr-defined]
        yield cluster
    except BaseException:
        cluster.dump_logs()
        raise
    finally:
        if request.session.testsfailed > failed_before:
            cluster.dump_logs()
        try:
            import httpx

            nodes = httpx.get(f"{cluster.rm_url}/ws/v1/cluster/nodes", timeout=5).json()["nodes"] or {}
            sweeper.nodes.update(n["id"] for n in nodes.get("node", []))
        except Exception:
            pass
        down = cluster.compose("down", "-v", "--timeout", "20", check=False)
        swept = sweeper.sweep()
        left = cluster.leftovers()
        for c in cluster.containers():
            c.remove(force=True, v=True)
        assert down.returncode == 0, down.stderr
        assert not left, f"`down -v` left {left}"
        assert swept == 0, f"{swept} YARN containers outlived their NodeManagers"
