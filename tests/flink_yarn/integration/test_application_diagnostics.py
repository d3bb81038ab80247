"""A YARN application cluster whose program fails: the application's diagnostics name the program and
why (before, "The application's main method ended with jobs none")."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.flink_yarn.conftest import SMALL, FlinkOnYarn

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


def test_a_failing_program_is_named_in_the_diagnostics(flink_yarn: FlinkOnYarn, tmp_path: Path) -> None:
    program = tmp_path / "broken_job.py"
    program.write_text("raise ValueError('no input topic')\n")
    flink_yarn.miniflink("run-application", "-t", "yarn-application", *SMALL, "-py", str(program))
    [app] = flink_yarn.flink_apps()
    report = flink_yarn.yarn.wait_app_state(app["id"], "FINISHED", "FAILED", "KILLED", timeout=60)
    assert report["finalStatus"] == "FAILED", report
    assert "broken_job.py: the program raised ValueError: no input topic" in report["diagnostics"], report
