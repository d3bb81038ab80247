"""What a `miniyarn` command imports before it does anything: each command is a fresh interpreter, so every
module its start pulls in is paid on every command (pydantic's models and httpx with rich cost ~0.3 s)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("pydantic", "httpx", "redis")


def loaded_after(code: str) -> set[str]:
    """The heavy packages in sys.modules of a fresh interpreter after it ran `code`."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    return set(json.loads(out.stdout.splitlines()[-1])) & set(HEAVY)


def test_the_cli_module_imports_no_rest_client_no_models_and_no_redis() -> None:
    assert loaded_after("import miniyarn.cli.main") == set()
    # The completers, named by every verb's options, ask the RM only when a TAB does.
    assert loaded_after("import miniyarn.cli.completion, miniyarn.cli.options") == set()


def test_a_verb_imports_only_what_it_uses() -> None:
    resolve = "import click\nfrom miniyarn.cli.main import cli\ncli.get_command(click.Context(cli), {!r})"
    # A report verb speaks REST and reads JSON: httpx, not the records' pydantic models.
    assert loaded_after(resolve.format("application")) == {"httpx"}
    assert loaded_after(resolve.format("token")) == set()
    # The one-command cluster starts Redis and checks it: it does need redis.
    assert "redis" in loaded_after(resolve.format("minicluster"))
