"""A LOST node's last heartbeat is the time it was last heard from: neither a restarted RM's recovery nor a
gap in the RM's own view of Redis moves it past the node's death (its page showed a heartbeat after it)."""

from __future__ import annotations

import redis

from miniyarn.config import YarnConfiguration
from miniyarn.protocol import NodeHeartbeat
from miniyarn.records import Resource
from miniyarn.states.node import NodeState
from resourcemanager import liveness, recovery, services
from resourcemanager.context import RMContext
from resourcemanager.rm import ResourceManager
from resourcemanager.webapp import views

NODE, ALIVE = "n1:1", "n2:1"
CONF = {"yarn.scheduler.minimum-allocation-mb": "128"}


def heartbeat(ctx: RMContext, node: str) -> None:
    services.handle(ctx, NodeHeartbeat(node_id=node, http_address=node, capability=Resource(memory=4096, vcores=4)))


def lose(ctx: RMContext) -> tuple[int, int]:
    """NODE expires while ALIVE keeps beating: (NODE's last heartbeat, the time it was declared lost)."""
    heartbeat(ctx, NODE)
    last = ctx.nodes[NODE].last_heartbeat_ms
    death = last + ctx.nm_expiry_ms + 1
    heartbeat(ctx, ALIVE)
    ctx.nodes[ALIVE].last_heartbeat_ms = death
    liveness.check_liveness(ctx, death)
    assert ctx.nodes[NODE].state is NodeState.LOST and ctx.nodes[ALIVE].state is NodeState.RUNNING
    return last, death


def test_a_gap_in_observation_refreshes_live_nodes_only() -> None:
    ctx = RMContext(YarnConfiguration(CONF, load_files=False))
    last, death = lose(ctx)
    liveness.observation_gap(ctx, 20_000, death + 30_000)
    assert ctx.nodes[NODE].last_heartbeat_ms == last
    assert ctx.nodes[ALIVE].last_heartbeat_ms == death + 30_000


def test_a_restarted_rm_shows_a_lost_node_as_it_was_last_heard_from(redis_admin_url: str) -> None:
    client = redis.Redis.from_url(redis_admin_url)
    try:
        rm = ResourceManager(YarnConfiguration(CONF, load_files=False), client)
        recovery.recover(rm)
        last, death = lose(rm)
        rm.flush()
        again = ResourceManager(YarnConfiguration(CONF, load_files=False), client)
        recovery.recover(again)
        info = views.node_info(again, again.nodes[NODE])
        assert info["state"] == "LOST" and info["lastHealthUpdate"] == last < death
        assert (info["healthStatus"], info["availMemoryMB"]) == ("Lost", 0)
        assert again.nodes[ALIVE].last_heartbeat_ms >= last  # a live node gets a fresh liveness window (now)
    finally:
        client.close()
