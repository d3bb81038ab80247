"""`miniyarn node -list [-all] [-states S] | -status NODEID`: YARN's NodeCLI."""

from __future__ import annotations

import time
from typing import Any

import click

from miniyarn.cli import completion
from miniyarn.cli.common import FAILED, fail, report_block, split_list, yarn_client
from miniyarn.cli.options import CONTEXT, exactly_one, rm_address_option, states_option
from miniyarn.client.yarn_client import YarnClientError
from miniyarn.states.node import NodeState

# NodeCLI.NODES_PATTERN.
NODES_PATTERN = "%16s\t%15s\t%17s\t%28s"
ALL_STATES = [s.value for s in NodeState]


@click.command("node", context_settings=CONTEXT)
@click.option("-list", "--list", "list_", is_flag=True, help="list nodes (RUNNING ones unless -all or -states)")
@click.option("-status", "--status", "node_id", default=None, metavar="NodeId", shell_complete=completion.node_ids,
              help="print a node's report")
@click.option("-all", "--all", "all_", is_flag=True, help="with -list: nodes in every state")
@states_option("-states", "--states", "states", complete=completion.node_states,
               help_text="with -list: comma-separated node states")
@rm_address_option
@click.pass_context
def command(ctx: click.Context, list_: bool, node_id: str | None, all_: bool, states: tuple[str, ...],
            rm_address: str | None) -> int:
    """prints node report(s)"""
    exactly_one(ctx, list=list_, status=node_id)
    if node_id:
        return status(rm_address, node_id)
    wanted = ALL_STATES if all_ else [s.upper() for s in split_list(",".join(states))] or ["RUNNING"]
    bad = [s for s in wanted if s not in ALL_STATES]
    if bad:
        print(f"The node state {bad[0]} is invalid.")
        print("The valid node state can be one of the following: " + ",".join(ALL_STATES) + ".")
        return FAILED
    with yarn_client(rm_address) as yarn:
        try:
            nodes = yarn.list_nodes(wanted)
        except YarnClientError as e:
            return fail(str(e))
    print(f"Total Nodes:{len(nodes)}")
    print(NODES_PATTERN % ("Node-Id", "Node-State", "Node-Http-Address", "Number-of-Running-Containers"))
    for node in sorted(nodes, key=lambda n: str(n["id"])):
        print(node_row(node))
    return 0


def node_row(node: dict[str, Any]) -> str:
    return NODES_PATTERN % (node["id"], node["state"], node.get("nodeHTTPAddress", ""),
                            node.get("numContainers", 0))


def health_time(ms: int) -> str:
    """NodeCLI's `E dd/MMM/yy hh:mm:ss:SSzz`: `Wed 25/Nov/26 09:35:07:906UTC`."""
    t = time.localtime(ms / 1000)
    return time.strftime("%a %d/%b/%y %I:%M:%S:", t) + f"{ms % 1000:02d}" + time.strftime("%Z", t)


def report_lines(node: dict[str, Any]) -> list[str]:
    used_mb, used_vc = int(node.get("usedMemoryMB", 0)), int(node.get("usedVirtualCores", 0))
    # The node's total, not used + available: a LOST node reports nothing available, yet keeps its capacity.
    total = node.get("totalResource") or {}
    total_mb = int(total.get("memory", used_mb + int(node.get("availMemoryMB", 0))))
    total_vc = int(total.get("vCores", used_vc + int(node.get("availableVirtualCores", 0))))
    fields = [("Node-Id", node["id"]), ("Rack", node.get("rack", "")), ("Node-State", node["state"]),
              ("Node-Http-Address", node.get("nodeHTTPAddress", "")),
              ("Last-Health-Update", health_time(int(node.get("lastHealthUpdate", 0)))),
              ("Health-Report", node.get("healthReport", "")), ("Containers", node.get("numContainers", 0)),
              ("Memory-Used", f"{used_mb}MB"), ("Memory-Capacity", f"{total_mb}MB"),
              ("CPU-Used", f"{used_vc} vcores"),
              ("CPU-Capacity", f"{total_vc} vcores")]
    return report_block("Node Report : ", fields)


def status(rm_address: str | None, node_id: str) -> int:
    with yarn_client(rm_address) as yarn:
        try:
            nodes = yarn.list_nodes(ALL_STATES)
        except YarnClientError as e:
            return fail(str(e))
    node = next((n for n in nodes if n["id"] == node_id), None)
    if node is None:
        return fail(f"Could not find the node report for node id : {node_id}")
    print("\n".join(report_lines(node)))
    return 0
