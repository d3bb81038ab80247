"""Application mode: the JobManager runs the user's main itself (standalone-job, and YARN application mode)."""

from __future__ import annotations

import logging
import os
import sys

from flink_on_yarn.client.executor import ExecutionContext
from flink_on_yarn.client.program import ProgramError, run_program
from flink_on_yarn.client.rest_client import RemoteExecutor
from flink_on_yarn.common.config import Configuration

log = logging.getLogger("flink_on_yarn.application")


def run_application(program: str, args: list[str], rest_url: str, config: Configuration, secret: bytes,
                    failures: list[str] | None = None) -> int:
    """Runs `program` against this JobManager (authenticated with its cluster `secret`), attached; 0 when
    all its jobs finished. Why it failed (one line naming the program) is appended to `failures` when given,
    for the application's diagnostics."""
    ctx = ExecutionContext(executor=RemoteExecutor(rest_url, token=secret.decode()), default_parallelism=config.get_int(
        "parallelism.default"), detached=False, config=config.explicit())
    name = os.path.basename(program)
    log.info("Running the application's program %s%s", program, f" with arguments {args}" if args else "")
    try:
        run_program(program, args, ctx)
    except ProgramError as e:
        log.error("application failed: %s: %s", name, e)
        print(f"error: {e}", file=sys.stderr, flush=True)
        if failures is not None:
            failures.append(f"{name}: {e}")
        return 1
    log.info("application finished: %s returned", name)
    return 0
