"""Flink's slot rule on its own (no pydantic), so an ApplicationMaster can size its TaskManagers from a
job graph's JSON before the JobManager's code is even imported.

>>> required_slots([("default", 1), ("default", 2), ("sink", 3)])
5
"""

from __future__ import annotations

from typing import Any


def required_slots(group_parallelisms: list[tuple[str, int]]) -> int:
    """Σ over slot-sharing groups of the group's largest parallelism."""
    largest: dict[str, int] = {}
    for group, p in group_parallelisms:
        largest[group] = max(largest.get(group, 0), p)
    return sum(largest.values())


def required_slots_of(graph: dict[str, Any]) -> int:
    """The same for a job graph as JSON (`JobGraphSpec`'s shape)."""
    return required_slots([(str(v.get("slotSharingGroup", "default")), int(v["parallelism"]))
                           for v in graph.get("vertices", [])])
