"""`miniflink cancel <TAB>` completes the JobManager's live job ids (with their names), asking it with the
verb's own -m and -D; a finished job is not offered."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from click.testing import CliRunner

from flink_on_yarn.cli.main import cli
from flink_on_yarn.security import secret as cluster_secret
from tests.flink.conftest import ROOT, FlinkCluster, wait_for
from tests.line_server import LineServer

pytestmark = pytest.mark.integration


def complete(words: str, shell: str = "zsh") -> list[str]:
    parts = words.split(" ")
    result = CliRunner().invoke(cli, [], prog_name="miniflink", env={
        "_MINIFLINK_COMPLETE": f"{shell}_complete", "COMP_WORDS": words, "COMP_CWORD": str(len(parts) - 1)})
    assert result.exit_code == 0, result.output
    return [line for line in result.stdout.splitlines() if line]


def test_cancel_completes_the_live_job_ids(flink: Callable[..., FlinkCluster]) -> None:
    cluster = flink(tms=1, slots=2)
    lines = LineServer(["to be or not to be"])
    try:
        running = cluster.miniflink("run", "-m", cluster.rest, "-d", "-py", str(ROOT / "examples/wordcount.py"),
                                    "--hostname", "127.0.0.1", "--port", str(lines.port))
        assert running.returncode == 0, running.stderr
        job_id = running.stdout.split("JobID ")[1].split()[0]
        cluster.wait_state(job_id, ("RUNNING",))
        done = cluster.miniflink("run", "-m", cluster.rest, "-py", str(ROOT / "examples/wordcount.py"))
        assert done.returncode == 0, done.stderr
        secret = f"-D {cluster_secret.FILE_KEY}={cluster.secret_file}"
        # zsh's protocol: type, value, help ("_" for none), a line each.
        assert complete(f"miniflink cancel -m {cluster.rest} {secret} ") == [
            "plain", job_id, "StreamWordCount (RUNNING)"]
        assert complete(f"miniflink cancel -m {cluster.rest} {secret} {job_id[:6]}") == [
            "plain", job_id, "StreamWordCount (RUNNING)"]
        assert complete(f"miniflink cancel -m {cluster.rest} {secret} ffff") == []
        # Without the cluster's secret the JobManager refuses: nothing, quietly.
        assert complete(f"miniflink cancel -m {cluster.rest} ") == []
        cluster.miniflink("cancel", "-m", cluster.rest, job_id)
        wait_for(lambda: complete(f"miniflink cancel -m {cluster.rest} {secret} ") == [], 20, "no live job")
    finally:
        lines.close()
