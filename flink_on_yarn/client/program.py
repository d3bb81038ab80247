"""Runs a user's program as `flink run` does: its `execute()` calls go to the context's executor, and every
way it can go wrong becomes one line naming the cause.
"""

from __future__ import annotations

import os
import runpy
import sys
import traceback
from pathlib import Path

from flink_on_yarn.client.executor import ExecutionContext, set_context
from flink_on_yarn.graph.chaining import ShipError


class ProgramError(RuntimeError):
    """The program could not be run or submitted; str() is the one-line message."""


def _where(tb: object, program: Path) -> str:
    frames = [f for f in traceback.extract_tb(tb) if Path(f.filename).resolve() == program]  # type: ignore[arg-type]
    return f" (at {program.name}:{frames[-1].lineno})" if frames else ""


def run_program(path: str, args: list[str], ctx: ExecutionContext) -> list[str]:
    """Runs the program's main; returns the ids of the jobs it submitted."""
    program = Path(path).resolve()
    if not program.is_file():
        raise ProgramError(f"the program {path} does not exist")
    saved_argv, saved_path = sys.argv, list(sys.path)
    sys.argv = [str(program), *args]
    sys.path.insert(0, str(program.parent))
    set_context(ctx)
    try:
        runpy.run_path(str(program), run_name="__main__")
    except ShipError as e:
        raise ProgramError(str(e)) from None
    except SystemExit as e:
        if e.code not in (None, 0):
            raise ProgramError(f"the program exited with status {e.code} before submitting a job") from None
    except Exception as e:
        _, _, tb = sys.exc_info()
        name = type(e).__name__
        if name in ("RestError", "DeploymentError"):  # the cluster's own words, already one clear message
            raise ProgramError(str(e)) from None
        raise ProgramError(f"the program raised {name}: {e}{_where(tb, program)}") from None
    finally:
        sys.argv, sys.path[:] = saved_argv, saved_path
        set_context(None)
    if not ctx.submitted:
        raise ProgramError(f"the program {os.path.basename(path)} did not call execute() on its "
                           "StreamExecutionEnvironment; no job was submitted")
    return list(ctx.submitted)
