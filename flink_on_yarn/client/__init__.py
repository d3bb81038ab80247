"""The client: runs a user's program, turns its environment's graph into a job graph and submits it."""

from __future__ import annotations
