"""The options more than one `miniyarn` verb takes, each defined once, and the checks click has no word for
(YARN's "exactly one of -list/-status/-kill").

YARN's spellings are single-dash: `-list`, `-appStates`, `-status` are click "long" options with a
one-dash prefix (as `miniflink`'s `-yid`), each with the double-dash twin the argparse CLI also took.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from miniyarn.cli import completion

F = TypeVar("F", bound=Callable[..., Any])

CONTEXT: dict[str, Any] = {"help_option_names": ["-h", "--help"]}


def rm_address_option(f: F) -> F:
    return click.option("--rm-address", "rm_address", default=None, metavar="URL",
                        help="ResourceManager URL (default $MINIYARN_RM_ADDRESS or http://127.0.0.1:8088)")(f)


def define_option(f: F) -> F:
    return click.option("-D", "defines", multiple=True, metavar="KEY=VALUE",
                        help="override a yarn-site.xml key (repeatable)")(f)


def credentials_dir_option(help_text: str) -> Callable[[F], F]:
    def deco(f: F) -> F:
        return click.option("--credentials-dir", "credentials_dir", default=None, metavar="DIR", help=help_text)(f)
    return deco


def redis_url_option(help_text: str, hidden: bool = False) -> Callable[[F], F]:
    def deco(f: F) -> F:
        return click.option("--redis-url", "redis_url", default=None, metavar="URL", hidden=hidden,
                            help=help_text)(f)
    return deco


def app_id_option(*names: str, help_text: str, live_only: bool = False) -> Callable[[F], F]:
    """An option naming an application, completed with the RM's application ids (only live ones to kill)."""
    complete = completion.live_application_ids if live_only else completion.application_ids

    def deco(f: F) -> F:
        return click.option(*names, default=None, metavar="Application ID",
                            shell_complete=complete, help=help_text)(f)
    return deco


def states_option(*names: str, help_text: str, complete: completion.Completer) -> Callable[[F], F]:
    """`-appStates RUNNING,ACCEPTED` / `-states ...`: repeatable, comma-separated; checked by the verb (which
    prints YARN's "The ... state X is invalid." and exits 255), so any text is accepted here."""
    def deco(f: F) -> F:
        return click.option(*names, multiple=True, metavar="States", shell_complete=complete, help=help_text)(f)
    return deco


def exactly_one(ctx: click.Context, **given: object) -> None:
    """argparse's required mutually exclusive group: a usage error (exit 2) unless exactly one is given."""
    named = [name for name, value in given.items() if value not in (None, False, (), "")]
    flags = " ".join(f"-{name}" for name in given)
    if not named:
        raise click.UsageError(f"one of the arguments {flags} is required", ctx)
    if len(named) > 1:
        raise click.UsageError(f"argument -{named[1]}: not allowed with argument -{named[0]}", ctx)
