"""What a JobManager's and a TaskManager's process imports before its first step: on a deploy's critical
path every module costs CPU in each container that starts at once (BENCHMARKS.md, "docker per-job deploy").
Each check runs a fresh interpreter, as a container's start does."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def imported_by(module: str) -> set[str]:
    code = f"import json, sys; import {module}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    return set(json.loads(out.stdout))


@pytest.mark.parametrize(("module", "not_yet"), [
    # The AM registers and asks for its per-job TaskManagers before the JobManager's code: no FastAPI, no
    # Flink ResourceManager, no job-graph models, no task runtime.
    ("flink_on_yarn.yarn.appmaster", {"fastapi", "flink_on_yarn.runtime.jobmanager", "flink_on_yarn.runtime.messages",
                                      "flink_on_yarn.runtime.resource_manager", "flink_on_yarn.graph.job_graph",
                                      "flink_on_yarn.runtime.task"}),
    # The TaskManager registers with its messages and deployment descriptors only: the task runtime
    # (operators, network, state) is its fork server's, imported there after the registration.
    ("flink_on_yarn.runtime.taskmanager", {"fastapi", "redis", "flink_on_yarn.runtime.task",
                                           "flink_on_yarn.graph.operators", "flink_on_yarn.runtime.network",
                                           "flink_on_yarn.runtime.state_backend"}),
    # The JobManager's Prometheus registry is made at the first scrape of /metrics.
    ("flink_on_yarn.runtime.jobmanager", {"prometheus_client"}),
])
def test_a_daemon_imports_only_what_its_first_step_needs(module: str, not_yet: set[str]) -> None:
    assert not imported_by(module) & not_yet


def test_the_fork_server_still_loads_the_task_runtime_before_it_forks() -> None:
    code = ("import socket, sys, threading; from flink_on_yarn.runtime import task_forkserver as f; "
            "a, b = socket.socketpair(); a.close(); f.main([str(b.fileno())]); "
            "print('flink_on_yarn.runtime.task' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "True", out.stderr
