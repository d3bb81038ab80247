"""`JobExecutionResult`, as `execute()` returns it."""

from __future__ import annotations


class JobExecutionResult:
    def __init__(self, job_id: str, net_runtime_ms: int) -> None:
        self.job_id = job_id
        self.net_runtime_ms = net_runtime_ms

    def get_job_id(self) -> str:
        return self.job_id

    def get_net_runtime(self) -> int:
        return self.net_runtime_ms

    def __repr__(self) -> str:
        return f"JobExecutionResult(job_id={self.job_id}, net_runtime={self.net_runtime_ms} ms)"
