"""Clients: YarnClient (REST, for submitters), AMRMClient and NMClient (Redis, for AMs)."""

from __future__ import annotations
