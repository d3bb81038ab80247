"""`miniyarn node -list [-all] [-states S]`: YARN's NodeCLI listing."""

from __future__ import annotations

import argparse
from typing import Any

from miniyarn.cli.common import FAILED, add_rm_address, fail, split_list, yarn_client
from miniyarn.client.yarn_client import YarnClientError
from miniyarn.states.node import NodeState

# NodeCLI.NODES_PATTERN.
NODES_PATTERN = "%16s\t%15s\t%17s\t%28s"
ALL_STATES = [s.value for s in NodeState]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-list", "--list", action="store_true", required=True,
                        help="list nodes (RUNNING ones unless -all or -states)")
    parser.add_argument("-all", "--all", action="store_true", help="with -list: nodes in every state")
    parser.add_argument("-states", "--states", action="append", default=[], metavar="States",
                        help="with -list: comma-separated node states")
    add_rm_address(parser)


def node_row(node: dict[str, Any]) -> str:
    return NODES_PATTERN % (node["id"], node["state"], node.get("nodeHTTPAddress", ""),
                            node.get("numContainers", 0))


def run(args: argparse.Namespace) -> int:
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
