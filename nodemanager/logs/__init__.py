"""Container log dirs on this node, and their aggregation into Redis when an application ends."""

from __future__ import annotations
