"""Prometheus `/metrics` for the RM: a collector that reads the RM's live state at scrape time, so the
numbers are the ones `/ws/v1/cluster/metrics` answers at that moment."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import FastAPI
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from miniyarn.states.application import CLIENT_STATES
from miniyarn.states.node import NodeState
from resourcemanager.rm import ResourceManager
from resourcemanager.webapp import views


class ResourceManagerCollector(Collector):
    def __init__(self, rm: ResourceManager) -> None:
        self.rm = rm

    def collect(self) -> Iterator[Metric]:
        rm = self.rm
        with rm.lock:
            m = views.cluster_metrics(rm)["clusterMetrics"]
            app_states = [views.client_state(a)[0].value for a in rm.apps.values()]
            node_states = [n.state.value for n in rm.nodes.values()]
            allocated_total = rm.containers_allocated_total
        apps = GaugeMetricFamily("yarn_applications", "Applications by YARN state", labels=["state"])
        for s in CLIENT_STATES:
            apps.add_metric([s.value], app_states.count(s.value))
        yield apps
        nodes = GaugeMetricFamily("yarn_nodes", "NodeManagers by node state", labels=["state"])
        for ns in NodeState:
            nodes.add_metric([ns.value], node_states.count(ns.value))
        yield nodes
        for name, key, doc in (
            ("yarn_memory_allocated_mb", "allocatedMB", "Memory allocated to containers on running nodes"),
            ("yarn_memory_available_mb", "availableMB", "Memory free on running nodes"),
            ("yarn_memory_total_mb", "totalMB", "Memory of running nodes"),
            ("yarn_vcores_allocated", "allocatedVirtualCores", "Vcores allocated to containers on running nodes"),
            ("yarn_vcores_available", "availableVirtualCores", "Vcores free on running nodes"),
            ("yarn_vcores_total", "totalVirtualCores", "Vcores of running nodes"),
            ("yarn_containers_pending", "containersPending", "Containers asked for and not yet allocated"),
            ("yarn_containers_running", "containersAllocated", "Containers allocated and not yet completed"),
        ):
            yield GaugeMetricFamily(name, doc, value=m[key])
        yield CounterMetricFamily("yarn_containers_allocated", "Containers allocated since the RM started",
                                  value=allocated_total)


def add_metrics_route(app: FastAPI, rm: ResourceManager) -> None:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ResourceManagerCollector(rm))

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
