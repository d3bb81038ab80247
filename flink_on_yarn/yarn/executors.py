"""Where `execute()` sends a job on YARN: a per-job cluster made for it, or a running session."""

from __future__ import annotations

import time
from typing import Any

from flink_on_yarn.client.executor import Executor, JobClient, JobResult
from flink_on_yarn.client.rest_client import RemoteExecutor, RemoteJobClient, RestClient, RestError
from flink_on_yarn.graph.job_graph import JobGraphSpec
from flink_on_yarn.yarn.descriptor import (
    FINAL_STATES,
    ClusterHandle,
    ClusterSpec,
    DeploymentError,
    YarnClusterDescriptor,
)
from flink_on_yarn.yarn.options import Mode, job_state_from_final


class YarnJobClient(RemoteJobClient):
    """A job on a per-job cluster: asks the JobManager while it lives, and YARN once it is gone (the
    cluster stops with its job, so the final answer may only be in the application's final status)."""

    def __init__(self, cluster: ClusterHandle, job_id: str) -> None:
        super().__init__(RestClient(cluster.rest_url, timeout=5, token=cluster.token), job_id)
        self.cluster = cluster
        self.started_ms = 0  # the job's start-time as its JobManager said it, once it has

    def get_job_status(self) -> str:
        try:
            return super().get_job_status()
        except RestError:
            report = self.cluster.report()
            return job_state_from_final(str(report["finalStatus"])) if report["state"] in FINAL_STATES \
                else "RUNNING"

    def wait(self) -> JobResult:
        try:
            self.started_ms = int(self.rest.job(self.job_id).get("start-time") or 0)
            return super().wait()
        except RestError:
            # The JobManager is gone (the job ended and its cluster with it), or the RM's proxy did not answer
            # (an RM restart): the answer is the application's final status, the runtime its end less the job's
            # start, never a 0 ms the user would read as a measurement.
            while (report := self.cluster.report())["state"] not in FINAL_STATES:
                time.sleep(0.2)
            state = job_state_from_final(str(report["finalStatus"]))
            return JobResult(self.job_id, state, str(report.get("diagnostics") or "") or None,
                             job_runtime_ms(report, self.started_ms))


def job_runtime_ms(report: dict[str, Any], job_started_ms: int) -> int:
    """A per-job cluster's job runtime from YARN's report once its JobManager is gone: the application's
    finish less the job's start (the application's start while the job's was never seen)."""
    finished = int(report.get("finishedTime") or 0)
    started = job_started_ms if job_started_ms > 0 else int(report.get("startedTime") or 0)
    return max(0, finished - started) if finished > 0 and started > 0 else 0


class YarnPerJobExecutor(Executor):
    """`-t yarn-per-job`: a YARN application for each job, its JobManager running that job only."""

    def __init__(self, descriptor: YarnClusterDescriptor, config: dict[str, str], detached: bool = False) -> None:
        self.descriptor = descriptor
        self.config = config
        self.detached = detached
        self.clusters: list[ClusterHandle] = []

    def submit(self, graph: JobGraphSpec) -> JobClient:
        if self.detached and self.clusters:
            # Flink's per-job mode in detached mode runs one job (StreamContextEnvironment's
            # enforceSingleJobExecution): the client returns at the first execute(), so a second would start
            # a second cluster that nobody follows. Attached, each execute() waits for its job, so the next
            # one's cluster starts after it: that is allowed, as in Flink.
            raise DeploymentError("Cannot have more than one execute() or executeAsync() call in a single "
                                  f"environment in detached per-job mode: the first job runs in "
                                  f"{self.clusters[0].app_id}; submit the others separately, or to a session "
                                  "(-t yarn-session)")
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
