"""`miniyarn` on click, through click's CliRunner (no RM): YARN's single-dash spellings, usage errors exit 2,
and shell completion of verbs, flags and states, quiet when the RM does not answer."""

from __future__ import annotations

import doctest

import pytest
from click.testing import CliRunner

from miniyarn.cli import completion
from miniyarn.cli.main import COMPLETE_VAR, cli

NOWHERE = "http://127.0.0.1:9"


def complete(words: str, shell: str = "bash", env: dict[str, str] | None = None) -> list[str]:
    """What the shell would offer for `words`: the values (bash's protocol, `type,value` a line each), or with
    another shell its protocol's lines as they are."""
    parts = words.split(" ")
    result = CliRunner().invoke(cli, [], prog_name="miniyarn", env={
        COMPLETE_VAR: f"{shell}_complete", "COMP_WORDS": words, "COMP_CWORD": str(len(parts) - 1),
        "MINIYARN_RM_ADDRESS": NOWHERE, **(env or {})})
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line]
    return [line.split(",", 1)[1] for line in lines] if shell == "bash" else lines


def test_verbs_complete() -> None:
    assert complete("miniyarn app") == ["application", "applicationattempt"]
    assert set(complete("miniyarn ")) >= {"application", "applicationattempt", "container", "node", "logs", "queue",
                                          "rmadmin", "minicluster", "token", "credentials", "resourcemanager",
                                          "nodemanager", "distributed-shell"}


def test_single_dash_flags_complete() -> None:
    assert complete("miniyarn application -app") == ["-appStates", "-appTypes"]
    assert "-applicationId" in complete("miniyarn logs -")
    assert complete("miniyarn node -st") == ["-status", "-states"]


def test_states_complete_item_by_item() -> None:
    assert complete("miniyarn application -list -appStates RUNNING,ACC") == ["RUNNING,ACCEPTED"]
    assert complete("miniyarn application -list -appStates fin") == ["FINISHED"]
    assert complete("miniyarn node -list -states LO") == ["LOST"]


@pytest.mark.parametrize("words", ["miniyarn application -status ", "miniyarn application -kill application_",
                                   "miniyarn applicationattempt -status ", "miniyarn container -status ",
                                   "miniyarn node -status ", "miniyarn queue -status ",
                                   "miniyarn logs -applicationId "])
def test_ids_from_an_rm_that_does_not_answer_are_nothing(words: str) -> None:
    assert complete(words) == []


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_other_shells_get_nothing_quietly_too(shell: str) -> None:
    assert complete("miniyarn application -status ", shell) == []


def test_completion_scripts_for_each_shell() -> None:
    for shell, marker in (("bash", "complete -o"), ("zsh", "compdef"), ("fish", "complete --no-files")):
        result = CliRunner().invoke(cli, [], prog_name="miniyarn", env={COMPLETE_VAR: f"{shell}_source"})
        assert result.exit_code == 0 and marker in result.stdout and COMPLETE_VAR in result.stdout, result.stdout


def test_an_id_being_typed_names_its_application() -> None:
    assert doctest.testmod(completion).failed == 0
    assert completion.named_app("appattempt_1700000000000_0003") is None  # the sequence may still grow
    assert completion.named_app("container_1700000000000_0012_01_") == "application_1700000000000_0012"


def test_usage_errors_exit_2_and_name_the_options() -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["application"])
    assert result.exit_code == 2 and "one of the arguments -list -status -kill is required" in result.stderr
    result = runner.invoke(cli, ["node", "-list", "-status", "n:1"])
    assert result.exit_code == 2 and "argument -status: not allowed with argument -list" in result.stderr
    result = runner.invoke(cli, ["application", "-list", "stray"])
    assert result.exit_code == 2 and "unrecognized arguments: stray" in result.stderr
    result = runner.invoke(cli, ["queue"])
    assert result.exit_code == 2 and "Missing option '-status'" in result.stderr
    result = runner.invoke(cli, ["nosuchverb"])
    assert result.exit_code == 2 and "No such command 'nosuchverb'" in result.stderr


def test_failures_are_one_line_and_255() -> None:
    result = CliRunner().invoke(cli, ["application", "-kill", "application_1_0001", "application_1_0002",
                                      "--rm-address", NOWHERE])
    assert result.exit_code == 255 and result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"Cannot reach the ResourceManager at {NOWHERE}")
    result = CliRunner().invoke(cli, ["applicationattempt", "-status", "not-an-attempt", "--rm-address", NOWHERE])
    assert result.exit_code == 255 and "not-an-attempt" in result.stderr


def test_daemon_verbs_hand_their_words_to_the_daemons_parser() -> None:
    result = CliRunner().invoke(cli, ["resourcemanager", "--help"])
    assert result.exit_code == 0 and "usage: miniyarn resourcemanager" in result.stdout
    assert "--advertise-host" in result.stdout
    result = CliRunner().invoke(cli, ["nodemanager", "--no-such-flag"])
    assert result.exit_code == 2 and "unrecognized arguments: --no-such-flag" in result.stderr


def test_rmadmin_takes_the_service_id_after_forcemanual() -> None:
    ha = ["-D", "yarn.resourcemanager.ha.enabled=true", "-D", "yarn.resourcemanager.ha.rm-ids=rm1,rm2",
          "-D", "yarn.resourcemanager.webapp.address.rm1=127.0.0.1:9",
          "-D", "yarn.resourcemanager.webapp.address.rm2=127.0.0.1:9"]
    result = CliRunner().invoke(cli, ["rmadmin", "-transitionToStandby", "rm1", *ha])
    assert result.exit_code == 255 and result.stderr.startswith("Automatic failover is enabled for 127.0.0.1:9")
    result = CliRunner().invoke(cli, ["rmadmin", "-transitionToStandby", "--forcemanual", "rm3", *ha])
    assert result.exit_code == 255 and "rm3 is not one of yarn.resourcemanager.ha.rm-ids (rm1,rm2)" in result.stderr
    result = CliRunner().invoke(cli, ["rmadmin", "-getServiceState", "-getAllServiceState", *ha])
    assert result.exit_code == 2


def test_distributed_shell_takes_yarns_spellings() -> None:
    result = CliRunner().invoke(cli, ["distributed-shell", "-shell_command", "true", "-num_containers", "0",
                                      "--rm-address", NOWHERE])
    assert result.exit_code == 2
    assert result.stderr == "Invalid no. of containers specified, exiting. Specified numContainer=0\n"
    result = CliRunner().invoke(cli, ["distributed-shell", "--shell-command", "true", "--rm-address", NOWHERE])
    assert result.exit_code == 2 and result.stderr.startswith("distributed-shell: Cannot reach the ResourceManager")
    assert complete("miniyarn distributed-shell -num") == ["-num_containers"]
