"""Shell completion for `miniflink` (click's: bash, zsh, fish), beyond what `flink` offers: live job ids
from the JobManager for `cancel`, and Flink application ids on YARN from the RM for `-yid`.

    eval "$(_MINIFLINK_COMPLETE=bash_source miniflink)"     # ~/.bashrc
    eval "$(_MINIFLINK_COMPLETE=zsh_source miniflink)"      # ~/.zshrc
    _MINIFLINK_COMPLETE=fish_source miniflink | source      # ~/.config/fish/completions/miniflink.fish

A completion runs at every TAB: it asks with a short timeout, never waits for a cluster to come up, prints
nothing of its own (the shell reads stdout), and gives nothing when the cluster is not reachable.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from typing import Any

import click
import httpx
from click.shell_completion import CompletionItem

TARGETS = ("remote", "yarn-per-job", "yarn-session", "yarn-application")
FLINK_APPLICATION_TYPE = "Apache Flink"
LIVE_APP_STATES = ["NEW", "NEW_SAVING", "SUBMITTED", "ACCEPTED", "RUNNING"]
ASK_TIMEOUT_S = 2.0


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Whatever the lookups print (e.g. "Found Yarn properties file") must not reach the shell."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def targets(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    return [CompletionItem(t) for t in TARGETS if t.startswith(incomplete)]


def yarn_application_ids(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """The live Flink applications on YARN (the RM's `applicationTypes=Apache Flink`), newest first."""
    from flink_on_yarn.cli.yarn import rm_address
    from miniyarn.client.yarn_client import YarnClient, YarnClientError

    try:
        with _quiet(), YarnClient(rm_address(), timeout_s=ASK_TIMEOUT_S) as rm:
            apps = rm.list_applications(states=LIVE_APP_STATES, types=[FLINK_APPLICATION_TYPE])
    except (YarnClientError, httpx.HTTPError, OSError, ValueError, KeyError):
        return []
    apps.sort(key=lambda a: int(a.get("startedTime") or 0), reverse=True)
    return [CompletionItem(str(a["id"]), help=f"{a.get('name', '')} ({a.get('state', '')})")
            for a in apps if str(a["id"]).startswith(incomplete)]


def _rest_of(params: dict[str, Any]) -> tuple[str, str | None]:
    """The JobManager the verb's options name, as `_endpoint` finds it, but without waiting for a cluster
    on YARN that is still deploying (its proxy address is enough: if it does not answer, nothing)."""
    from flink_on_yarn.cli import endpoint, yarn
    from flink_on_yarn.common.config import Configuration, parse_dynamic
    from flink_on_yarn.standalone import cluster
    from flink_on_yarn.yarn.descriptor import YarnClusterDescriptor

    config = Configuration.load(parse_dynamic(list(params.get("dynamic") or ())))
    jobmanager = params.get("jobmanager")
    if jobmanager and jobmanager != yarn.YARN_CLUSTER:
        return str(jobmanager), endpoint.standalone_token(config)
    app_id = yarn.application_id(params.get("yid"), config) or yarn.session_from_properties(config)
    if app_id:
        handle = YarnClusterDescriptor(yarn.rm_address()).handle(app_id)
        return handle.rest_url, handle.token
    return cluster.rest_address(config), endpoint.standalone_token(config)


def job_ids(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """The JobManager's jobs that can still be cancelled, with their names."""
    from flink_on_yarn.client.rest_client import RestClient, RestError
    from flink_on_yarn.security.secret import SecretError

    try:
        with _quiet():
            address, token = _rest_of(ctx.params)
            jobs = RestClient(address, timeout=ASK_TIMEOUT_S, token=token).jobs_overview()
    except (RestError, SecretError, httpx.HTTPError, OSError, ValueError, KeyError):
        return []
    live = [j for j in jobs if j.get("state") not in ("CANCELED", "FINISHED", "FAILED")]
    return [CompletionItem(str(j["jid"]), help=f"{j.get('name', '')} ({j.get('state', '')})")
            for j in live if str(j["jid"]).startswith(incomplete)]
