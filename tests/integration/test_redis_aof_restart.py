"""A Redis with miniyarn's ACL file, restarted from its AOF, keeps what transactions and scripts wrote (the
RM's store writes through MULTI/EXEC and its fencing script), and its `default` user still lets nobody in."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import redis

from miniyarn.security import credentials
from miniyarn.sockets import free_port
from tests.conftest import NO_RETRY


def start(work: Path, acl: Path, port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(work),
                             "--aclfile", str(acl), "--save", "", "--appendonly", "yes", "--appendfsync", "always"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def connect(port: int, password: str) -> redis.Redis:
    client = redis.Redis(port=port, username="rm", password=password, socket_timeout=5)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            return client
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@pytest.mark.timeout(60)
def test_transactions_and_scripts_survive_a_sigkill_and_the_default_user_stays_shut(tmp_path: Path) -> None:
    creds = credentials.ensure(tmp_path / "creds")
    acl = creds.dir / credentials.REDIS_ACL
    port = free_port()
    server = start(tmp_path, acl, port)
    try:
        rm = connect(port, creds.redis_password("rm"))
        with rm.pipeline(transaction=True) as p:  # MULTI HSET PEXPIRE EXEC: the store's shape
            p.hset("yarn:app:a", "state", "RUNNING")
            p.pexpire("yarn:app:a", 600_000)
            p.execute()
        rm.eval("redis.call('SET', KEYS[1], ARGV[1])", 1, "yarn:fenced", "1")
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(10)
        server = start(tmp_path, acl, port)
        rm = connect(port, creds.redis_password("rm"))
        assert rm.hget("yarn:app:a", "state") == b"RUNNING" and rm.pttl("yarn:app:a") > 0
        assert rm.get("yarn:fenced") == b"1"
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=port, socket_timeout=5, retry=NO_RETRY).get("yarn:app:a")  # no user: NOAUTH
        for password in ("", "nopass", "x"):
            with pytest.raises(redis.AuthenticationError):
                redis.Redis(port=port, username="default", password=password, socket_timeout=5, retry=NO_RETRY).ping()
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(10)
