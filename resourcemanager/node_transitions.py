"""RMNode transitions: a node registers, reconnects, turns (un)healthy, and leaves (lost or shut down),
taking its containers with it."""

from __future__ import annotations

import logging

from miniyarn.exit_status import ContainerExitStatus
from miniyarn.states.container import ContainerEvent
from miniyarn.states.node import NODE_MACHINE, NodeEvent
from resourcemanager import container_transitions
from resourcemanager.context import RMContext
from resourcemanager.rmstate import RMNode

log = logging.getLogger("resourcemanager")


def node_event(ctx: RMContext, node: RMNode, event: NodeEvent) -> bool:
    """Every change of a node's state: through its machine (refused and logged if illegal)."""
    ctx.out.nodes.add(node.node_id)
    return NODE_MACHINE.fire(node, event, what=node.node_id)


def node_lost(ctx: RMContext, node: RMNode, event: NodeEvent, why: str) -> None:
    """The node left by `event` (EXPIRE: no heartbeat in time; SHUTDOWN: its NM said goodbye)."""
    if not node_event(ctx, node, event):
        return
    log.info("Deactivating Node %s as it is now %s", node.node_id, node.state.value)
    snode = ctx.sched_nodes.get(node.node_id)
    if snode is not None:
        snode.schedulable = False
    for cid in container_transitions.on_node(ctx, node.node_id):
        container_transitions.complete_container(ctx, cid, ContainerExitStatus.ABORTED, why, ContainerEvent.KILL)
