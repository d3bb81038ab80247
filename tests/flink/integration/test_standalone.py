"""Standalone deployment as the seed does it: start-cluster / run / list / stop-cluster, and standalone-job."""

from __future__ import annotations

import getpass
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.flink.conftest import ROOT, wait_for
from tests.flink.integration.test_wordcount import expected, read_counts

pytestmark = pytest.mark.integration


@pytest.fixture
def flink_home(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A FLINK_CONF_DIR with flink-conf.yaml and workers; every daemon it started is killed at teardown."""
    conf = tmp_path / "conf"
    conf.mkdir()
    rest, rpc = free_port(), free_port()
    (conf / "flink-conf.yaml").write_text(
        f"jobmanager.rpc.address: 127.0.0.1\njobmanager.rpc.port: {rpc}\nrest.port: {rest}\n"
        f"taskmanager.numberOfTaskSlots: 1\nparallelism.default: 1\nenv.pid.dir: {tmp_path / 'pids'}\n"
        f"env.log.dir: {tmp_path / 'log'}\nheartbeat.interval: 500\nheartbeat.timeout: 3000\n")
    (conf / "workers").write_text("localhost\nlocalhost\n")
    env = dict(os.environ, FLINK_CONF_DIR=str(conf))
    try:
        yield env
    finally:
        subprocess.run([sys.executable, "-m", "flink_on_yarn.cli.main", "stop-cluster"], env=env, timeout=60,
                       capture_output=True)
        for pidfile in (tmp_path / "pids").glob("*.pid") if (tmp_path / "pids").exists() else []:
            for pid in pidfile.read_text().split():
                try:
                    os.killpg(int(pid), signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass


def miniflink(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "flink_on_yarn.cli.main", *args], env=env, capture_output=True,
                          text=True, timeout=60, cwd=ROOT)


def rest_url(env: dict[str, str]) -> str:
    text = (Path(env["FLINK_CONF_DIR"]) / "flink-conf.yaml").read_text()
    port = next(ln.split(":")[1].strip() for ln in text.splitlines() if ln.startswith("rest.port"))
    return f"http://127.0.0.1:{port}"


def auth(env: dict[str, str]) -> dict[str, str]:
    """What this user's clients present: the secret start-cluster made next to the pid files, 0600."""
    path = Path(env["FLINK_CONF_DIR"]).parent / "pids" / f"flink-{getpass.getuser()}-cluster.secret"
    assert path.stat().st_mode & 0o777 == 0o600
    return {"authorization": f"Bearer {path.read_text().strip()}"}


def test_start_cluster_run_list_stop(flink_home: dict[str, str], words_file: Path, tmp_path: Path) -> None:
    res = miniflink(flink_home, "start-cluster")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Starting cluster." in res.stdout and res.stdout.count("Starting taskexecutor daemon") == 2
    url = rest_url(flink_home)
    wait_for(lambda: httpx.get(url + "/overview", headers=auth(flink_home)).json()["taskmanagers"] == 2, 20,
             "two TaskManagers")
    out = tmp_path / "out"
    res = miniflink(flink_home, "run", "-p", "2", "-py", str(ROOT / "examples/wordcount.py"),
                    "--input", str(words_file), "--output", str(out))
    assert res.returncode == 0, res.stderr
    assert read_counts(out) == expected(words_file)
    job_id = res.stdout.split("Job has been submitted with JobID ")[1].split()[0]
    assert f"Program execution finished\nJob with JobID {job_id} has finished.\nJob Runtime: " in res.stdout, res.stdout
    listed = miniflink(flink_home, "list", "-a")
    assert "(FINISHED)" in listed.stdout
    res = miniflink(flink_home, "stop-cluster")
    assert res.stdout.count("Stopping taskexecutor daemon") == 2
    assert "Stopping standalonesession daemon" in res.stdout
    with pytest.raises(httpx.HTTPError):
        httpx.get(url + "/overview", timeout=2)


def test_standalone_job_application_mode(flink_home: dict[str, str], words_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = miniflink(flink_home, "standalone-job", "start", "--python", str(ROOT / "examples/wordcount.py"),
                    "--input", str(words_file), "--output", str(out))
    assert res.returncode == 0, res.stderr
    res = miniflink(flink_home, "taskmanager", "start")
    assert res.returncode == 0, res.stderr
    url = rest_url(flink_home)
    pids = [int(p) for p in (tmp_path / "pids" / f"flink-{getpass.getuser()}-standalonejob.pid")
            .read_text().split()] if (tmp_path / "pids").exists() else []

    def jm_gone() -> bool:
        try:
            httpx.get(url + "/overview", timeout=1)
            return False
        except httpx.HTTPError:
            return bool(out.exists())

    wait_for(jm_gone, 60, "the application cluster to finish and exit")
    assert read_counts(out) == expected(words_file)
    assert pids  # the JobManager ran as a daemon
    assert "Stopping taskexecutor" in miniflink(flink_home, "taskmanager", "stop").stdout
