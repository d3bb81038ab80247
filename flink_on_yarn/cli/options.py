"""The options more than one `miniflink` verb takes, each defined once (Flink's CliFrontendParser keeps
them as shared Option constants the same way), and the command class that hands `-py FILE args...` to
the program.

Flink's spellings are single-dash: `-yid`, `-yjm`, `-py` are click "long" options with a one-dash
prefix; `-Dk=v` and `-p4` are short options with the value attached, which click's parser reads as
Flink's commons-cli does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import annotated_types
import click

from flink_on_yarn.cli import completion
from flink_on_yarn.graph.job_graph import JobVertexSpec

F = TypeVar("F", bound=Callable[..., Any])

PROGRAM_FLAGS = ("-py", "--python")
CONTEXT = {"help_option_names": ["-h", "--help"]}


def split_program(argv: list[str]) -> tuple[list[str], str | None, list[str]]:
    """Options before `-py FILE`, the file, and the program's own arguments after it (which may look like
    options: they are the program's, as everything after the jar is in `flink run`)."""
    for i, a in enumerate(argv):
        if a in PROGRAM_FLAGS and i + 1 < len(argv):
            return argv[:i], argv[i + 1], argv[i + 2:]
    return argv, None, []


class ProgramCommand(click.Command):
    """A verb that runs a program: what follows `-py FILE` is passed through untouched (after `--`, click's
    end of options), into the `program_args` argument."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        opts, program, program_args = split_program(args)
        if program is not None:
            opts = [*opts, "--python", program, "--", *program_args]
        return super().parse_args(ctx, opts)


def program_option(f: F) -> F:
    f = click.argument("program_args", nargs=-1, type=click.UNPROCESSED)(f)
    return click.option("-py", "--python", "program", default=None, metavar="FILE", type=click.Path(),
                        help="the Python program to run; what follows it are the program's arguments")(f)


def dynamic_option(f: F) -> F:
    return click.option("-D", "dynamic", multiple=True, metavar="key=value",
                        help="a configuration key, as in flink-conf.yaml (repeatable)")(f)


def jobmanager_option(f: F) -> F:
    return click.option("-m", "--jobmanager", "jobmanager", default=None, metavar="host:port",
                        help="JobManager REST address host:port, or yarn-cluster")(f)


def yid_option(f: F) -> F:
    return click.option("-yid", "--yarnapplicationId", "yid", default=None, metavar="APPID",
                        shell_complete=completion.yarn_application_ids, help="a Flink cluster on YARN")(f)


def target_option(default: str | None = None) -> Callable[[F], F]:
    def deco(f: F) -> F:
        # Any string, not a click.Choice: a bad target is the verb's one-line error, as today.
        return click.option("-t", "--target", "target", default=default, shell_complete=completion.targets,
                            help="the deployment target: remote, yarn-per-job, yarn-session, yarn-application")(f)
    return deco


def parallelism_option(f: F) -> F:
    return click.option("-p", "--parallelism", "parallelism", type=int, default=None,
                        help="the program's default parallelism")(f)


def detached_option(f: F) -> F:
    return click.option("-d", "--detached", "detached", is_flag=True, help="submit and return")(f)


def client_options(f: F) -> F:
    """The options every client verb shares: where the cluster is (`-m`, `-yid`, `-t`) and `-D`."""
    for deco in (target_option(), yid_option, dynamic_option, jobmanager_option):
        f = deco(f)
    return f


def max_parallelism() -> int:
    """The job graph's limit on an operator's parallelism (JobVertexSpec's `le`), read from the model so that
    the CLI's check and the JobManager's validation cannot drift apart."""
    for meta in JobVertexSpec.model_fields["parallelism"].metadata:
        if isinstance(meta, annotated_types.Le):
            return int(str(meta.le))
    raise RuntimeError("JobVertexSpec.parallelism has no upper bound")


def check_parallelism(parallelism: int | None) -> None:
    """Flink's ProgramOptions check of -p, plus our job graph's limit; raises ValueError (one line)."""
    if parallelism is None:
        return
    if parallelism < 1:
        raise ValueError(f"The parallelism must be a positive number: {parallelism}")
    limit = max_parallelism()
    if parallelism > limit:
        raise ValueError(f"The parallelism {parallelism} is above the limit of {limit} an operator can run at")
