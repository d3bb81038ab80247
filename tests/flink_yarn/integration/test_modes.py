"""Session and application clusters, cancel, and a TaskManager lost mid-job, on a real RM and two NMs."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import alive
from tests.flink_yarn.conftest import SMALL, FlinkOnYarn, final_counts
from tests.flink_yarn.integration.test_per_job import WORDCOUNT, expected_words
from tests.integration.conftest import wait_for
from tests.line_server import LineServer

pytestmark = pytest.mark.integration

LINES = ["to be or not to be", "that is the question", "to be or not"]


@pytest.fixture
def lines() -> Iterator[LineServer]:
    server = LineServer(LINES)
    yield server
    server.close()


def expected_lines() -> dict[str, int]:
    out: dict[str, int] = {}
    for line in LINES:
        for w in line.split():
            out[w] = out.get(w, 0) + 1
    return out


def jm(report: dict[str, Any]) -> str:
    """The JobManager's own address: which attempt serves, not where to ask (it wants the app's secret)."""
    return f"http://{report['amRPCAddress']}"


def api(flink_yarn: FlinkOnYarn, app_id: str) -> str:
    """Where a client reaches the JobManager's REST API: the RM's proxy, which presents the app's secret."""
    return f"{flink_yarn.yarn.rm_url}/proxy/{app_id}"


def get(url: str) -> Any:
    r = httpx.get(url, timeout=5)
    r.raise_for_status()
    return r.json()


def test_session_starts_empty_scales_to_the_job_and_back_to_zero(flink_yarn: FlinkOnYarn) -> None:
    res = flink_yarn.miniflink("yarn-session", "-d", "-s", "2", *SMALL,
                               "-D", "resourcemanager.taskmanager-timeout=1500")
    assert res.returncode == 0, res.stdout + res.stderr
    [app] = flink_yarn.flink_apps()
    assert app["state"] == "RUNNING" and app["runningContainers"] == 1
    assert get(api(flink_yarn, app["id"]) + "/overview")["taskmanagers"] == 0
    assert f"miniflink yarn-session -id {app['id']} stop" in res.stdout

    # No -t: the properties file the session wrote sends the job there, as Flink's CLI does.
    res = flink_yarn.miniflink("run", "-p", "3", "-py", WORDCOUNT)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Found Yarn properties file" in res.stdout
    history = get(api(flink_yarn, app["id"]) + "/resourcemanager/allocation-history")["events"]
    assert sum(1 for e in history if e["event"] == "taskmanager-registered") == 2
    wait_for("idle TaskManagers given back", lambda: flink_yarn.containers_of(app["id"]) == 1, timeout=20)
    assert get(api(flink_yarn, app["id"]) + "/overview")["taskmanagers"] == 0

    res = flink_yarn.miniflink("yarn-session", "-id", app["id"], "stop")
    assert res.returncode == 0, res.stdout + res.stderr
    report = flink_yarn.yarn.app(app["id"])
    assert (report["state"], report["finalStatus"]) == ("FINISHED", "SUCCEEDED")
    logs = flink_yarn.aggregated_logs(app["id"])
    assert final_counts([v for k, v in logs.items() if k.endswith("taskmanager.out")]) == expected_words()


def test_application_mode_runs_main_in_the_jobmanager(flink_yarn: FlinkOnYarn) -> None:
    res = flink_yarn.miniflink("run-application", "-t", "yarn-application", "-p", "2",
                               "-D", "taskmanager.numberOfTaskSlots=2", *SMALL, "-py", WORDCOUNT)
    assert res.returncode == 0, res.stdout + res.stderr
    [app] = flink_yarn.flink_apps()
    report = flink_yarn.yarn.wait_app_state(app["id"], "FINISHED", "FAILED", "KILLED", timeout=60)
    assert report["finalStatus"] == "SUCCEEDED", report["diagnostics"]
    logs = flink_yarn.aggregated_logs(app["id"])
    jm_log = next(v for k, v in logs.items() if k.endswith("jobmanager.log"))
    assert "application finished" in jm_log
    assert final_counts([v for k, v in logs.items() if k.endswith("taskmanager.out")]) == expected_words()


