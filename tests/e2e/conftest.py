"""E2E fixtures: a real Docker engine and the miniyarn image (skipping with the reason when either is
missing), and a sweeper that removes every container our NMs labelled, even when a test fails."""

from __future__ import annotations

import os
from collections.abc import Iterator

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
