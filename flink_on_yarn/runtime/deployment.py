"""Deployment descriptors from a job graph: what each subtask reads, whom it sends to, in which order to start.

Consumers start first (sinks back to sources) so that each producer is deployed knowing its consumers'
listening addresses; a FORWARD edge joins subtask i to subtask i, the others fan out to every consumer.
"""

from __future__ import annotations

from flink_on_yarn.graph.job_graph import JobGraphSpec
from flink_on_yarn.runtime.task_deployment import OutputSpec, TaskDeployment

Address = tuple[str, int]


def deployment_order(graph: JobGraphSpec) -> list[str]:
    return list(reversed(graph.topological_order()))


def num_inputs(graph: JobGraphSpec, vertex_id: str) -> int:
    total = 0
    for e in graph.inputs_of(vertex_id):
        total += 1 if e.shipStrategy == "FORWARD" else graph.vertex(e.source).parallelism
    return total


def execution_id(job_id: str, vertex_id: str, subtask: int, attempt: int) -> str:
    return f"{job_id}_{vertex_id}_{subtask}_{attempt}"


def build_deployment(graph: JobGraphSpec, vertex_id: str, subtask: int, attempt: int,
                     addresses: dict[tuple[str, int], Address], bind_host: str = "127.0.0.1") -> TaskDeployment:
    """`addresses` maps (vertex id, subtask) of every consumer of this vertex to its data address."""
    v = graph.vertex(vertex_id)
    outputs: list[OutputSpec] = []
    for e in graph.outputs_of(vertex_id):
        consumer = graph.vertex(e.target)
        if e.shipStrategy == "FORWARD":
            targets = [addresses[(consumer.id, subtask)]]
        else:
            targets = [addresses[(consumer.id, i)] for i in range(consumer.parallelism)]
        outputs.append(OutputSpec(strategy=e.shipStrategy, targets=targets, key_selector=e.keySelector,
                                  side_output=e.sideOutput))
    return TaskDeployment(
        execution_id=execution_id(graph.jobId, vertex_id, subtask, attempt), job_id=graph.jobId,
        vertex_id=vertex_id, task_name=v.name, subtask=subtask, parallelism=v.parallelism, attempt=attempt,
        runtime_mode=graph.runtimeMode, operators=[o.payload for o in v.operators], source=v.source,
        num_inputs=num_inputs(graph, vertex_id), outputs=outputs, bind_host=bind_host,
    )
