"""The scheduler: pure decisions over nodes, queues and asks; the RM applies what it returns."""

from __future__ import annotations
