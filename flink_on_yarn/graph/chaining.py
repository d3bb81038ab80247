"""From transformations to a job graph: resolve virtual nodes and parallelism, chain operators, ship user code.

Two operators chain (run in one task, no serialization between them) where Flink chains them: a FORWARD edge,
equal parallelism, the same slot-sharing group, the upstream has only this output and the downstream only this
input. In BATCH mode a keyed reduce behind a HASH edge also gets a combiner on the sending side.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import cloudpickle

from flink_on_yarn.graph.co_operators import BroadcastOperator, InputTagOperator
from flink_on_yarn.graph.codec import encode, new_id
from flink_on_yarn.graph.job_graph import JobEdgeSpec, JobGraphSpec, JobVertexSpec, OperatorSpec
from flink_on_yarn.graph.operator_ids import generated_ids, uid_hash
from flink_on_yarn.graph.operators import (
    CombineOperator,
    KeyedReduceOperator,
    Operator,
    TimestampsAndWatermarksOperator,
)
from flink_on_yarn.graph.partitioning import TimestampedKey
from flink_on_yarn.graph.transformations import FORWARD, HASH, REBALANCE, Transformation
from flink_on_yarn.runtime.state_backend import KeyedStateBackend
from flink_on_yarn.runtime.timers import TimerQueue


class ShipError(ValueError):
    """A user function cannot be pickled for shipping to the TaskManagers."""


@dataclass
class StreamEdge:
    source: int
    target: int
    partitioner: str | None  # None: FORWARD if parallelisms match, else REBALANCE
    key_selector: Any = None
    side_output: str | None = None  # the records of this side output of the source, not its main output


@dataclass
class _Chain:
    head: int
    members: list[int] = field(default_factory=list)


def resolve_edges(nodes: dict[int, Transformation]) -> list[StreamEdge]:
    """Edges between real nodes, looking through partition and union nodes."""

    def real_inputs(tid: int, partitioner: str | None, key: Any, side: str | None = None) -> list[StreamEdge]:
        t = nodes[tid]
        if t.partitioner is not None:
            out: list[StreamEdge] = []
            for i in t.inputs:
                out.extend(real_inputs(i, partitioner or t.partitioner, key if partitioner else t.key_selector,
                                       side))
            return out
        if t.is_union:
            out = []
            for i in t.inputs:
                out.extend(real_inputs(i, partitioner, key, side))
            return out
        if t.side_output is not None:
            return [e for i in t.inputs for e in real_inputs(i, partitioner, key, t.side_output)]
        return [StreamEdge(tid, -1, partitioner, key, side)]

    edges: list[StreamEdge] = []
    for t in nodes.values():
        if t.is_virtual:
            continue
        for i in t.inputs:
            for e in real_inputs(i, None, None):
                e.target = t.id
                edges.append(e)
    return edges


def _reachable(nodes: dict[int, Transformation], edges: list[StreamEdge]) -> list[int]:
    """Real nodes in topological order (sources first)."""
    real = [t.id for t in nodes.values() if not t.is_virtual]
    indegree = {r: 0 for r in real}
    for e in edges:
        indegree[e.target] += 1
    order: list[int] = []
    ready = [r for r in real if indegree[r] == 0]
    while ready:
        r = ready.pop(0)
        order.append(r)
        for e in edges:
            if e.source == r:
                indegree[e.target] -= 1
                if indegree[e.target] == 0:
                    ready.append(e.target)
    return order


def holds_state(op: Operator) -> bool:
    """The operator keeps state a savepoint must place: keyed state, timers, or its own `snapshot_state`."""
    if type(op).snapshot_state is not Operator.snapshot_state:
        return True
    return any(isinstance(v, (KeyedStateBackend, TimerQueue)) for v in vars(op).values())


def rescalable_state(op: Operator) -> bool:
    """Its state can go to another parallelism: no operator state of its own, or only broadcast state."""
    return type(op).snapshot_state is Operator.snapshot_state or op.broadcast_state


def operator_ids(nodes: dict[int, Transformation], order: list[int], edges: list[StreamEdge],
                 chainable: Callable[[StreamEdge], bool]) -> dict[int, str]:
    """Each real node's OperatorID: from its uid (or uid hash), else from its place in the graph."""
    fixed = {tid: nodes[tid].uid_hash or uid_hash(str(nodes[tid].uid)) for tid in order
             if nodes[tid].uid_hash is not None or nodes[tid].uid is not None}
    inputs = {tid: [e.source for e in edges if e.target == tid] for tid in order}
    outs = {tid: sum(1 for e in edges if e.source == tid and chainable(e)) for tid in order}
    return generated_ids(order, inputs, outs, fixed)


def _ship(obj: Any, what: str) -> str:
    try:
        cloudpickle.dumps(obj)
    except Exception as e:
        raise ShipError(f"cannot ship {what} to the TaskManagers: {type(e).__name__}: {e}") from None
    return encode(obj)


