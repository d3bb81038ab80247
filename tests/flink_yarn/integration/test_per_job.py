"""Per-job clusters on a real RM and two NMs: the JobManager asks YARN for exactly the TaskManagers its
job's slots need, the job's counts are exact, and the application ends with the job."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from flink_on_yarn.yarn.options import CONF_FILE
from tests.flink_yarn.conftest import ROOT, SMALL, FlinkOnYarn, final_counts
from tests.integration.conftest import wait_for

pytestmark = pytest.mark.integration

WORDCOUNT = str(ROOT / "examples/wordcount.py")


def expected_words() -> Counter[str]:
    import importlib.util

    spec = importlib.util.spec_from_file_location("wc", WORDCOUNT)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return Counter(w for line in mod.WORDS for w in line.lower().split())


@pytest.mark.parametrize(("slots", "taskmanagers"), [(2, 2), (1, 4)])
def test_per_job_wordcount_gets_exactly_the_taskmanagers_its_slots_need(
        flink_yarn: FlinkOnYarn, slots: int, taskmanagers: int) -> None:
    res = flink_yarn.miniflink("run", "-t", "yarn-per-job", "-p", "4", "-D", f"taskmanager.numberOfTaskSlots={slots}",
                               *SMALL, "-py", WORDCOUNT)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Job has been submitted with JobID " in res.stdout
    assert "YARN application has been deployed successfully." in res.stdout
    assert "with final status SUCCEEDED" in res.stdout, res.stdout
    [app] = flink_yarn.flink_apps()
    assert app["state"] == "FINISHED" and app["finalStatus"] == "SUCCEEDED"
    wait_for("every container released", lambda: flink_yarn.containers_of(app["id"]) == 0)
    logs = flink_yarn.aggregated_logs(app["id"])
    containers = {k.split()[0] for k in logs}
    tm_outs = [v for k, v in logs.items() if k.endswith("taskmanager.out")]
    assert len(containers) == 1 + taskmanagers, sorted(logs)
    assert len(tm_outs) == taskmanagers
    assert final_counts(tm_outs) == expected_words()
    jm_log = next(v for k, v in logs.items() if k.endswith("jobmanager.log"))
    assert f"Requesting new TaskManager container with <memory:256, vCores:{slots}>" in jm_log
    assert "Registering TaskManager" in jm_log
    assert CONF_FILE  # the configuration travels as a local resource (checked by the TaskManagers' use of it)


def test_flink_run_m_yarn_cluster_is_a_per_job_cluster_sized_by_its_y_options(flink_yarn: FlinkOnYarn) -> None:
    """Flink's older YARN syntax, as tutorials still write it: -m yarn-cluster with -ys/-ytm/-yjm/-ynm/-yD."""
    res = flink_yarn.miniflink("run", "-m", "yarn-cluster", "-p", "4", "-ys", "2", "-yjm", "256", "-ytm", "256",
                               "-ynm", "legacy wordcount", "-yD", "heartbeat.interval=500",
                               "-yD", "heartbeat.timeout=4000", "-py", WORDCOUNT)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "with final status SUCCEEDED" in res.stdout, res.stdout
    assert re.search(r"Program execution finished\nJob with JobID [0-9a-f]{32} has finished\.\nJob Runtime: \d+ ms\n",
                     res.stdout), res.stdout
    [app] = flink_yarn.flink_apps()
    assert app["name"] == "legacy wordcount" and app["finalStatus"] == "SUCCEEDED"
    logs = flink_yarn.aggregated_logs(app["id"])
    tm_outs = [v for k, v in logs.items() if k.endswith("taskmanager.out")]
    assert len(tm_outs) == 2 and final_counts(tm_outs) == expected_words()
    jm_log = next(v for k, v in logs.items() if k.endswith("jobmanager.log"))
    assert "Requesting new TaskManager container with <memory:256, vCores:2>" in jm_log


def test_taskmanager_bigger_than_yarn_allows_fails_at_once(flink_yarn: FlinkOnYarn) -> None:
    res = flink_yarn.miniflink("run", "-t", "yarn-per-job", *SMALL, "-D", "taskmanager.memory.process.size=64g",
                               "-py", WORDCOUNT)
    assert res.returncode == 1
    assert "Maximum Memory: 4096 MB, requested: 65536 MB" in res.stderr
    assert "taskmanager.memory.process.size" in res.stderr
    assert flink_yarn.flink_apps() == []


def test_unknown_queue_and_missing_program_leave_no_application(flink_yarn: FlinkOnYarn) -> None:
    res = flink_yarn.miniflink("run", "-t", "yarn-per-job", *SMALL, "-D", "yarn.application.queue=nope",
                               "-py", WORDCOUNT)
    assert res.returncode == 1
    assert "The specified queue 'nope' does not exist" in res.stderr
    res = flink_yarn.miniflink("run", "-t", "yarn-per-job", "-py", "/no/such/program.py")
    assert res.returncode == 1
    assert "does not exist" in res.stderr
    assert flink_yarn.flink_apps() == []


def test_job_wanting_more_than_yarn_can_give_fails_with_the_slot_request_timeout(flink_yarn: FlinkOnYarn) -> None:
    # Two 4 GB nodes hold three 2 GB TaskManagers next to the JobManager; the job needs eight.
    res = flink_yarn.miniflink("run", "-t", "yarn-per-job", "-p", "8", *SMALL,
                               "-D", "taskmanager.memory.process.size=2048m", "-D", "slot.request.timeout=3 s",
                               "-py", WORDCOUNT)
    assert res.returncode == 1
    assert "Waiting for YARN: " in res.stdout, res.stdout
    assert "NoResourceAvailableException: Could not acquire the minimum required resources" in res.stderr
    [app] = flink_yarn.flink_apps()
    report = flink_yarn.yarn.wait_app_state(app["id"], "FINISHED", "FAILED", "KILLED")
    assert report["finalStatus"] == "FAILED"
    assert "slot.request.timeout" in report["diagnostics"]
    assert "pending at YARN" in report["diagnostics"]
    wait_for("every container released", lambda: flink_yarn.containers_of(app["id"]) == 0)


def test_application_failing_during_deployment_shows_yarns_diagnostics_and_the_logs_command(
        flink_yarn: FlinkOnYarn) -> None:
    # The client does not read heartbeat.timeout; the JobManager does, and cannot start with this one.
    res = flink_yarn.miniflink("run", "-t", "yarn-per-job", *SMALL, "-D", "heartbeat.timeout=soon", "-py", WORDCOUNT)
    assert res.returncode == 1
    assert res.stderr.startswith("error: The YARN application unexpectedly switched to state FAILED during deployment.")
    assert "Diagnostics from YARN: " in res.stderr and "exitCode" in res.stderr
    [app] = flink_yarn.flink_apps()
    assert f"miniyarn logs -applicationId {app['id']}" in res.stderr
    logs = flink_yarn.aggregated_logs(app["id"])
    assert any("not a duration" in v for k, v in logs.items() if k.endswith("jobmanager.log"))
