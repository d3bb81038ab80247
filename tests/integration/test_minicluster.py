"""MiniCluster and `miniyarn minicluster`: Redis started when none answers, RM + N NMs up in about a
second, and nothing of theirs left running after a stop, a SIGTERM or a failed start."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest
import redis

from miniyarn.cli.main import main
from miniyarn.minicluster import MiniCluster, MiniClusterError
from tests.conftest import RedisServer, admin_url, alive, free_port
from tests.integration.conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


def children() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True)}


def test_starts_its_own_redis_and_stop_leaves_no_process(capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    before = children()
    url = f"redis://127.0.0.1:{free_port()}/0"
    monkeypatch.setenv("MINIYARN_TOKEN_FILE", str(tmp_path / "token"))
    monkeypatch.delenv("MINIYARN_TOKEN", raising=False)
    with MiniCluster(nodemanagers=2, redis_url=url, port=0) as mc:
        print(f"minicluster with 2 NMs and its own Redis up in {mc.startup_s:.2f} s", file=sys.stderr)
        assert mc.started_redis and mc.startup_s < 10
        assert mc.env() == {"MINIYARN_RM_ADDRESS": mc.rm_url, "MINIYARN_REDIS_URL": url, "MINIYARN_TOKEN": mc.token}
        # Secure with no flag: token auth, and the starting user's token where the clients look.
        assert mc.token_file == tmp_path / "token" and mc.token_file.read_text().strip() == mc.token
        assert httpx.get(f"{mc.rm_url}/ws/v1/cluster/nodes").status_code == 401
        capsys.readouterr()
        assert main(["node", "-list", "--rm-address", mc.rm_url]) == 0
        assert capsys.readouterr().out.startswith("Total Nodes:2\n")
        # A running application, so stopping must also end containers.
        r = redis.Redis.from_url(mc.admin_redis_url)
        assert r.config_get("appendonly") == {"appendonly": "yes"}
        with pytest.raises(redis.AuthenticationError):  # default user off: a bare URL can do nothing
            redis.Redis.from_url(url).ping()
        http = httpx.Client(headers={"Authorization": f"Bearer {mc.token}"})
        app_id = http.post(f"{mc.rm_url}/ws/v1/cluster/apps/new-application").json()["application-id"]
        body = {"application-id": app_id, "resource": {"memory": 1024, "vCores": 1},
                "am-container-spec": {"commands": {"command": "sleep 60"}}}
        assert http.post(f"{mc.rm_url}/ws/v1/cluster/apps", json=body).status_code == 202
        wait_for("the AM container", lambda: http.get(f"{mc.rm_url}/ws/v1/cluster/apps/{app_id}").json()["app"][
            "runningContainers"] == 1)
        assert http.get(f"{mc.rm_url}/ws/v1/cluster/apps/{app_id}").json()["app"]["user"] == mc.user
        http.close()
        # redis, rm, 2 NMs, sleep and its watchdog (a container dies with its NM: docs/nodemanager.md)
        wait_for("the container process", lambda: len(mc.pids()) == 6)
        # The AM's attempt user, saved to the aclfile (ACL SAVE) so a Redis restart keeps it.
        attempt = app_id.replace("application_", "appattempt_") + "_000001"
        assert f"user {attempt} on " in (mc.credentials_dir / "redis.acl").read_text()
        pids = mc.pids()
        r.close()
        work_dir = mc.work_dir
    assert alive(pids) == set()
    assert children() - before == set()
    assert not work_dir.exists()


def test_uses_a_redis_that_answers_and_keeps_it(redis_url: str, redis_server: RedisServer, tmp_path: Path) -> None:
    with MiniCluster(nodemanagers=1, redis_url=redis_url, port=0, token_file=tmp_path / "token",
                     credentials_dir=redis_server.credentials.dir) as mc:
        assert not mc.started_redis
        pids = mc.pids()
    assert alive(pids) == set()
    assert redis.Redis.from_url(admin_url(redis_url)).ping()


def test_a_redis_without_its_users_is_refused_plainly(redis_url: str, tmp_path: os.PathLike[str]) -> None:
    before = children()
    with pytest.raises(MiniClusterError, match=r"^A Redis answers at redis://127.0.0.1:\d+/\d+ but does not know "
                                               r"this cluster's users") as err:
        MiniCluster(nodemanagers=1, redis_url=redis_url, port=0, work_dir=tmp_path).start()
    assert f"--aclfile {tmp_path}/credentials/redis.acl" in str(err.value)
    assert children() - before == set()


def test_failed_start_names_the_daemon_and_cleans_up(redis_url: str, redis_server: RedisServer,
                                                     tmp_path: Path) -> None:
    before = children()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        with pytest.raises(MiniClusterError, match=rf"^Port {port} for the ResourceManager is in use"):
            MiniCluster(nodemanagers=1, redis_url=redis_url, port=port, token_file=tmp_path / "token",
                        credentials_dir=redis_server.credentials.dir).start()
    bad = MiniCluster(nodemanagers=1, redis_url=redis_url, port=0, defines=["yarn.scheduler.minimum-allocation-mb=x"],
                      token_file=tmp_path / "token",
                      credentials_dir=redis_server.credentials.dir)
    with pytest.raises(MiniClusterError, match=r"^rm exited with code 2 while starting; its log") as err:
        bad.start()
    assert "miniyarn resourcemanager: yarn.scheduler.minimum-allocation-mb='x' is not an integer" in str(err.value)
    assert "Traceback" not in str(err.value)
    assert children() - before == set()


def test_cli_prints_what_to_export_and_sigterm_stops_everything(tmp_path: os.PathLike[str]) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    proc = subprocess.Popen([sys.executable, "-m", "miniyarn.cli.main", "minicluster", "--nodemanagers", "2",
                             "--port", "0", "--redis-url", url, "--work-dir", str(tmp_path)],
                            env={**os.environ, "MINIYARN_TOKEN_FILE": str(Path(tmp_path) / "token")},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    daemons: set[int] = set()
    try:
        assert proc.stdout is not None
        lines = []
        t0 = time.monotonic()
        while not any(line.startswith("export MINIYARN_TOKEN=") for line in lines):
            line = proc.stdout.readline()
            assert line, f"minicluster exited early: {''.join(lines)}"
            lines.append(line)
            assert time.monotonic() - t0 < 30, lines
        text = "".join(lines)
        assert f"Started redis-server at {url}" in text
        rm = next(line.split("=", 1)[1].strip() for line in lines if line.startswith("export MINIYARN_RM_ADDRESS="))
        assert f"ResourceManager web UI: {rm}/cluster\n" in text
        token = (Path(tmp_path) / "token").read_text().strip()
        assert f"Log in to it with: {rm}/login?token={token}\n" in text
        assert f"export MINIYARN_TOKEN={token}\n" in text
        assert f"export MINIYARN_REDIS_URL={url}\n" in text
        daemons = {p.pid for p in psutil.Process(proc.pid).children(recursive=True)}
        assert len(daemons) == 4  # redis, rm, 2 NMs
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
        assert alive(daemons) == set()
        assert (tmp_path / "rm.log").exists()  # a --work-dir given is kept, with the daemons' logs
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        for pid in alive(daemons):
            os.killpg(pid, signal.SIGKILL)
