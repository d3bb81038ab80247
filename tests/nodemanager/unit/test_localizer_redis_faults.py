"""Localization and the AM's checkpoint-pointer read while Redis is unreachable: they wait for it (a Redis
restarting from its AOF takes seconds) instead of failing the container, and give up after their deadline."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
import redis

from flink_on_yarn.yarn import checkpoint_pointer
from miniyarn import blobs, keys
from miniyarn.records import LocalResource, LocalResourceType
from miniyarn.sockets import free_port
from nodemanager.localizer import LocalizationError, localize_all
from tests.conftest import NO_RETRY


def test_a_blob_waits_for_a_redis_that_comes_back(tmp_path: Path) -> None:
    exe = shutil.which("redis-server")
    assert exe is not None
    port = free_port()
    data = b"print('hello')\n"
    resource = LocalResource(resource=f"{blobs.SCHEME}://{blobs.digest_of(data)}", type=LocalResourceType.FILE,
                             size=len(data))
    args = [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", str(tmp_path)]
    procs: list[subprocess.Popen[bytes]] = [subprocess.Popen(args, stdout=subprocess.DEVNULL)]

    def serve() -> redis.Redis:
        client = redis.Redis(port=port, socket_timeout=2)
        deadline = time.monotonic() + 10
        while not _up(client):
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.02)
        return client

    def restart_late() -> None:
        time.sleep(1.0)  # Redis restarting: the localizer's first tries are refused
        procs.append(subprocess.Popen(args, stdout=subprocess.DEVNULL))

    work = tmp_path / "work"
    work.mkdir()
    try:
        first = serve()
        first.set(keys.blob(blobs.digest_of(data)), data)
        first.save()  # what the restarted Redis loads (as it would its AOF)
        procs[0].kill()
        procs[0].wait(10)
        starter = threading.Thread(target=restart_late)
        starter.start()
        t0 = time.monotonic()
        localize_all(redis.Redis(port=port, socket_timeout=2), {"app.py": resource}, work, redis_wait_s=20)
        starter.join()
        assert (work / "app.py").read_bytes() == data and time.monotonic() - t0 >= 1.0
    finally:
        for p in procs:
            p.kill()
            p.wait(10)


def _up(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


# Each refused connection reaches the deadline's loop at once: redis-py's own retries of it (about 4.4 s, see
# NO_RETRY) would outlast the 1 s deadline on the first try and leave the loop nothing to decide.
def test_localization_gives_up_after_its_deadline(tmp_path: Path) -> None:
    resource = LocalResource(resource=f"{blobs.SCHEME}://{'0' * 64}", type=LocalResourceType.FILE, size=1)
    t0 = time.monotonic()
    with pytest.raises(LocalizationError, match="Redis unreachable for 1s"):
        localize_all(redis.Redis(port=free_port(), retry=NO_RETRY), {"f": resource}, tmp_path, redis_wait_s=1.0)
    assert 1.0 <= time.monotonic() - t0 < 5


def test_the_checkpoint_pointer_read_retries_until_its_deadline() -> None:
    t0 = time.monotonic()
    with pytest.raises(redis.ConnectionError):
        checkpoint_pointer.read(redis.Redis(port=free_port(), retry=NO_RETRY), "application_1_0001", max_wait_s=1.0)
    assert 1.0 <= time.monotonic() - t0 < 5
