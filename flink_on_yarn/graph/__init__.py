"""Job graphs: the client's transformations, operator chaining, vertices, edges and slot arithmetic."""

from __future__ import annotations
