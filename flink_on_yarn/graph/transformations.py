"""The client-side graph the DataStream API records: one transformation per API call, with live Python objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flink_on_yarn.graph.operators import Operator
from flink_on_yarn.graph.sources import Source

FORWARD = "FORWARD"
REBALANCE = "REBALANCE"
HASH = "HASH"


@dataclass
class Transformation:
    """A node: a source, an operator (sinks are operators), or a virtual partitioning / union node."""

    id: int
    name: str
    inputs: list[int] = field(default_factory=list)
    operator: Operator | None = None
    source: Source | None = None
    partitioner: str | None = None  # set on virtual partition nodes only
    key_selector: Any = None
    parallelism: int | None = None  # None: the job's default parallelism
    slot_sharing_group: str | None = None  # None: inherited from the inputs, as Flink does
    is_union: bool = False
    side_output: str | None = None  # a virtual node: the side output of this id of its input
    # The declared type of what this node emits (a TypeInformation); None: untyped, PyFlink's pickled default.
    output_type: Any = None
    # `.uid("...")` / `set_uid_hash(...)`: where this node's state goes in a savepoint (graph/operator_ids.py).
    uid: str | None = None
    uid_hash: str | None = None

    @property
    def is_virtual(self) -> bool:
        return self.partitioner is not None or self.is_union or self.side_output is not None


class TransformationRegistry:
    """All transformations of one environment, in creation order."""

    def __init__(self) -> None:
        self.nodes: dict[int, Transformation] = {}
        # Every node ever added: a stream defined before an `execute()` may feed operators added after it.
        self._known: dict[int, Transformation] = {}
        self._next = 1

    def add(self, **kwargs: Any) -> Transformation:
        t = Transformation(id=self._next, **kwargs)
        self._next += 1
        self.nodes[t.id] = t
        self._known[t.id] = t
        return t

    def graph_nodes(self) -> dict[int, Transformation]:
        """The nodes added since the last `clear()` and everything they read from, in creation order, as
        Flink's StreamGraphGenerator walks a transformation's inputs."""
        wanted: set[int] = set()
        todo = list(self.nodes)
        while todo:
            tid = todo.pop()
            if tid not in wanted:
                wanted.add(tid)
                todo.extend(self._known[tid].inputs)
        return {tid: self._known[tid] for tid in sorted(wanted)}

    def clear(self) -> None:
        self.nodes.clear()
