"""Where `execute()` sends a job on YARN: a per-job cluster made for it, or a running session."""

from __future__ import annotations

import time

from flink_on_yarn.client.executor import Executor, JobClient, JobResult
from flink_on_yarn.client.rest_client import RemoteExecutor, RemoteJobClient, RestClient, RestError
from flink_on_yarn.graph.job_graph import JobGraphSpec
from flink_on_yarn.yarn.descriptor import FINAL_STATES, ClusterHandle, ClusterSpec, YarnClusterDescriptor
from flink_on_yarn.yarn.options import Mode, job_state_from_final


class YarnJobClient(RemoteJobClient):
    """A job on a per-job cluster: asks the JobManager while it lives, and YARN once it is gone (the
    cluster stops with its job, so the final answer may only be in the application's final status)."""

    def __init__(self, cluster: ClusterHandle, job_id: str) -> None:
        super().__init__(RestClient(cluster.rest_url, timeout=5, token=cluster.token), job_id)
        self.cluster = cluster

    def get_job_status(self) -> str:
        try:
            return super().get_job_status()
        except RestError:
            report = self.cluster.report()
            return job_state_from_final(str(report["finalStatus"])) if report["state"] in FINAL_STATES \
                else "RUNNING"

    def wait(self) -> JobResult:
        try:
            return super().wait()
        except RestError:
            while (report := self.cluster.report())["state"] not in FINAL_STATES:
                time.sleep(0.2)
            state = job_state_from_final(str(report["finalStatus"]))
            return JobResult(self.job_id, state, str(report.get("diagnostics") or "") or None)


class YarnPerJobExecutor(Executor):
    """`-t yarn-per-job`: a YARN application for each job, its JobManager running that job only."""

    def __init__(self, descriptor: YarnClusterDescriptor, config: dict[str, str]) -> None:
        self.descriptor = descriptor
        self.config = config
        self.clusters: list[ClusterHandle] = []

    def submit(self, graph: JobGraphSpec) -> JobClient:
        cluster = self.descriptor.deploy(ClusterSpec(Mode.PER_JOB, self.config, job_graph=graph))
        self.clusters.append(cluster)
        self.descriptor.out(f"Job has been submitted with JobID {graph.jobId}")
        self.descriptor.follow_taskmanagers(cluster, graph.jobId)
        return YarnJobClient(cluster, graph.jobId)


class YarnSessionExecutor(Executor):
    """`-t yarn-session`: jobs go to a running session's JobManager, which asks YARN for TaskManagers."""

    def __init__(self, descriptor: YarnClusterDescriptor, cluster: ClusterHandle) -> None:
        self.descriptor = descriptor
        self.cluster = cluster
        self.remote = RemoteExecutor(cluster.rest_url, announce=False, token=cluster.token)

    def submit(self, graph: JobGraphSpec) -> JobClient:
        client = self.remote.submit(graph)
        self.descriptor.out(f"Job has been submitted with JobID {graph.jobId}")
        self.descriptor.follow_taskmanagers(self.cluster, graph.jobId)
        return client
