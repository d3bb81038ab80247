"""The node status updater (YARN's NodeStatusUpdaterImpl): pushes a NodeHeartbeat on the RM inbox
every `yarn.resourcemanager.nodemanagers.heartbeat-interval-ms`, and at once when a container
completes. The first heartbeat registers the node (it carries the capability)."""

from __future__ import annotations

import logging
import threading
import time

import redis

from miniyarn import keys
from miniyarn.protocol import NodeHeartbeat, NodeShutdown
from miniyarn.records import ContainerStatus
from nodemanager.container_manager import ContainerManager
from nodemanager.context import VERSION, NMContext
from nodemanager.health import DiskHealthChecker

log = logging.getLogger("nodemanager.NodeStatusUpdaterImpl")


class NodeStatusUpdater:
    def __init__(self, ctx: NMContext, client: redis.Redis, manager: ContainerManager,
                 stop: threading.Event) -> None:
        self.ctx = ctx
        self.redis = client
        self.manager = manager
        self.stop = stop
        self.interval_s = ctx.conf.get_int("yarn.resourcemanager.nodemanagers.heartbeat-interval-ms", 1000) / 1000
        self.wake = threading.Event()
        self.last_sent_ms = 0
        self.sent = 0
        self.disks = DiskHealthChecker(ctx.local_dirs, ctx.log_dirs, ctx.conf)

    def trigger(self) -> None:
        """Send a heartbeat now (a container completed)."""
        self.wake.set()

    def message(self, statuses: list[ContainerStatus]) -> NodeHeartbeat:
        health = self.disks.current(time.monotonic())
        return NodeHeartbeat(node_id=self.ctx.node_id, http_address=self.ctx.http_address,
                             capability=self.ctx.capability, container_statuses=statuses,
                             healthy=health.healthy, health_report=health.report, version=VERSION)

    def send_once(self) -> bool:
        statuses = self.manager.heartbeat_statuses()
        try:
            self.redis.rpush(keys.rm_inbox(), self.message(statuses).model_dump_json())
        except redis.RedisError as e:
            log.warning("Heartbeat to the ResourceManager inbox failed (%s); retrying in %.1fs", e, self.interval_s)
            return False
        if self.sent == 0:
            log.info("Registered with ResourceManager as %s with total resource of %s", self.ctx.node_id,
                     self.ctx.capability)
        self.sent += 1
        self.last_sent_ms = int(time.time() * 1000)
        self.manager.heartbeat_sent(statuses)
        return True

    def run(self) -> None:
        while not self.stop.is_set():
            self.wake.clear()
            self.send_once()
            self.wake.wait(self.interval_s)

    def shutdown(self) -> None:
        """A last heartbeat with the final statuses, then tell the RM the node is going away."""
        self.send_once()
        try:
            self.redis.rpush(keys.rm_inbox(), NodeShutdown(node_id=self.ctx.node_id).model_dump_json())
        except redis.RedisError as e:
            log.warning("Could not tell the ResourceManager this node is shutting down: %s", e)
