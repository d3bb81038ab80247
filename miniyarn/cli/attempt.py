"""`miniyarn applicationattempt -list APPID | -status ATTEMPTID`: the attempts half of YARN's ApplicationCLI."""

from __future__ import annotations

from typing import Any

import click

from miniyarn.cli import completion
from miniyarn.cli.application import get_app
from miniyarn.cli.common import am_host_and_port, fail, report_block, yarn_client
from miniyarn.cli.options import CONTEXT, app_id_option, exactly_one, rm_address_option
from miniyarn.client.yarn_client import YarnClient, YarnClientError
from miniyarn.ids import ApplicationAttemptId, ApplicationId, InvalidIdError

# ApplicationCLI.APPLICATION_ATTEMPTS_PATTERN.
APPLICATION_ATTEMPTS_PATTERN = "%30s\t%20s\t%35s\t%35s"
HEADER = ("ApplicationAttempt-Id", "State", "AM-Container-Id", "Tracking-URL")


@click.command("applicationattempt", context_settings=CONTEXT)
@app_id_option("-list", "--list", "app_id", help_text="list an application's attempts")
@click.option("-status", "--status", "attempt_id", default=None, metavar="Application Attempt ID",
              shell_complete=completion.attempt_ids, help="print an attempt's report")
@rm_address_option
@click.pass_context
def command(ctx: click.Context, app_id: str | None, attempt_id: str | None, rm_address: str | None) -> int:
    """prints application attempt(s) report"""
    exactly_one(ctx, list=app_id, status=attempt_id)
    with yarn_client(rm_address) as yarn:
        try:
            return list_attempts(yarn, app_id) if app_id else status(yarn, str(attempt_id))
        except (InvalidIdError, YarnClientError) as e:
            return fail(str(e))


def attempts_of(yarn: YarnClient, app_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    """The app's report and its attempts, None when the RM does not know the app."""
    app = get_app(yarn, app_id)
    return None if app is None else (app, yarn.get_attempts(app_id))


def tracking_url(app: dict[str, Any], current: bool) -> str:
    """The proxied URL is the application's; only its current attempt has an AM behind it."""
    return str(app.get("trackingUrl") or "N/A") if current else "N/A"


def list_attempts(yarn: YarnClient, app_id: str) -> int:
    ApplicationId.parse(app_id)
    found = attempts_of(yarn, app_id)
    if found is None:
        return fail(f"Application with id '{app_id}' doesn't exist in RM.")
    app, attempts = found
    print(f"Total number of application attempts :{len(attempts)}")
    print(APPLICATION_ATTEMPTS_PATTERN % HEADER)
    for i, a in enumerate(attempts, start=1):
        print(APPLICATION_ATTEMPTS_PATTERN % (a["appAttemptId"], a["appAttemptState"], a.get("containerId") or "N/A",
                                              tracking_url(app, i == len(attempts))))
    return 0


def status(yarn: YarnClient, attempt_id: str) -> int:
    app_id = str(ApplicationAttemptId.parse(attempt_id).application_id)
    found = attempts_of(yarn, app_id)
    if found is None:
        return fail(f"Application for AppAttempt with id '{attempt_id}' doesn't exist in RM.")
    app, attempts = found
    attempt = next((a for a in attempts if a["appAttemptId"] == attempt_id), None)
    if attempt is None:
        return fail(f"Application Attempt with id '{attempt_id}' doesn't exist in RM.")
    current = attempt is attempts[-1]
    host, port = am_host_and_port(str(app.get("amRPCAddress") or "") if current else "")
    fields = [("ApplicationAttempt-Id", attempt_id), ("State", attempt["appAttemptState"]),
              ("AMContainer", attempt.get("containerId") or "N/A"), ("Tracking-URL", tracking_url(app, current)),
              ("RPC Port", port), ("AM Host", host),
              ("Diagnostics", attempt.get("diagnosticsInfo") or "")]
    print("\n".join(report_block("Application Attempt Report : ", fields)))
    return 0