def submit_socket_job(flink_yarn: FlinkOnYarn, lines: LineServer, *extra: str) -> tuple[str, str]:
    res = flink_yarn.miniflink("run", "-t", "yarn-per-job", "-d", *extra, *SMALL, "-py", WORDCOUNT,
                               "--hostname", "127.0.0.1", "--port", str(lines.port))
    assert res.returncode == 0, res.stdout + res.stderr
    job_id = res.stdout.split("JobID ")[1].split()[0]
    [app] = flink_yarn.flink_apps()
    return app["id"], job_id


def tm_outputs(url: str) -> dict[str, str]:
    return {t["id"]: httpx.get(f"{url}/taskmanagers/{t['id']}/stdout", timeout=5).text
            for t in get(url + "/taskmanagers")["taskmanagers"]}


def test_cancel_ends_the_per_job_application_killed(flink_yarn: FlinkOnYarn, lines: LineServer) -> None:
    app_id, job_id = submit_socket_job(flink_yarn, lines, "-p", "2")
    url = api(flink_yarn, app_id)
    wait_for("counts in a TaskManager's stdout",
             lambda: final_counts(list(tm_outputs(url).values())) == expected_lines(), timeout=30)
    res = flink_yarn.miniflink("list", "-yid", app_id)
    assert job_id in res.stdout and "(RUNNING)" in res.stdout, res.stdout + res.stderr
    res = flink_yarn.miniflink("cancel", "-yid", app_id, job_id)
    assert res.returncode == 0, res.stdout + res.stderr
    report = flink_yarn.yarn.wait_app_state(app_id, "FINISHED", "FAILED", "KILLED")
    assert report["finalStatus"] == "KILLED"
    wait_for("every container released", lambda: flink_yarn.containers_of(app_id) == 0)


def test_lost_taskmanager_is_replaced_and_counts_stay_exact(flink_yarn: FlinkOnYarn, lines: LineServer) -> None:
    app_id, job_id = submit_socket_job(flink_yarn, lines, "-p", "2", "-D", "restart-strategy=fixed-delay",
                                       "-D", "restart-strategy.fixed-delay.attempts=3",
                                       "-D", "restart-strategy.fixed-delay.delay=500 ms")
    url = api(flink_yarn, app_id)
    wait_for("first counts", lambda: final_counts(list(tm_outputs(url).values())) == expected_lines(), timeout=30)
    [victim, *_] = get(url + "/taskmanagers")["taskmanagers"]
    os.kill(int(victim["pid"]), signal.SIGKILL)
    seen: list[str] = []

    def replaced() -> bool:
        seen[:] = [t["id"] for t in get(url + "/taskmanagers")["taskmanagers"]]
        return len(seen) == 2 and victim["id"] not in seen

    try:
        wait_for("a replacement TaskManager", replaced, timeout=30)
    except AssertionError:
        raise AssertionError(f"killed {victim['id']} (pid {victim['pid']}); TaskManagers now {seen}; history "
                             f"{get(url + '/resourcemanager/allocation-history')['events']}") from None
    wait_for("the job running again", lambda: get(f"{url}/jobs/{job_id}")["state"] == "RUNNING", timeout=30)
    wait_for("exact counts after the restart", lambda: final_counts(
        [o for t, o in tm_outputs(url).items()]) == expected_lines(), timeout=30)
    history = get(url + "/resourcemanager/allocation-history")["events"]
    assert sum(1 for e in history if e["event"] == "taskmanager-registered") == 3
    assert get(f"{url}/jobs/{job_id}")["state"] == "RUNNING"
    flink_yarn.miniflink("cancel", "-yid", app_id, job_id)
    flink_yarn.yarn.wait_app_state(app_id, "FINISHED", "FAILED", "KILLED")


