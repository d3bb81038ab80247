"""Daemons and their Redis credentials: without a credentials dir they still run but say plainly what that
means; with a wrong one they stop at once and name the file."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from miniyarn.security.credentials import ENV, ensure
from tests.conftest import Processes, admin_url, free_port
from tests.integration.conftest import wait_for

pytestmark = pytest.mark.integration


def test_an_rm_without_credentials_warns_that_anyone_reaching_redis_owns_the_cluster(
        redis_url: str, processes: Processes) -> None:
    port = free_port()
    url = admin_url(redis_url)  # development: whatever credential the URL itself carries
    processes.start("rm", ["-m", "resourcemanager", "--redis-url", url, "--port", str(port), "--host", "127.0.0.1"],
                    env={ENV: ""})
    wait_for("the RM", lambda: httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200)
    log = processes.log("rm")
    assert "WARNING" in log and "Anyone who can reach that Redis (a container, a local user) can forge every " \
        "message and owns the cluster" in log
    password = url.split("@")[0].rsplit(":", 1)[1]
    assert password not in log


def test_daemons_refuse_a_missing_credentials_dir_or_wrong_users(redis_url: str, tmp_path: object) -> None:
    for daemon in ("resourcemanager", "nodemanager"):
        out = subprocess.run([sys.executable, "-m", daemon, "--redis-url", redis_url, "--port", "0",
                              "--credentials-dir", f"{tmp_path}/nowhere"], capture_output=True, text=True, timeout=60)
        assert out.returncode == 2, out
        assert f"Credentials directory {tmp_path}/nowhere does not exist" in out.stderr
    empty = f"{tmp_path}/empty"
    subprocess.run(["mkdir", "-p", empty], check=True)
    out = subprocess.run([sys.executable, "-m", "nodemanager", "--redis-url", redis_url, "--port", "0",
                          "--credentials-dir", empty], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and f"Cannot read {empty}/" in out.stderr, out


def test_credentials_of_another_cluster_fail_at_once_and_say_why(redis_url: str, tmp_path: object) -> None:
    other = ensure(f"{tmp_path}/other-cluster")
    for daemon in ("resourcemanager", "nodemanager"):
        out = subprocess.run([sys.executable, "-m", daemon, "--redis-url", redis_url, "--port", "0", "--host"
                              if daemon == "resourcemanager" else "--bind-host", "127.0.0.1",
                              "--credentials-dir", str(other.dir)], capture_output=True, text=True, timeout=30)
        assert out.returncode == 1, out
        assert "refused our credentials" in out.stderr and "--aclfile <dir>/redis.acl" in out.stderr
        assert other.redis_password("rm") not in out.stderr + out.stdout
        assert other.redis_password("nm") not in out.stderr + out.stdout
