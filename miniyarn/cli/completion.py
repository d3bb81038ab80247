"""Shell completion for `miniyarn` (click's: bash, zsh, fish): verbs, flags, states, and, beyond what `yarn`
offers, live application, attempt, container, node and queue names from the RM's REST API.

    eval "$(_MINIYARN_COMPLETE=bash_source miniyarn)"     # ~/.bashrc
    eval "$(_MINIYARN_COMPLETE=zsh_source miniyarn)"      # ~/.zshrc
    _MINIYARN_COMPLETE=fish_source miniyarn | source      # ~/.config/fish/completions/miniyarn.fish

A completion runs at every TAB: it asks the RM (the verb's own --rm-address, else $MINIYARN_RM_ADDRESS, with
the user's token) with a short timeout, prints nothing of its own (the shell reads stdout), and gives
nothing when the RM does not answer or refuses. The REST client (httpx, and what it brings) is imported by
the completers themselves, when a TAB asks the RM: every verb's options name a completer from here, so an
import at the top would make every `miniyarn` command pay for it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

import click
from click.shell_completion import CompletionItem

from miniyarn import config
from miniyarn.ids import ApplicationId, InvalidIdError
from miniyarn.states.application import CLIENT_STATES
from miniyarn.states.node import NodeState

if TYPE_CHECKING:
    from miniyarn.client.yarn_client import YarnClient

T = TypeVar("T")
Completer = Callable[[click.Context, click.Parameter, str], list[CompletionItem]]

# A TAB that waits longer than this feels hung; an RM that slow gives no completions rather than a stall.
ASK_TIMEOUT_S = 2.0
# Attempts and containers cost a request per application: only the newest this many live ones are asked.
MAX_APPS_ASKED = 10
LIVE_APP_STATES = ["NEW", "NEW_SAVING", "SUBMITTED", "ACCEPTED", "RUNNING"]


def _ask(ctx: click.Context, question: Callable[[YarnClient], T], unanswered: T) -> T:
    """`question` put to the RM, or `unanswered` when it does not answer, refuses, or answers nonsense."""
    import httpx

    from miniyarn.client.yarn_client import YarnClient, YarnClientError

    try:
        with YarnClient(config.rm_address(ctx.params.get("rm_address")), timeout_s=ASK_TIMEOUT_S) as rm:
            return question(rm)
    except (YarnClientError, httpx.HTTPError, OSError, ValueError, KeyError, TypeError):
        return unanswered


def _items(values: Iterable[tuple[str, str]], incomplete: str) -> list[CompletionItem]:
    return [CompletionItem(value, help=text or None) for value, text in values if value.startswith(incomplete)]


def _apps(ctx: click.Context, states: list[str] | None) -> list[dict[str, Any]]:
    """The RM's applications in `states` (all when None), newest first; [] when it does not answer."""
    apps: list[dict[str, Any]] = _ask(ctx, lambda rm: rm.list_applications(states=states), [])
    return sorted(apps, key=lambda a: int(a.get("startedTime") or 0), reverse=True)


def _app_items(apps: list[dict[str, Any]], incomplete: str) -> list[CompletionItem]:
    return _items(((str(a["id"]), f"{a.get('name', '')} ({a.get('state', '')})") for a in apps), incomplete)


def application_ids(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Every application the RM knows (finished ones too: their reports and logs are still asked for)."""
    return _app_items(_apps(ctx, None), incomplete)


def live_application_ids(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """The applications that can still be killed."""
    return _app_items(_apps(ctx, LIVE_APP_STATES), incomplete)


def named_app(incomplete: str) -> str | None:
    """The application an attempt or container id being typed already names, once its sequence number is
    complete: `appattempt_1700000000000_0003_` and `container_e2_1700000000000_0003_` name
    application_1700000000000_0003.

    >>> named_app("appattempt_1700000000000_0003_0"), named_app("container_e2_1_0003_01"), named_app("appattempt_17")
    ('application_1700000000000_0003', 'application_1_0003', None)
    """
    parts = incomplete.split("_")[1:]
    if parts and parts[0].startswith("e") and incomplete.startswith("container_"):
        parts = parts[1:]
    if len(parts) < 3:
        return None
    try:
        return str(ApplicationId.parse(f"application_{parts[0]}_{parts[1]}"))
    except InvalidIdError:
        return None


def _apps_for(ctx: click.Context, incomplete: str) -> list[str]:
    """The applications whose attempts/containers to ask for: the one `incomplete` names, else the newest
    live ones."""
    named = named_app(incomplete)
    return [named] if named else [str(a["id"]) for a in _apps(ctx, LIVE_APP_STATES)[:MAX_APPS_ASKED]]


def attempt_ids(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    def attempts(rm: YarnClient) -> list[tuple[str, str]]:
        return [(str(a["appAttemptId"]), str(a.get("appAttemptState", "")))
                for app_id in _apps_for(ctx, incomplete) for a in rm.get_attempts(app_id)]
    return _items(_ask(ctx, attempts, []), incomplete)


def container_ids(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """The containers of the applications' current attempts (of -applicationId's app when the verb has it)."""
    app_id = ctx.params.get("app_id")
    apps = [str(app_id)] if app_id else _apps_for(ctx, incomplete)

    def containers(rm: YarnClient) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for a in apps:
            attempts = rm.get_attempts(a)
            if not attempts:
                continue
            attempt = str(attempts[-1]["appAttemptId"])
            out += [(str(c["containerId"]), f"{c.get('containerState', '')} on {c.get('nodeId', '')}")
                    for c in rm.get_containers(a, attempt)]
        return out
    return _items(_ask(ctx, containers, []), incomplete)


def node_ids(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    nodes: list[dict[str, Any]] = _ask(ctx, lambda rm: rm.list_nodes([s.value for s in NodeState]), [])
    return _items(((str(n["id"]), str(n.get("state", ""))) for n in nodes), incomplete)


def queue_names(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    scheduler = _ask(ctx, lambda rm: rm.scheduler(), None)
    if scheduler is None:
        return []
    if scheduler.get("type") == "fifoScheduler":
        return _items([("default", "")], incomplete)
    names: list[tuple[str, str]] = []
    stack = [scheduler]
    while stack:
        q = stack.pop()
        if q.get("queueName"):
            names.append((str(q.get("queuePath") or q["queueName"]), ""))
        stack.extend((q.get("queues") or {}).get("queue") or [])
    return _items(sorted(names), incomplete)


def _comma_list(choices: list[str]) -> Completer:
    """A comma-separated list's next item: `RUNNING,ACC<TAB>` -> `RUNNING,ACCEPTED`."""
    def complete(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
        done, _, last = incomplete.rpartition(",")
        head = done + "," if done else ""
        return [CompletionItem(head + c) for c in choices if c.startswith(last.upper())]
    return complete


app_states = _comma_list(["ALL", *(s.value for s in CLIENT_STATES)])
node_states = _comma_list([s.value for s in NodeState])