def build_job_graph(nodes: dict[int, Transformation], job_name: str, default_parallelism: int,
                    runtime_mode: str = "STREAMING", config: dict[str, str] | None = None) -> JobGraphSpec:
    edges = resolve_edges(nodes)
    order = _reachable(nodes, edges)
    if not order:
        raise ValueError("no operators defined in streaming topology; cannot execute")
    parallelism: dict[int, int] = {}
    group: dict[int, str] = {}
    for tid in order:
        t = nodes[tid]
        ins = [e.source for e in edges if e.target == tid]
        if t.source is not None and not t.source.parallel:
            parallelism[tid] = 1
        elif isinstance(t.operator, (InputTagOperator, BroadcastOperator)) and t.parallelism is None and ins:
            parallelism[tid] = parallelism[ins[0]]  # the input's own: the tag chains onto it
        else:
            parallelism[tid] = t.parallelism or default_parallelism
        inherited = {group[i] for i in ins}
        group[tid] = t.slot_sharing_group or (inherited.pop() if len(inherited) == 1 else "default")
    for e in edges:
        if e.partitioner is None:
            e.partitioner = FORWARD if parallelism[e.source] == parallelism[e.target] else REBALANCE
        if e.partitioner == FORWARD and parallelism[e.source] != parallelism[e.target]:
            raise ValueError(f"forward partitioning between {nodes[e.source].name!r} (parallelism "
                             f"{parallelism[e.source]}) and {nodes[e.target].name!r} ({parallelism[e.target]})")

    # A broadcast input makes one copy of each record per subtask of the operator it feeds.
    for e in edges:
        op = nodes[e.source].operator
        if isinstance(op, BroadcastOperator):
            op.consumers = parallelism[e.target]

    # Event time: a node's records carry timestamps if it assigns them or any input carries them.
    stamped: dict[int, bool] = {}
    for tid in order:
        t = nodes[tid]
        ins = [e.source for e in edges if e.target == tid]
        stamped_in = [stamped[i] for i in ins]
        if any(stamped_in) and not all(stamped_in):
            # A two-input operator's input without timestamps gets "no timestamp" (Long.MIN) on each record
            # at its tag, as Flink's records without one; its watermark holds event time back until it ends.
            for i in ins:
                op = nodes[i].operator
                if not stamped[i] and isinstance(op, (InputTagOperator, BroadcastOperator)):
                    op.stamp_missing = True
                    stamped[i] = True
            stamped_in = [stamped[i] for i in ins]
        if any(stamped_in) and not all(stamped_in):
            raise ValueError(f"{t.name!r} reads streams with and without event timestamps; assign timestamps "
                             "to every input (assign_timestamps_and_watermarks) before combining them")
        if t.operator is not None:
            t.operator.timestamped = any(stamped_in)
        stamped[tid] = isinstance(t.operator, TimestampsAndWatermarksOperator) or any(stamped_in)

    def chainable(e: StreamEdge) -> bool:
        return (e.partitioner == FORWARD and e.side_output is None and group[e.source] == group[e.target]
                and sum(1 for x in edges if x.source == e.source) == 1
                and sum(1 for x in edges if x.target == e.target) == 1)

    chain_of: dict[int, _Chain] = {}
    chains: list[_Chain] = []
    for tid in order:
        in_edges = [e for e in edges if e.target == tid]
        if len(in_edges) == 1 and chainable(in_edges[0]):
            chain = chain_of[in_edges[0].source]
        else:
            chain = _Chain(head=tid)
            chains.append(chain)
        chain.members.append(tid)
        chain_of[tid] = chain

    ids = operator_ids(nodes, order, edges, chainable)
    vertex_id = {id(c): new_id() for c in chains}
    # The OperatorSpec fields of each operator object (the BATCH combiner, added below, has none).
    op_meta: dict[int, tuple[str, str | None]] = {id(nodes[t].operator): (ids[t], nodes[t].uid) for t in order
                                                  if nodes[t].operator is not None}
    vertices: list[JobVertexSpec] = []
    vertex_ops: dict[str, list[Operator]] = {}
    for c in chains:
        head = nodes[c.head]
        ops = [nodes[m].operator for m in c.members if nodes[m].operator is not None]
        vid = vertex_id[id(c)]
        vertex_ops[vid] = [op for op in ops if op is not None]
        vertices.append(JobVertexSpec(
            id=vid, name=" -> ".join(nodes[m].name for m in c.members), parallelism=parallelism[c.head],
            slotSharingGroup=group[c.head],
            source=_ship(head.source, f"source {head.name!r}") if head.source is not None else None,
            sourceOperatorId=ids[c.head] if head.source is not None else "",
            sourceUid=head.uid if head.source is not None else None,
        ))
    job_edges: list[JobEdgeSpec] = []
    for e in edges:
        a, b = chain_of[e.source], chain_of[e.target]
        if a is b:
            continue
        key_selector = TimestampedKey(e.key_selector) if stamped[e.source] else e.key_selector
        ks = _ship(key_selector, f"the key selector into {nodes[e.target].name!r}") if e.partitioner == HASH \
            else None
        job_edges.append(JobEdgeSpec(source=vertex_id[id(a)], target=vertex_id[id(b)],
                                     shipStrategy=e.partitioner or REBALANCE, keySelector=ks,
                                     sideOutput=e.side_output))
        if runtime_mode == "BATCH" and e.partitioner == HASH:
            target_ops = vertex_ops[vertex_id[id(b)]]
            sender_out = [x for x in job_edges if x.source == vertex_id[id(a)]]
            if target_ops and isinstance(target_ops[0], KeyedReduceOperator) and len(sender_out) == 1 \
                    and sum(1 for x in edges if x.source == e.source) == 1:
                head_op = target_ops[0]
                combiner = CombineOperator(head_op.key_selector, head_op.reducer, name="Combine")
                combiner.timestamped = stamped[e.source]
                vertex_ops[vertex_id[id(a)]].append(combiner)
    for v in vertices:
        v.operators = [OperatorSpec(name=op.name, payload=_ship(op, f"function of operator {op.name!r}"),
                                    operatorId=op_meta.get(id(op), ("", None))[0],
                                    uid=op_meta.get(id(op), ("", None))[1], stateful=holds_state(op),
                                    rescalable=rescalable_state(op))
                       for op in vertex_ops[v.id]]
    return JobGraphSpec(jobName=job_name, runtimeMode=runtime_mode,
                        vertices=vertices, edges=job_edges, config=dict(config or {}))
