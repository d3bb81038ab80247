"""`miniyarn`: the `yarn` command's verbs (resourcemanager, nodemanager, application, applicationattempt,
container, node, logs, queue, rmadmin), plus distributed-shell, a one-command local cluster (minicluster) and
`token` (a signed user token for the REST API and web UI)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from types import ModuleType

from miniyarn.cli import (
    application,
    attempt,
    container,
    credentials,
    logs,
    minicluster,
    node,
    queue,
    rmadmin,
    token,
)

Adder = Callable[[argparse.ArgumentParser], None]
Runner = Callable[[argparse.Namespace], int]


def _daemon(module: str) -> tuple[Adder, Runner]:
    """The daemons' own CLIs, imported only when asked for (they pull in FastAPI and friends)."""
    import importlib

    mod: ModuleType = importlib.import_module(module)
    return mod.add_arguments, mod.run


def _commands() -> dict[str, tuple[str, Callable[[], tuple[Adder, Runner]]]]:
    def distributed_shell() -> tuple[Adder, Runner]:
        from miniyarn.distributedshell import client

        return client.add_arguments, client.run

    return {
        "resourcemanager": ("run the ResourceManager", lambda: _daemon("resourcemanager.cli")),
        "nodemanager": ("run a NodeManager", lambda: _daemon("nodemanager.cli")),
        "application": ("prints application(s) report / kill application", lambda: (application.add_arguments,
                                                                                     application.run)),
        "applicationattempt": ("prints application attempt(s) report", lambda: (attempt.add_arguments,
                                                                                 attempt.run)),
        "container": ("prints container(s) report", lambda: (container.add_arguments, container.run)),
        "node": ("prints node report(s)", lambda: (node.add_arguments, node.run)),
        "logs": ("dump container logs", lambda: (logs.add_arguments, logs.run)),
        "queue": ("prints queue information", lambda: (queue.add_arguments, queue.run)),
        "rmadmin": ("admin tools: the ResourceManagers' HA state (-getServiceState, -transitionToStandby)",
                    lambda: (rmadmin.add_arguments, rmadmin.run)),
        "distributed-shell": ("run a shell command in N containers (YARN's DistributedShell)", distributed_shell),
        "minicluster": ("Redis + ResourceManager + N NodeManagers in the foreground",
                        lambda: (minicluster.add_arguments, minicluster.run)),
        "credentials": ("make the cluster's secrets (Redis users, RM master key, HTTP signature secret)",
                        lambda: (credentials.add_arguments, credentials.run)),
        "token": ("print a signed token for a user (Authorization: Bearer, $MINIYARN_TOKEN)",
                  lambda: (token.add_arguments, token.run)),
    }


def build_parser(only: str | None = None) -> tuple[argparse.ArgumentParser, dict[str, Runner]]:
    parser = argparse.ArgumentParser(prog="miniyarn", description="A mini Hadoop YARN: daemons and the yarn CLI.")
    subs = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    runners: dict[str, Runner] = {}
    for name, (help_text, load) in _commands().items():
        sub = subs.add_parser(name, help=help_text, description=help_text, prog=f"miniyarn {name}")
        if only is None or only == name:
            add, runner = load()
            add(sub)
            runners[name] = runner
    return parser, runners


def main(argv: list[str] | None = None) -> int:
    args_list = sys.argv[1:] if argv is None else argv
    # Only the chosen command's options are loaded, so `miniyarn node -list` never imports the RM.
    chosen = args_list[0] if args_list and not args_list[0].startswith("-") else None
    parser, runners = build_parser(chosen)
    try:
        args = parser.parse_args(args_list)
    except SystemExit as e:
        return int(e.code) if isinstance(e.code, int) else (0 if e.code is None else 2)
    return runners[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