def test_a_new_am_attempt_runs_the_job_again(flink_yarn: FlinkOnYarn, lines: LineServer) -> None:
    import psutil

    app_id, job_id = submit_socket_job(flink_yarn, lines, "-p", "2", "-D", "yarn.application-attempts=2")
    url, first_jm = api(flink_yarn, app_id), jm(flink_yarn.yarn.app(app_id))
    wait_for("first counts", lambda: final_counts(list(tm_outputs(url).values())) == expected_lines(), timeout=30)
    [am] = [p for p in psutil.process_iter(["cmdline", "cwd"])
            if "flink_on_yarn.yarn.appmaster" in (p.info["cmdline"] or []) and app_id in (p.info["cwd"] or "")]
    am.kill()
    wait_for("attempt 2", lambda: len(flink_yarn.yarn.get(f"/apps/{app_id}/appattempts")["appAttempts"]["appAttempt"])
             == 2, timeout=30)
    report = flink_yarn.yarn.wait_app_state(app_id, "RUNNING")
    wait_for("the new JobManager", lambda: jm(flink_yarn.yarn.app(app_id)) != first_jm)
    wait_for("the job running again", lambda: get(f"{url}/jobs/{job_id}")["state"] == "RUNNING", timeout=30)
    wait_for("exact counts from the new attempt's TaskManagers",
             lambda: final_counts(list(tm_outputs(url).values())) == expected_lines(), timeout=30)
    assert report["state"] == "RUNNING"
    flink_yarn.miniflink("cancel", "-yid", app_id, job_id)
    assert flink_yarn.yarn.wait_app_state(app_id, "FINISHED", "FAILED", "KILLED")["finalStatus"] == "KILLED"


def test_a_jobmanager_yarn_gave_up_on_shuts_down_instead_of_running_twice(flink_yarn: FlinkOnYarn) -> None:
    """A session's AM NodeManager freezes (SIGSTOP): YARN declares the node LOST, fails the attempt and starts
    attempt 2 elsewhere. The first JobManager outlives its NM, as a Docker container outlives a crashed NM,
    and has no TaskManager whose loss would end it; its next allocate is refused with
    ApplicationAttemptNotFoundException and it shuts down instead of serving beside the new one."""
    import psutil

    res = flink_yarn.miniflink("yarn-session", "-d", *SMALL, "-D", "yarn.application-attempts=2")
    assert res.returncode == 0, res.stdout + res.stderr
    [app] = flink_yarn.flink_apps()
    app_id, first_url = app["id"], jm(app)
    [first] = flink_yarn.yarn.get(f"/apps/{app_id}/appattempts")["appAttempts"]["appAttempt"]
    [nm] = [proc for name, proc in flink_yarn.yarn.processes.procs if name.startswith("nm")
            and f"Registered with ResourceManager as {first['nodeId']} " in flink_yarn.yarn.processes.log(name)]
    [am] = [p for p in psutil.process_iter(["cmdline", "cwd"])
            if "flink_on_yarn.yarn.appmaster" in (p.info["cmdline"] or []) and app_id in (p.info["cwd"] or "")]
    log_dir = am.environ()["LOG_DIRS"]

    os.kill(nm.pid, signal.SIGSTOP)
    try:
        wait_for("attempt 2", lambda: len(flink_yarn.yarn.get(f"/apps/{app_id}/appattempts")["appAttempts"][
            "appAttempt"]) == 2, timeout=30)
        # Once exited it stays a zombie: its parent, the frozen NM, cannot reap it yet.
        wait_for("the first JobManager gone", lambda: not alive({am.pid}), timeout=20)
        jm_log = (Path(log_dir) / "jobmanager.log").read_text()
    finally:
        os.kill(nm.pid, signal.SIGCONT)
    assert "Fatal error of the YARN ResourceManager driver, shutting down: Application attempt " in jm_log, jm_log
    assert "Traceback" not in jm_log, jm_log
    wait_for("the new JobManager", lambda: (r := flink_yarn.yarn.app(app_id))["state"] == "RUNNING"
             and r["amRPCAddress"] not in ("", "N/A") and jm(r) != first_url, timeout=30)
    res = flink_yarn.miniflink("yarn-session", "-id", app_id, "stop")
    assert res.returncode == 0, res.stdout + res.stderr
    assert flink_yarn.yarn.wait_app_state(app_id, "FINISHED", "FAILED", "KILLED")["finalStatus"] == "SUCCEEDED"
