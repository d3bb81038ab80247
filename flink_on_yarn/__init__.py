"""flink_on_yarn package."""

from __future__ import annotations
