"""Application mode names the program it runs: in the JobManager's log, and in why it failed (what the YARN
AM puts in the application's diagnostics). No cluster: the programs fail before they submit a job."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from flink_on_yarn.client.application import run_application
from flink_on_yarn.common.config import Configuration

NOWHERE = "http://127.0.0.1:9"


def test_a_missing_program_is_named(caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> None:
    failures: list[str] = []
    with caplog.at_level(logging.INFO, logger="flink_on_yarn.application"):
        assert run_application("/nowhere/etl.py", ["--day", "1"], NOWHERE, Configuration({}), b"s", failures) == 1
    assert failures == ["etl.py: the program /nowhere/etl.py does not exist"]
    assert "Running the application's program /nowhere/etl.py with arguments ['--day', '1']" in caplog.text
    assert "application failed: etl.py: the program /nowhere/etl.py does not exist" in caplog.text
    assert capsys.readouterr().err == "error: the program /nowhere/etl.py does not exist\n"


def test_a_program_that_raises_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    program = tmp_path / "broken_job.py"
    program.write_text("raise ValueError('no input topic')\n")
    failures: list[str] = []
    assert run_application(str(program), [], NOWHERE, Configuration({}), b"s", failures) == 1
    [why] = failures
    assert why.startswith("broken_job.py: the program raised ValueError: no input topic"), why
    capsys.readouterr()
