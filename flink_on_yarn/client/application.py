"""Application mode: the JobManager runs the user's main itself (standalone-job, and YARN application mode)."""

from __future__ import annotations

import logging
import sys

from flink_on_yarn.client.executor import ExecutionContext
from flink_on_yarn.client.program import ProgramError, run_program
from flink_on_yarn.client.rest_client import RemoteExecutor
from flink_on_yarn.common.config import Configuration

log = logging.getLogger("flink_on_yarn.application")


def run_application(program: str, args: list[str], rest_url: str, config: Configuration, secret: bytes) -> int:
    """Runs `program` against this JobManager (authenticated with its cluster `secret`), attached; 0 when
    all its jobs finished."""
    ctx = ExecutionContext(executor=RemoteExecutor(rest_url, token=secret.decode()), default_parallelism=config.get_int(
        "parallelism.default"), detached=False, config=config.explicit())
    try:
        run_program(program, args, ctx)
    except ProgramError as e:
        log.error("application failed: %s", e)
        print(f"error: {e}", file=sys.stderr, flush=True)
        return 1
    log.info("application finished")
    return 0
