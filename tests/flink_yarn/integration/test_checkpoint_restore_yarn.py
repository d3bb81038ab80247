"""Checkpoints on YARN per-job: a checkpointed socket word count loses a TaskManager (SIGKILL) or its
JobManager (the AM: YARN starts attempt 2, whose JobManager finds the latest checkpoint through the pointer in
Redis), and restores from the latest checkpoint. The counts continue where they were (the socket source has
no position, as Flink's, so the LineServer's re-sent lines count again: every word ends at twice its count);
they do not restart at 1, which a restart from scratch would show as the counts of one pass."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from miniyarn import keys
from tests.flink_yarn.conftest import FlinkOnYarn, final_counts
from tests.flink_yarn.integration.test_modes import api, expected_lines, get, jm, lines, submit_socket_job, tm_outputs
from tests.integration.conftest import wait_for
from tests.line_server import LineServer

pytestmark = pytest.mark.integration
__all__ = ["lines"]  # the fixture, imported for this module's test


def _checkpointed_job(flink_yarn: FlinkOnYarn, lines: LineServer, ckpt: Path, *extra: str) -> tuple[str, str, str]:
    """Submits it, waits for the first counts and a checkpoint taken after them: (app id, job id, REST url)."""
    app_id, job_id = submit_socket_job(flink_yarn, lines, "-p", "2", "-D", "execution.checkpointing.interval=200",
                                       "-D", f"state.checkpoints.dir={ckpt}", *extra)
    url = api(flink_yarn, app_id)
    wait_for("first counts", lambda: final_counts(list(tm_outputs(url).values())) == expected_lines(), timeout=30)
    counted_at = int(time.time() * 1000)
    wait_for("a checkpoint after the counts", lambda: (get(f"{url}/jobs/{job_id}/checkpoints")["latest"]["completed"]
                                                       or {}).get("trigger_timestamp", 0) > counted_at, timeout=20)
    return app_id, job_id, url


@pytest.mark.timeout(300)  # above the waits' own ceilings on a loaded machine
def test_a_killed_taskmanager_restores_from_the_latest_checkpoint(flink_yarn: FlinkOnYarn, lines: LineServer,
                                                                   tmp_path: Path) -> None:
    import psutil

    ckpt = tmp_path / "checkpoints"
    app_id, job_id, url = _checkpointed_job(flink_yarn, lines, ckpt, "-D", "taskmanager.numberOfTaskSlots=1")
    victim = get(url + "/taskmanagers")["taskmanagers"][0]["id"]
    [tm] = [p for p in psutil.process_iter(["cmdline"])
            if f"taskmanager.resource-id={victim}" in (p.info["cmdline"] or [])]
    tm.kill()
    doubled = {w: 2 * n for w, n in expected_lines().items()}
    wait_for("counts continued from the checkpoint", lambda: final_counts(list(tm_outputs(url).values())) == doubled,
             timeout=90)
    job = get(f"{url}/jobs/{job_id}")
    assert job["state"] == "RUNNING" and job["restarts"] >= 1
    assert get(f"{url}/jobs/{job_id}/checkpoints")["counts"]["restored"] >= 1
    flink_yarn.miniflink("cancel", "-yid", app_id, job_id)
    assert flink_yarn.yarn.wait_app_state(app_id, "FINISHED", "FAILED", "KILLED")["finalStatus"] == "KILLED"


@pytest.mark.timeout(300)  # above the waits' own ceilings on a loaded machine
def test_am_attempt_2_restores_from_the_latest_checkpoint(flink_yarn: FlinkOnYarn, lines: LineServer,
                                                          tmp_path: Path) -> None:
    import psutil
    import redis

    ckpt = tmp_path / "checkpoints"  # reachable by both attempts' containers (one host here; a volume in compose)
    app_id, job_id, url = _checkpointed_job(flink_yarn, lines, ckpt, "-D", "yarn.application-attempts=2")
    first_jm = jm(flink_yarn.yarn.app(app_id))
    pointer = redis.Redis.from_url(flink_yarn.yarn.admin_url).get(keys.flink_checkpoint_pointer(app_id))
    assert pointer is not None and job_id.encode() in pointer and str(ckpt).encode() in pointer

    [am] = [p for p in psutil.process_iter(["cmdline", "cwd"])
            if "flink_on_yarn.yarn.appmaster" in (p.info["cmdline"] or []) and app_id in (p.info["cwd"] or "")]
    am.kill()
    wait_for("attempt 2", lambda: len(flink_yarn.yarn.get(f"/apps/{app_id}/appattempts")["appAttempts"]["appAttempt"])
             == 2, timeout=30)
    wait_for("the new JobManager", lambda: jm(flink_yarn.yarn.app(app_id)) != first_jm, timeout=30)
    wait_for("the job running again", lambda: get(f"{url}/jobs/{job_id}")["state"] == "RUNNING", timeout=30)
    doubled = {w: 2 * n for w, n in expected_lines().items()}
    wait_for("counts continued from the checkpoint",
             lambda: final_counts(list(tm_outputs(url).values())) == doubled, timeout=90)
    restored = get(f"{url}/jobs/{job_id}/checkpoints")["latest"]["restored"]
    assert restored is not None and restored["external_path"].startswith(str(ckpt / job_id))
    flink_yarn.miniflink("cancel", "-yid", app_id, job_id)
    assert flink_yarn.yarn.wait_app_state(app_id, "FINISHED", "FAILED", "KILLED")["finalStatus"] == "KILLED"
