"""The Flink runtime: JobManager (dispatcher, job masters, resource manager, REST) and TaskManager processes."""

from __future__ import annotations
