"""launch_container.sh: expansion, environment and the script itself (run through bash, no NM)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from nodemanager.executor import create_executor
from nodemanager.launch import ContainerPaths, NodeFacts, command_line, container_env, expand, launch_script

CID = "container_1700000000000_0001_01_000002"
APP = "application_1700000000000_0001"


def paths(root: Path) -> ContainerPaths:
    return ContainerPaths.of([root / "local"], [root / "logs"], "bob", APP, CID)


def test_expansions_as_yarn_does_them() -> None:
    assert expand("x 1><LOG_DIR>/stdout 2><LOG_DIR>/stderr", "/l") == "x 1>/l/stdout 2>/l/stderr"
    assert expand("{{PWD}}<CPS>{{PWD}}/lib/*<CPS>{{CLASSPATH}}", "/l") == "$PWD:$PWD/lib/*:$CLASSPATH"
    assert expand("{{not a var}} <LOG_DIRS>", "/l") == "{{not a var}} <LOG_DIRS>"


def test_commands_are_joined_by_spaces_into_one_line() -> None:
    assert command_line(["python", "-m", "am", "1><LOG_DIR>/AppMaster.stdout"], "/l") == \
        "python -m am 1>/l/AppMaster.stdout"


def test_layout_is_yarns(tmp_path: Path) -> None:
    p = paths(tmp_path)
    assert p.work_dir == tmp_path / "local/usercache/bob/appcache" / APP / CID
    assert p.log_dir == tmp_path / "logs" / APP / CID


def test_env_has_yarns_variables_and_launch_context_cannot_override_them(tmp_path: Path) -> None:
    node = NodeFacts(host="h1", port=4242, python="/py")
    env = container_env(CID, APP, "bob", "/home/bob", paths(tmp_path), node,
                        {"CONTAINER_ID": "forged", "MINIYARN_REDIS_URL": "redis://scoped", "A": "<LOG_DIR>/a"},
                        {"PATH": "/usr/bin", "SECRET": "nm-only", "PYTHONPATH": "/src"}).merged()
    assert env["CONTAINER_ID"] == CID
    assert (env["NM_HOST"], env["NM_PORT"], env["NM_HTTP_PORT"]) == ("h1", "4242", "4242")
    assert env["APPLICATION_WEB_PROXY_BASE"] == f"/proxy/{APP}"
    assert env["LOG_DIRS"] == str(paths(tmp_path).log_dir) and env["PWD"] == str(paths(tmp_path).work_dir)
    assert env["LOCAL_DIRS"] == str(tmp_path / "local/usercache/bob/appcache" / APP)
    assert env["USER"] == "bob" and env["HOME"] == "/home/bob" and env["PYTHONUNBUFFERED"] == "1"
    assert env["PATH"] == "/usr/bin" and env["PYTHONPATH"] == "/src" and "SECRET" not in env
    assert env["MINIYARN_REDIS_URL"] == "redis://scoped"  # the RM gives an AM its attempt's credential so
    assert env["PYTHON"] == "/py" and env["A"] == f"{paths(tmp_path).log_dir}/a"


def test_no_redis_url_unless_the_launch_context_has_one(tmp_path: Path) -> None:
    node = NodeFacts(host="h1", port=4242, python="/py")
    env = container_env(CID, APP, "bob", "/home/bob", paths(tmp_path), node, {},
                        {"PATH": "/usr/bin", "MINIYARN_REDIS_URL": "redis://nm:secret@r:1/2",
                         "MINIYARN_CREDENTIALS_DIR": "/creds"}).merged()
    assert "MINIYARN_REDIS_URL" not in env and "MINIYARN_CREDENTIALS_DIR" not in env


def test_script_exports_then_execs_the_command(tmp_path: Path) -> None:
    p = paths(tmp_path)
    p.work_dir.mkdir(parents=True)
    node = NodeFacts(host="h", port=1, python="/py")
    env = container_env(CID, APP, "bob", "/home/bob", p, node,
                        {"CP": "{{PWD}}/lib", "Q": 'say "hi" `x` \\ done'}, {"PATH": "/usr/bin:/bin"})
    script = p.work_dir / "launch_container.sh"
    script.write_text(launch_script(env, command_line(['echo "$CONTAINER_ID|$CP|$Q"'], str(p.log_dir))))
    out = subprocess.run(["/bin/bash", str(script)], cwd=p.work_dir, env=env.nm, capture_output=True, text=True,
                         timeout=10)
    assert out.returncode == 0, out.stderr
    assert out.stdout == f'{CID}|{p.work_dir}/lib|say "hi" `x` \\ done\n'


def test_no_nm_identity_leaks_into_a_process_container(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {"USER": "root", "LOGNAME": "root", "HOME": "/root", "SUDO_USER": "admin"}.items():
        monkeypatch.setenv(key, value)
    inherited = create_executor("process").inherited({})
    assert not {"USER", "LOGNAME", "HOME", "SUDO_USER"} & set(inherited.env)
    node = NodeFacts(host="h", port=1, python="/py")
    p = paths(tmp_path)
    # What the container manager passes: the inherited HOME, else the work dir.
    env = container_env(CID, APP, "bob", inherited.env.get("HOME", ""), p, node, {}, inherited.env).merged()
    assert (env["USER"], env["LOGNAME"], env["HOME"]) == ("bob", "bob", str(p.work_dir))
    assert "SUDO_USER" not in env and "/root" not in env.values()
