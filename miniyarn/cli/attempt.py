"""`miniyarn applicationattempt -list APPID | -status ATTEMPTID`: the attempts half of YARN's ApplicationCLI."""

from __future__ import annotations

import argparse
from typing import Any

from miniyarn.cli.application import get_app
from miniyarn.cli.common import add_rm_address, am_host_and_port, fail, report_block, yarn_client
from miniyarn.client.yarn_client import YarnClient, YarnClientError
from miniyarn.ids import ApplicationAttemptId, ApplicationId, InvalidIdError

# ApplicationCLI.APPLICATION_ATTEMPTS_PATTERN.
APPLICATION_ATTEMPTS_PATTERN = "%30s\t%20s\t%35s\t%35s"
HEADER = ("ApplicationAttempt-Id", "State", "AM-Container-Id", "Tracking-URL")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("-list", "--list", metavar="Application ID", help="list an application's attempts")
    what.add_argument("-status", "--status", metavar="Application Attempt ID", help="print an attempt's report")
    add_rm_address(parser)


def run(args: argparse.Namespace) -> int:
    with yarn_client(args) as yarn:
        try:
            return list_attempts(yarn, args.list) if args.list else status(yarn, args.status)
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
