"""YARN's demo application, DistributedShell: an AM that runs a shell command in N containers."""

from __future__ import annotations
