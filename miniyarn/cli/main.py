"""`miniyarn`: the `yarn` command's verbs (resourcemanager, nodemanager, application, applicationattempt,
container, node, logs, queue, rmadmin), plus distributed-shell, a one-command local cluster (minicluster) and
`token` (a signed user token for the REST API and web UI), on click, with click's shell completion
(completion.py).

The daemons are programs of their own (`python -m resourcemanager` parses the same flags): their verbs hand
the words after them to that program's parser, imported only when asked for, so `miniyarn node -list` never
imports the RM. The client verbs' modules too are imported only when their verb runs (or `--help` lists them
all): `miniyarn token` needs neither the REST client (httpx) nor the minicluster's Redis client.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from miniyarn.cli.options import CONTEXT

COMPLETE_VAR = "_MINIYARN_COMPLETE"
# The daemons, whose programs parse their own flags: (module with add_arguments/run, help).
PROGRAMS = {
    "resourcemanager": ("resourcemanager.cli", "run the ResourceManager"),
    "nodemanager": ("nodemanager.cli", "run a NodeManager"),
}
# The client verbs: the module whose `command` each one is.
VERBS = {
    "application": "miniyarn.cli.application",
    "applicationattempt": "miniyarn.cli.attempt",
    "container": "miniyarn.cli.container",
    "node": "miniyarn.cli.node",
    "logs": "miniyarn.cli.logs",
    "queue": "miniyarn.cli.queue",
    "rmadmin": "miniyarn.cli.rmadmin",
    "distributed-shell": "miniyarn.cli.distributed_shell",
    "minicluster": "miniyarn.cli.minicluster",
    "credentials": "miniyarn.cli.credentials",
    "token": "miniyarn.cli.token",
}


class YarnGroup(click.Group):
    """The verbs' return value is the exit status (the `yarn` CLI's 0 and 255, 2 for bad usage)."""

    def invoke(self, ctx: click.Context) -> object:
        ctx.exit(int(super().invoke(ctx) or 0))

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *VERBS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in VERBS:
            command: click.Command = importlib.import_module(VERBS[cmd_name]).command
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(cls=YarnGroup, context_settings=CONTEXT)
def cli() -> None:
    """A mini Hadoop YARN: daemons and the yarn CLI."""


def _program_command(name: str, module: str, help_text: str) -> click.Command:
    @click.command(name, help=help_text, add_help_option=False,
                   context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
    @click.argument("argv", nargs=-1, type=click.UNPROCESSED)
    def command(argv: tuple[str, ...]) -> int:
        import argparse

        mod = importlib.import_module(module)
        parser = argparse.ArgumentParser(prog=f"miniyarn {name}", description=help_text)
        mod.add_arguments(parser)
        try:
            args = parser.parse_args(list(argv))
        except SystemExit as e:  # argparse's usage error (2) or --help (0)
            return int(e.code) if isinstance(e.code, int) else (0 if e.code is None else 2)
        return int(mod.run(args))

    return command


for _verb, (_module, _help) in PROGRAMS.items():
    cli.add_command(_program_command(_verb, _module, _help))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if COMPLETE_VAR in os.environ:
        # click's completion protocol: the shell's words come in the environment, the answer on stdout.
        cli.main(args, prog_name="miniyarn", complete_var=COMPLETE_VAR)
        return 0
    try:
        # Not standalone: click returns the status YarnGroup.invoke exits with (or --help's 0) instead of
        # calling sys.exit, so that main() stays callable from tests and other code.
        return int(cli.main(args, prog_name="miniyarn", standalone_mode=False) or 0)
    except click.ClickException as e:  # a usage error: click's message, argparse's exit status 2
        e.show()
        return e.exit_code
    except click.Abort:  # Ctrl-C in a client verb: the shell's status for SIGINT, no traceback
        print("Aborted!", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
