"""Prometheus `/metrics` for the JobManager: TaskManagers, slots, jobs by state and each vertex's records
and bytes in/out and back-pressured time, read from the dispatcher and resource manager at scrape time."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from flink_on_yarn.runtime.job_status import JobStatus

if TYPE_CHECKING:
    from flink_on_yarn.runtime.jobmanager import JobManager


class JobManagerCollector(Collector):
    def __init__(self, jm: JobManager) -> None:
        self.jm = jm

    def collect(self) -> Iterator[Metric]:
        rm, d = self.jm.rm, self.jm.dispatcher
        demand = rm.demand()
        yield GaugeMetricFamily("flink_jobmanager_taskmanagers", "Registered TaskManagers",
                                value=len(rm.taskmanagers))
        yield GaugeMetricFamily("flink_jobmanager_slots_total", "Slots of the registered TaskManagers",
                                value=demand.registered_slots)
        yield GaugeMetricFamily("flink_jobmanager_slots_available", "Free slots of the registered TaskManagers",
                                value=demand.free_slots)
        jobs = GaugeMetricFamily("flink_jobmanager_jobs", "Jobs by Flink job state", labels=["state"])
        for s in JobStatus:
            jobs.add_metric([s.value], d.count(s))
        yield jobs
        labels = ["job_id", "job_name", "vertex_id", "vertex"]
        # (name, help, the subtasks' figure summed): what task_metrics.py measures, per job vertex.
        sums = [("flink_task_records_in", "Records a job vertex's subtasks read from the network (Flink's "
                 "numRecordsIn)", "read-records"),
                ("flink_task_records_out", "Records a job vertex's subtasks wrote to the network (Flink's "
                 "numRecordsOut)", "write-records"),
                ("flink_task_bytes_in", "Bytes a job vertex's subtasks read from the network (Flink's numBytesIn)",
                 "read-bytes"),
                ("flink_task_bytes_out", "Bytes a job vertex's subtasks wrote to the network (Flink's "
                 "numBytesOut)", "write-bytes"),
                ("flink_task_backpressured_time_ms", "Milliseconds a job vertex's subtasks waited on a full "
                 "output socket buffer", "accumulated-backpressured-time")]
        families = [CounterMetricFamily(name, text, labels=labels) for name, text, _ in sums]
        for jid, master in list(d.jobs.items()):
            for v in master.graph.vertices:
                execs = [e for (vid, _), e in list(master.executions.items()) if vid == v.id]
                values = [jid, master.graph.jobName, v.id, v.name]
                for family, (_, _, key) in zip(families, sums, strict=True):
                    family.add_metric(values, sum(e.metrics.get(key, 0) for e in execs))
        yield from families
