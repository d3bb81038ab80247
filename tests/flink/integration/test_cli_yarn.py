"""`miniflink` against a real RM and two NMs: an interrupted deployment kills its half-deployed application
(Flink's deployment-failure hook) and says so in one line; `-yid` completes the live Flink applications;
a second execute() in detached per-job mode is refused, as Flink refuses it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from flink_on_yarn.cli.main import cli
from tests.flink_yarn import conftest as on_yarn
from tests.flink_yarn.conftest import SMALL, FlinkOnYarn
from tests.flink_yarn.integration.test_per_job import WORDCOUNT
from tests.line_server import LineServer

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
flink_yarn = on_yarn.flink_yarn  # the real RM and two NMs of tests/flink_yarn, as a fixture here


def read_until(proc: subprocess.Popen[str], marker: str, timeout: float = 30) -> str:
    """The output up to and including the first line holding marker."""
    assert proc.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if marker in line:
            return "".join(seen)
    raise AssertionError(f"no {marker!r} in the output: {''.join(seen)}")


def complete_yid(flink_yarn: FlinkOnYarn) -> list[str]:
    result = CliRunner().invoke(cli, [], prog_name="miniflink", env={
        "_MINIFLINK_COMPLETE": "bash_complete", "COMP_WORDS": "miniflink list -yid ", "COMP_CWORD": "3",
        "MINIYARN_RM_ADDRESS": flink_yarn.yarn.rm_url, "TMPDIR": str(flink_yarn.tmp)})
    assert result.exit_code == 0, result.output
    return [line.split(",", 1)[1] for line in result.stdout.splitlines() if line]


def test_an_interrupted_deployment_kills_the_application_in_one_line(flink_yarn: FlinkOnYarn) -> None:
    # SIGTERM: the CLI makes it the KeyboardInterrupt a Ctrl-C is, so this covers both.
    sig = signal.SIGTERM
    # The interrupt comes as soon as the application is submitted: its JobManager takes a second or more
    # to be allocated, launched and answer, so the interrupt lands in the middle of the deployment.
    proc = subprocess.Popen(
        [sys.executable, "-m", "flink_on_yarn.cli.main", "run", "-t", "yarn-per-job", *SMALL, "-py", WORDCOUNT],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT, start_new_session=True,
        env={**flink_yarn.env(), "PYTHONUNBUFFERED": "1"})
    try:
        before = read_until(proc, "Submitted application ")
        os.kill(proc.pid, sig)
        app_id = before.split("Submitted application ")[1].split()[0]
        rest, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 128 + sig, before + rest
    assert "Traceback" not in rest and "YARN application has been deployed" not in rest, rest
    assert rest.splitlines()[-1:] == [f"error: The deployment of {app_id} was interrupted; the application was "
                                      "killed so that it does not start with nobody attached"], rest
    report = flink_yarn.yarn.wait_app_state(app_id, "KILLED")
    assert "interrupted during the deployment" in report["diagnostics"]
    assert complete_yid(flink_yarn) == []


def test_a_second_execute_in_detached_per_job_mode_is_refused(flink_yarn: FlinkOnYarn, tmp_path: Path) -> None:
    lines = LineServer([])  # the first job reads from it, so it runs until killed
    program = tmp_path / "two_jobs.py"
    program.write_text(
        "from flink_on_yarn.datastream import StreamExecutionEnvironment\n"
        "env = StreamExecutionEnvironment.get_execution_environment()\n"
        f"env.socket_text_stream('127.0.0.1', {lines.port}).print()\n"
        "env.execute('first')\n"
        "env.from_collection([4, 5, 6]).print()\n"
        "env.execute('second')\n")
    try:
        res = flink_yarn.miniflink("run", "-t", "yarn-per-job", "-d", *SMALL, "-py", str(program))
        assert res.returncode == 1, res.stdout + res.stderr
        [app] = flink_yarn.flink_apps()  # the first job's cluster only
        assert res.stderr == ("error: Cannot have more than one execute() or executeAsync() call in a single "
                              f"environment in detached per-job mode: the first job runs in {app['id']}; submit the "
                              "others separately, or to a session (-t yarn-session)\n")
        # The AM container's node is the attempt's, known as soon as the container is.
        allocated = next(line for line in res.stdout.splitlines() if line.startswith("AM container "))
        assert " allocated on ?" not in allocated and " allocated on 127.0.0.1:" in allocated, allocated
        assert complete_yid(flink_yarn) == [app["id"]]  # -yid completes the live Flink applications
    finally:
        lines.close()
