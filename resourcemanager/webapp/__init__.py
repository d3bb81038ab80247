"""The RM's HTTP side: YARN's REST API, the /cluster pages and the web proxy."""

from __future__ import annotations
