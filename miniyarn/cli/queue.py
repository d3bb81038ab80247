"""`miniyarn queue -status Q`: YARN's QueueCLI block, from the RM's /ws/v1/cluster/scheduler."""

from __future__ import annotations

from typing import Any

import click

from miniyarn.cli import completion
from miniyarn.cli.common import fail, java_two_decimals, yarn_client
from miniyarn.cli.options import CONTEXT, rm_address_option
from miniyarn.client.yarn_client import YarnClientError


@click.command("queue", context_settings=CONTEXT)
@click.option("-status", "--status", "name", required=True, metavar="Queue Name", shell_complete=completion.queue_names,
              help="print a queue's status (short name or full path)")
@rm_address_option
def command(name: str, rm_address: str | None) -> int:
    """prints queue information"""
    with yarn_client(rm_address) as yarn:
        try:
            scheduler = yarn.scheduler()
        except YarnClientError as e:
            return fail(str(e))
    q = find_queue(scheduler, name)
    if q is None:
        return fail(f"Cannot get queue from RM by queueName = {name}, please check.")
    print("\n".join(status_lines(q)))
    return 0


def find_queue(scheduler: dict[str, Any], name: str) -> dict[str, Any] | None:
    """A queue of the capacity scheduler's tree by name or path; FIFO's one queue is `default`."""
    if scheduler.get("type") == "fifoScheduler":
        if name not in ("default", "root.default"):
            return None
        return {"queueName": "default", "state": scheduler.get("qstate", "RUNNING"),
                "capacity": 100.0 * float(scheduler.get("capacity", 1.0)),
                "usedCapacity": 100.0 * float(scheduler.get("usedCapacity", 0.0)), "maxCapacity": 100.0}
    stack = [scheduler]
    while stack:
        q = stack.pop()
        if name in (q.get("queueName"), q.get("queuePath")):
            return q
        stack.extend((q.get("queues") or {}).get("queue") or [])
    return None


def status_lines(q: dict[str, Any]) -> list[str]:
    """QueueCLI.printQueueInfo; the REST API has percentages where QueueInfo has fractions."""
    state = q.get("state") or "RUNNING"
    return [
        "Queue Information : ",
        f"Queue Name : {q['queueName']}",
        f"\tState : {state}",
        f"\tCapacity : {java_two_decimals(float(q.get('capacity', 0.0)))}%",
        f"\tCurrent Capacity : {java_two_decimals(float(q.get('usedCapacity', 0.0)))}%",
        f"\tMaximum Capacity : {java_two_decimals(float(q.get('maxCapacity', 100.0)))}%",
        "\tDefault Node Label expression : <DEFAULT_PARTITION>",
        "\tAccessible Node Labels : *",
        "\tPreemption : disabled",
        "\tIntra-queue Preemption : disabled",
    ]
