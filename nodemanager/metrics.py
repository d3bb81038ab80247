"""Prometheus `/metrics` for a NodeManager: containers by state and memory, read from the container
manager at scrape time."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from nodemanager.container import NMContainerState
from nodemanager.container_manager import ContainerManager
from nodemanager.context import NMContext


class NodeManagerCollector(Collector):
    def __init__(self, ctx: NMContext, manager: ContainerManager, rss_of: Callable[[str], int | None]) -> None:
        self.ctx = ctx
        self.manager = manager
        self.rss_of = rss_of

    def collect(self) -> Iterator[Metric]:
        containers = self.manager.snapshot()
        live = [c for c in containers if not c.is_complete]
        by_state = GaugeMetricFamily("nodemanager_containers", "Containers on this node by NM container state",
                                     labels=["state"])
        for s in NMContainerState:
            by_state.add_metric([s.value], sum(1 for c in containers if c.state is s))
        yield by_state
        yield GaugeMetricFamily("nodemanager_memory_allocated_mb", "Memory of the live containers' allocations",
                                value=sum(c.resource.memory for c in live))
        used = 0
        for c in live:
            rss = self.rss_of(c.id)
            used += rss or 0
        yield GaugeMetricFamily("nodemanager_memory_used_mb", "Resident memory of the live containers' processes",
                                value=used // (1024 * 1024))
        yield GaugeMetricFamily("nodemanager_memory_total_mb", "Memory this node offers to containers",
                                value=self.ctx.capability.memory)
        yield GaugeMetricFamily("nodemanager_vcores_allocated", "Vcores of the live containers' allocations",
                                value=sum(c.resource.vcores for c in live))
        yield GaugeMetricFamily("nodemanager_vcores_total", "Vcores this node offers to containers",
                                value=self.ctx.capability.vcores)


def metrics_text(collector: NodeManagerCollector) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return generate_latest(registry)
