"""Standalone deployment: the seed's start-cluster.sh / stop-cluster.sh, taskmanager.sh and standalone-job.sh."""

from __future__ import annotations
