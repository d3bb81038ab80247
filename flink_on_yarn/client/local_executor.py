"""The local mini cluster: `python program.py` runs the job in this process, one thread per subtask.

Subtasks still talk over loopback TCP, through the same code as on a cluster (the handshake included, over a
secret made for the job that never leaves this process); only the scheduling is local.
"""

from __future__ import annotations

import secrets
import threading
import time
from typing import Any

from flink_on_yarn.client.executor import Executor, JobClient, JobResult
from flink_on_yarn.graph.job_graph import JobGraphSpec
from flink_on_yarn.runtime.deployment import build_deployment, deployment_order
from flink_on_yarn.runtime.task import run_task


class LocalJobClient(JobClient):
    def __init__(self, graph: JobGraphSpec) -> None:
        super().__init__(graph.jobId)
        self.graph = graph
        self.state = "CREATED"
        self.failure: str | None = None
        self.cancelled = False
        self.started = time.monotonic()
        self.threads: list[threading.Thread] = []
        self.runner = threading.Thread(target=self._run, name=f"job-{graph.jobId[:8]}", daemon=True)
        self.runner.start()

    def _run(self) -> None:
        self.state = "RUNNING"
        addresses: dict[tuple[str, int], tuple[str, int]] = {}
        lock = threading.Lock()
        errors: list[str] = []
        secret = secrets.token_hex(32).encode()
        for vid in deployment_order(self.graph):
            vertex = self.graph.vertex(vid)
            ready = threading.Semaphore(0)
            for i in range(vertex.parallelism):
                dep = build_deployment(self.graph, vid, i, 0, addresses, bind_host="127.0.0.1")

                def report(msg: dict[str, Any], key: tuple[str, int] = (vid, i), sem: threading.Semaphore = ready,
                           ) -> None:
                    if msg["state"] == "INITIALIZING":
                        if msg.get("port"):
                            with lock:
                                addresses[key] = ("127.0.0.1", int(msg["port"]))
                        sem.release()

                def body(d: Any = dep, r: Any = report, sem: threading.Semaphore = ready) -> None:
                    try:
                        run_task(d, r, secret, should_stop=lambda: self.cancelled)
                    except Exception as e:
                        errors.append(f"{d.task_name} ({d.subtask + 1}/{d.parallelism}): {type(e).__name__}: {e}")
                        sem.release()

                t = threading.Thread(target=body, name=f"{vertex.name} ({i + 1}/{vertex.parallelism})", daemon=True)
                self.threads.append(t)
                t.start()
            for _ in range(vertex.parallelism):
                ready.acquire()
            if errors:
                break
        for t in self.threads:
            t.join()
        if errors:
            self.state, self.failure = "FAILED", errors[0]
        else:
            self.state = "CANCELED" if self.cancelled else "FINISHED"

    def get_job_status(self) -> str:
        return self.state

    def cancel(self) -> None:
        self.cancelled = True

    def wait(self) -> JobResult:
        self.runner.join()
        return JobResult(self.job_id, self.state, self.failure, int((time.monotonic() - self.started) * 1000))


class LocalExecutor(Executor):
    def submit(self, graph: JobGraphSpec) -> JobClient:
        return LocalJobClient(graph)
