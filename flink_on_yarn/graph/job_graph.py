"""The job graph the client submits and the JobManager schedules: JSON structure, user code as base64 pickles.

Validation happens here so that a malformed submission is a 400 at the JobManager, never a crash later.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator

from flink_on_yarn.graph.codec import new_id
from flink_on_yarn.graph.slots import required_slots

__all__ = ["JobEdgeSpec", "JobGraphSpec", "JobVertexSpec", "OperatorSpec", "required_slots"]



class OperatorSpec(BaseModel):
    name: str
    payload: str  # base64 of a pickled flink_on_yarn.graph.operators.Operator
    # Flink's OperatorID (graph/operator_ids.py): the key of this operator's state in a savepoint; "" in a
    # graph built before ids existed. `uid` is the user's `.uid()`, shown in messages.
    operatorId: str = Field(default="", pattern=r"^([0-9a-f]{32})?$")
    uid: str | None = Field(default=None, max_length=1000)
    # The operator holds state (keyed state, timers or its own): a savepoint's state that no operator of a
    # new job takes is an error only for these (Flink's check is for state that is there).
    stateful: bool = False
    # Its state splits at another parallelism: keyed state and timers, or broadcast state (runtime/
    # state_rescale.py); False for operator state such as a sink's pending files.
    rescalable: bool = False


class JobVertexSpec(BaseModel):
    id: str = Field(pattern=r"^[0-9a-f]{32}$")
    name: str
    parallelism: int = Field(ge=1, le=1024)
    maxParallelism: int = Field(default=128, ge=1)
    slotSharingGroup: str = "default"
    source: str | None = None  # base64 of a pickled flink_on_yarn.graph.sources.Source
    sourceOperatorId: str = Field(default="", pattern=r"^([0-9a-f]{32})?$")
    sourceUid: str | None = Field(default=None, max_length=1000)
    operators: list[OperatorSpec] = Field(default_factory=list)


class JobEdgeSpec(BaseModel):
    source: str
    target: str
    shipStrategy: Literal["FORWARD", "HASH", "REBALANCE"]
    keySelector: str | None = None
    sideOutput: str | None = Field(default=None, max_length=1000)  # the OutputTag id this edge carries


class JobGraphSpec(BaseModel):
    jobId: str = Field(default_factory=new_id, pattern=r"^[0-9a-f]{32}$")
    jobName: str = "Flink Streaming Job"
    runtimeMode: Literal["STREAMING", "BATCH"] = "STREAMING"
    vertices: list[JobVertexSpec] = Field(min_length=1)
    edges: list[JobEdgeSpec] = Field(default_factory=list)
    config: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> JobGraphSpec:
        ids = [v.id for v in self.vertices]
        if len(set(ids)) != len(ids):
            raise ValueError("vertex ids must be unique")
        by_id = {v.id: v for v in self.vertices}
        for e in self.edges:
            if e.source not in by_id or e.target not in by_id:
                raise ValueError(f"edge {e.source} -> {e.target} names an unknown vertex")
            if e.shipStrategy == "FORWARD" and by_id[e.source].parallelism != by_id[e.target].parallelism:
                raise ValueError(f"FORWARD edge {by_id[e.source].name} -> {by_id[e.target].name} "
                                 "joins different parallelisms")
            if e.shipStrategy == "HASH" and not e.keySelector:
                raise ValueError("a HASH edge needs a keySelector")
        for v in self.vertices:
            has_inputs = any(e.target == v.id for e in self.edges)
            if v.source is None and not has_inputs:
                raise ValueError(f"vertex {v.name!r} has neither a source nor inputs")
            if v.source is not None and has_inputs:
                raise ValueError(f"source vertex {v.name!r} cannot have inputs")
        self.topological_order()
        return self

    def vertex(self, vertex_id: str) -> JobVertexSpec:
        for v in self.vertices:
            if v.id == vertex_id:
                return v
        raise KeyError(vertex_id)

    def inputs_of(self, vertex_id: str) -> list[JobEdgeSpec]:
        return [e for e in self.edges if e.target == vertex_id]

    def outputs_of(self, vertex_id: str) -> list[JobEdgeSpec]:
        return [e for e in self.edges if e.source == vertex_id]

    def topological_order(self) -> list[str]:
        """Vertex ids, sources first; a cycle is a ValueError."""
        indegree = {v.id: 0 for v in self.vertices}
        for e in self.edges:
            indegree[e.target] += 1
        ready = [v.id for v in self.vertices if indegree[v.id] == 0]
        order: list[str] = []
        while ready:
            vid = ready.pop(0)
            order.append(vid)
            for e in self.outputs_of(vid):
                indegree[e.target] -= 1
                if indegree[e.target] == 0:
                    ready.append(e.target)
        if len(order) != len(self.vertices):
            raise ValueError("the job graph has a cycle")
        return order

    def required_slots(self) -> int:
        return required_slots([(v.slotSharingGroup, v.parallelism) for v in self.vertices])
