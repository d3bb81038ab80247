"""The ResourceManager: applications, attempts, scheduler, node and AM liveness, REST API."""

from __future__ import annotations
