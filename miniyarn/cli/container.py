"""`miniyarn container -list ATTEMPTID | -status CONTAINERID`: the containers half of YARN's ApplicationCLI.

The RM lists an attempt's live containers and its last completed ones (YARN's RM forgets completed ones;
its timeline server would have them)."""

from __future__ import annotations

from typing import Any

import click

from miniyarn.cli import completion
from miniyarn.cli.common import fail, report_block, yarn_client, yarn_time
from miniyarn.cli.options import CONTEXT, exactly_one, rm_address_option
from miniyarn.client.yarn_client import YarnClient, YarnClientError
from miniyarn.ids import ApplicationAttemptId, ContainerId, InvalidIdError

# ApplicationCLI.CONTAINER_PATTERN.
CONTAINER_PATTERN = "%30s\t%20s\t%20s\t%20s\t%20s\t%20s\t%35s"
HEADER = ("Container-Id", "Start Time", "Finish Time", "State", "Host", "Node Http Address", "LOG-URL")


@click.command("container", context_settings=CONTEXT)
@click.option("-list", "--list", "attempt_id", default=None, metavar="Application Attempt ID",
              shell_complete=completion.attempt_ids, help="list an attempt's containers")
@click.option("-status", "--status", "container_id", default=None, metavar="Container ID",
              shell_complete=completion.container_ids, help="print a container's report")
@rm_address_option
@click.pass_context
def command(ctx: click.Context, attempt_id: str | None, container_id: str | None, rm_address: str | None) -> int:
    """prints container(s) report"""
    exactly_one(ctx, list=attempt_id, status=container_id)
    with yarn_client(rm_address) as yarn:
        try:
            return list_containers(yarn, attempt_id) if attempt_id else status(yarn, str(container_id))
        except (InvalidIdError, YarnClientError) as e:
            return fail(str(e))


def containers_of(yarn: YarnClient, attempt_id: str) -> list[dict[str, Any]] | str:
    """The attempt's containers, or the message for what the RM does not know (the app or the attempt)."""
    app_id = str(ApplicationAttemptId.parse(attempt_id).application_id)
    try:
        return yarn.get_containers(app_id, attempt_id)
    except YarnClientError as e:
        if e.status != 404:
            raise
        try:
            yarn.get_application(app_id)
        except YarnClientError as missing:
            if missing.status == 404:
                return "Application"
            raise
        return "Application Attempt"


def http_address(c: dict[str, Any]) -> str:
    address = str(c.get("nodeHttpAddress") or "")
    return f"http://{address}" if address else "N/A"


def container_row(c: dict[str, Any]) -> str:
    return CONTAINER_PATTERN % (c["containerId"], yarn_time(int(c.get("startedTime") or 0)),
                                yarn_time(int(c.get("finishedTime") or 0)), c["containerState"],
                                c.get("nodeId") or c.get("assignedNodeId") or "N/A", http_address(c),
                                c.get("logUrl") or "N/A")


def list_containers(yarn: YarnClient, attempt_id: str) -> int:
    found = containers_of(yarn, attempt_id)
    if isinstance(found, str):
        what = "Application for AppAttempt" if found == "Application" else "Application Attempt"
        return fail(f"{what} with id '{attempt_id}' doesn't exist in RM.")
    print(f"Total number of containers :{len(found)}")
    print(CONTAINER_PATTERN % HEADER)
    for c in found:
        print(container_row(c))
    return 0


def status(yarn: YarnClient, container_id: str) -> int:
    from miniyarn.records import GUARANTEED  # here: the records' pydantic models are slow to import

    attempt_id = str(ContainerId.parse(container_id).attempt_id)
    found = containers_of(yarn, attempt_id)
    if isinstance(found, str):
        return fail(f"{found} for Container with id '{container_id}' doesn't exist in RM.")
    c = next((c for c in found if c["containerId"] == container_id), None)
    if c is None:
        return fail(f"Container with id '{container_id}' doesn't exist in RM.")
    fields = [("Container-Id", container_id), ("Start-Time", c.get("startedTime", 0)),
              ("Finish-Time", c.get("finishedTime", 0)), ("State", c["containerState"]),
              ("Execution-Type", GUARANTEED), ("LOG-URL", c.get("logUrl") or "N/A"),
              ("Host", c.get("nodeId") or "N/A"), ("NodeHttpAddress", http_address(c)),
              ("Diagnostics", c.get("diagnosticsInfo") or ""),
              # Beyond YARN's report, what a user asks next: its size and how it ended.
              ("Resource", f"<memory:{c.get('allocatedMB', 0)}, vCores:{c.get('allocatedVCores', 0)}>"),
              ("Exit Status", c.get("containerExitStatus", 0) if c["containerState"] == "COMPLETE" else "N/A")]
    print("\n".join(report_block("Container Report : ", fields)))
    return 0
