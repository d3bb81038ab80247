"""Flink on YARN: the cluster descriptor (client side) and the JobManager's YARN resource driver."""

from __future__ import annotations
