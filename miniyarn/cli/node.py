"""`miniyarn node -list [-all] [-states S] | -status NODEID`: YARN's NodeCLI."""

from __future__ import annotations

import argparse
import time
from typing import Any

from miniyarn.cli.common import FAILED, add_rm_address, fail, report_block, split_list, yarn_client
from miniyarn.client.yarn_client import YarnClientError
from miniyarn.states.node import NodeState

# NodeCLI.NODES_PATTERN.
NODES_PATTERN = "%16s\t%15s\t%17s\t%28s"
ALL_STATES = [s.value for s in NodeState]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("-list", "--list", action="store_true", help="list nodes (RUNNING ones unless -all or -states)")
    what.add_argument("-status", "--status", metavar="NodeId", help="print a node's report")
    parser.add_argument("-all", "--all", action="store_true", help="with -list: nodes in every state")
    parser.add_argument("-states", "--states", action="append", default=[], metavar="States",
                        help="with -list: comma-separated node states")
    add_rm_address(parser)


def node_row(node: dict[str, Any]) -> str:
    return NODES_PATTERN % (node["id"], node["state"], node.get("nodeHTTPAddress", ""),
                            node.get("numContainers", 0))


def health_time(ms: int) -> str:
    """NodeCLI's `E dd/MMM/yy hh:mm:ss:SSzz`: `Wed 25/Nov/26 09:35:07:906UTC`."""
    t = time.localtime(ms / 1000)
    return time.strftime("%a %d/%b/%y %I:%M:%S:", t) + f"{ms % 1000:02d}" + time.strftime("%Z", t)


def report_lines(node: dict[str, Any]) -> list[str]:
    used_mb, used_vc = int(node.get("usedMemoryMB", 0)), int(node.get("usedVirtualCores", 0))
    fields = [("Node-Id", node["id"]), ("Rack", node.get("rack", "")), ("Node-State", node["state"]),
              ("Node-Http-Address", node.get("nodeHTTPAddress", "")),
              ("Last-Health-Update", health_time(int(node.get("lastHealthUpdate", 0)))),
              ("Health-Report", node.get("healthReport", "")), ("Containers", node.get("numContainers", 0)),
              ("Memory-Used", f"{used_mb}MB"), ("Memory-Capacity", f"{used_mb + int(node.get('availMemoryMB', 0))}MB"),
              ("CPU-Used", f"{used_vc} vcores"),
              ("CPU-Capacity", f"{used_vc + int(node.get('availableVirtualCores', 0))} vcores")]
    return report_block("Node Report : ", fields)


def status(args: argparse.Namespace) -> int:
    with yarn_client(args) as yarn:
        try:
            nodes = yarn.list_nodes(ALL_STATES)
        except YarnClientError as e:
            return fail(str(e))
    node = next((n for n in nodes if n["id"] == args.status), None)
    if node is None:
        return fail(f"Could not find the node report for node id : {args.status}")
    print("\n".join(report_lines(node)))
    return 0


def run(args: argparse.Namespace) -> int:
    if args.status:
        return status(args)
    if args.all:
        states = ALL_STATES
    else:
        states = [s.upper() for s in split_list(",".join(args.states))] or ["RUNNING"]
    bad = [s for s in states if s not in ALL_STATES]
    if bad:
        print(f"The node state {bad[0]} is invalid.")
        print("The valid node state can be one of the following: " + ",".join(ALL_STATES) + ".")
        return FAILED
    with yarn_client(args) as yarn:
        try:
            nodes = yarn.list_nodes(states)
        except YarnClientError as e:
            return fail(str(e))
    print(f"Total Nodes:{len(nodes)}")
    print(NODES_PATTERN % ("Node-Id", "Node-State", "Node-Http-Address", "Number-of-Running-Containers"))
    for node in sorted(nodes, key=lambda n: str(n["id"])):
        print(node_row(node))
    return 0
