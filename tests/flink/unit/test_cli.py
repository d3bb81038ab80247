"""`miniflink` on click: Flink's spellings parse as Flink's commons-cli reads them, errors are one line with
Flink's exit codes, and shell completion answers from click's protocol (no cluster needed here: the live
ids are tests/flink/integration/test_cli_completion.py's)."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from flink_on_yarn.cli.main import cli, main
from flink_on_yarn.cli.options import check_parallelism, max_parallelism, split_program
from flink_on_yarn.graph.job_graph import JobVertexSpec
from flink_on_yarn.runtime import allocation_history as ev
from flink_on_yarn.yarn.descriptor import events_since
from flink_on_yarn.yarn.executors import job_runtime_ms


def params(verb: str, *args: str) -> dict[str, Any]:
    command = cli.commands[verb]
    return command.make_context(verb, list(args)).params


def test_flinks_attached_and_spaced_spellings_parse_alike() -> None:
    attached = params("run", "-p4", "-Dk=v", "-Dyarn.application.id=application_1_0001", "-py", "prog.py")
    spaced = params("run", "-p", "4", "-D", "k=v", "-D", "yarn.application.id=application_1_0001", "-py", "prog.py")
    assert attached == spaced
    assert attached["parallelism"] == 4
    assert attached["dynamic"] == ("k=v", "yarn.application.id=application_1_0001")
    assert attached["program"] == "prog.py"


def test_single_dash_long_options_keep_flinks_names() -> None:
    got = params("run", "-m", "yarn-cluster", "-yid", "application_1_0002", "-yjm", "1024", "-ytm", "2g",
                 "-ys", "2", "-ynm", "wc", "-yqu", "root.a", "-yD", "a=b", "-yd", "-d", "-t", "yarn-session",
                 "-py", "p.py")
    assert got["jobmanager"] == "yarn-cluster" and got["yid"] == "application_1_0002"
    assert (got["yjm"], got["ytm"], got["ys"], got["ynm"], got["yqu"]) == ("1024", "2g", "2", "wc", "root.a")
    assert got["yarn_dynamic"] == ("a=b",) and got["yd"] and got["detached"] and got["target"] == "yarn-session"
    session = params("yarn-session", "-id", "application_1_0003", "-jm", "512", "-tm", "1g", "-s", "3",
                     "-nm", "s", "-qu", "q", "stop")
    assert (session["app_id"], session["jm"], session["tm"], session["slots"], session["action"]) == (
        "application_1_0003", "512", "1g", "3", "stop")


def test_everything_after_the_program_is_the_programs() -> None:
    got = params("run", "-p", "2", "-py", "prog.py", "--input", "x", "-p", "9", "-D", "not=ours", "--", "-py", "y")
    assert got["parallelism"] == 2 and got["dynamic"] == ()
    assert got["program_args"] == ("--input", "x", "-p", "9", "-D", "not=ours", "--", "-py", "y")
    job = params("standalone-job", "start", "--python", "job.py", "--port", "1")
    assert (job["action"], job["program"], job["program_args"]) == ("start", "job.py", ("--port", "1"))
    assert split_program(["-d", "-py"]) == (["-d", "-py"], None, [])


@pytest.mark.parametrize(("verb", "value"), [("run", "0"), ("run", "-1"), ("run-application", "0")])
def test_parallelism_below_one_is_refused_as_flink_does(verb: str, value: str, tmp_path: Any) -> None:
    program = tmp_path / "p.py"
    program.write_text("raise SystemExit('never run')\n")
    result = CliRunner().invoke(cli, [verb, "-p", value, "-py", str(program)], prog_name="miniflink")
    assert result.exit_code == 1
    assert result.stderr == f"error: The parallelism must be a positive number: {value}\n"


def test_parallelism_above_the_graphs_limit_is_one_line_naming_the_limit(tmp_path: Any) -> None:
    program = tmp_path / "p.py"
    program.write_text("raise SystemExit('never run')\n")
    result = CliRunner().invoke(cli, ["run", "-p", "10000", "-py", str(program)], prog_name="miniflink")
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "1024" in result.stderr and "10000" in result.stderr
    assert "pydantic" not in result.stderr and "ValidationError" not in result.stderr


def test_the_clis_limit_is_the_job_graphs() -> None:
    limit = max_parallelism()
    vertex = {"id": "0" * 32, "name": "v"}
    JobVertexSpec(**vertex, parallelism=limit)
    with pytest.raises(ValidationError):
        JobVertexSpec(**vertex, parallelism=limit + 1)
    check_parallelism(None)
    check_parallelism(limit)
    with pytest.raises(ValueError, match="positive number: 0"):
        check_parallelism(0)


def test_main_keeps_the_help_unknown_verb_and_usage_statuses(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 1 and "miniflink run" in capsys.readouterr().out
    assert main(["--help"]) == 0 and "miniflink yarn-session" in capsys.readouterr().out
    assert main(["bogus"]) == 1
    assert capsys.readouterr().err == "error: unknown command 'bogus'; see `miniflink --help`\n"
    assert main(["run", "--no-such-flag"]) == 2 and "No such option" in capsys.readouterr().err
    assert main(["cancel"]) == 2 and "Missing argument 'JOB_ID'" in capsys.readouterr().err
    assert main(["run", "-D", "no-equals", "-py", "x.py"]) == 1
    assert capsys.readouterr().err == "error: -D expects key=value, got 'no-equals'\n"
    assert main(["run", "--help"]) == 0 and "-yid, --yarnapplicationId" in capsys.readouterr().out


def complete(words: str, shell: str = "bash", **env: str) -> list[str]:
    """What click's completion answers for the words typed so far (the last one being completed)."""
    parts = words.split(" ")
    result = CliRunner().invoke(cli, [], prog_name="miniflink", env={
        "_MINIFLINK_COMPLETE": f"{shell}_complete", "COMP_WORDS": words, "COMP_CWORD": str(len(parts) - 1),
        **env})
    assert result.exit_code == 0, result.output
    return [line.split(",", 1)[1] for line in result.stdout.splitlines() if line]


