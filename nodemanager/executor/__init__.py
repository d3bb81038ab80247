"""Container executors, chosen by `--executor` (`process` today; `docker` belongs here later)."""

from __future__ import annotations

from nodemanager.executor.base import ContainerExecutor, ContainerProcess, LaunchSpec, Usage
from nodemanager.executor.process import ProcessExecutor

EXECUTORS: dict[str, type[ContainerExecutor]] = {"process": ProcessExecutor}


def create_executor(name: str) -> ContainerExecutor:
    try:
        return EXECUTORS[name]()
    except KeyError:
        raise ValueError(f"Unknown executor {name!r}; choose one of: {', '.join(sorted(EXECUTORS))}") from None


__all__ = ["EXECUTORS", "ContainerExecutor", "ContainerProcess", "LaunchSpec", "Usage", "create_executor"]
