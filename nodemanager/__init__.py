"""The NodeManager: registers and heartbeats through Redis, launches containers (process executor),
enforces their memory, serves YARN's NM REST API and aggregates their logs when an app ends."""

from __future__ import annotations