def test_completion_offers_verbs_and_flags() -> None:
    assert complete("miniflink r") == ["run", "run-application"]
    assert set(complete("miniflink ")) >= {"run", "list", "cancel", "yarn-session", "start-cluster", "taskmanager"}
    assert complete("miniflink run -y") == ["-yid", "-yjm", "-ytm", "-ys", "-ynm", "-yqu", "-yD", "-yd"]
    assert complete("miniflink run -t yarn-") == ["yarn-per-job", "yarn-session", "yarn-application"]
    assert complete("miniflink taskmanager st") == ["start", "stop", "stop-all", "start-foreground"]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_completion_of_live_ids_is_quietly_empty_when_nothing_answers(tmp_path: Any) -> None:
    port = closed_port()
    t0 = time.monotonic()
    assert complete(f"miniflink cancel -m 127.0.0.1:{port} ") == []
    assert complete("miniflink list -yid ", MINIYARN_RM_ADDRESS=f"http://127.0.0.1:{port}",
                    TMPDIR=str(tmp_path)) == []
    assert complete("miniflink cancel -yid application_1_0001 ", MINIYARN_RM_ADDRESS=f"http://127.0.0.1:{port}",
                    TMPDIR=str(tmp_path)) == []
    assert time.monotonic() - t0 < 10


@pytest.mark.parametrize(("shell", "marker"), [("bash", "_miniflink_completion()"), ("zsh", "#compdef miniflink"),
                                               ("fish", "complete --no-files --command miniflink")])
def test_completion_scripts_are_clicks(shell: str, marker: str) -> None:
    result = CliRunner().invoke(cli, [], prog_name="miniflink", env={"_MINIFLINK_COMPLETE": f"{shell}_source"})
    assert result.exit_code == 0 and marker in result.stdout


def test_per_job_runtime_after_the_jobmanager_is_gone_comes_from_yarns_report() -> None:
    report = {"startedTime": 1_000, "finishedTime": 9_500}
    assert job_runtime_ms(report, 2_000) == 7_500  # the job's own start, as its JobManager said
    assert job_runtime_ms(report, 0) == 8_500  # never seen: the application's
    assert job_runtime_ms({"startedTime": 1_000, "finishedTime": 0}, 2_000) == 0


def test_a_click_usage_error_is_not_a_traceback() -> None:
    result = CliRunner().invoke(cli, ["list", "-a", "extra"], prog_name="miniflink")
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    assert "Got unexpected extra argument" in result.stderr


def test_a_session_jobs_taskmanager_counts_are_its_own() -> None:
    earlier = [{"timestamp": 1_000, "event": ev.TASKMANAGER_REQUESTED}, {"timestamp": 1_100,
                                                                          "event": ev.TASKMANAGER_ALLOCATED}] * 2
    this_job = [{"timestamp": 5_000, "event": ev.TASKMANAGER_REQUESTED},
                {"timestamp": 5_200, "event": ev.TASKMANAGER_ALLOCATED},
                {"timestamp": 5_300, "event": ev.SLOTS_ALLOCATED}]
    seen = events_since(earlier + this_job, since_ms=4_900)  # the job's start-time, the JobManager's clock
    assert (seen[ev.TASKMANAGER_REQUESTED], seen[ev.TASKMANAGER_ALLOCATED]) == (1, 1)
    everything = events_since(earlier + this_job, since_ms=0)  # per-job: the whole history is the job's
    assert (everything[ev.TASKMANAGER_REQUESTED], everything[ev.TASKMANAGER_ALLOCATED]) == (3, 3)
