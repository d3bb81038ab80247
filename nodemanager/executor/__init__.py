"""Container executors, chosen by `--executor` (`process` or `docker`) and, per container, by the
launch context's YARN_CONTAINER_RUNTIME_TYPE."""

from __future__ import annotations

from collections.abc import Callable

from nodemanager.executor.base import ContainerExecutor, ContainerProcess, Inherited, LaunchSpec, Usage
from nodemanager.executor.delegating import DelegatingExecutor
from nodemanager.executor.process import ProcessExecutor


def _docker() -> ContainerExecutor:
    from nodemanager.executor.docker import DockerExecutor  # the docker SDK only where it is used

    return DockerExecutor()


EXECUTORS: dict[str, Callable[[], ContainerExecutor]] = {"process": ProcessExecutor, "docker": _docker}
RUNTIMES: dict[str, Callable[[], ContainerExecutor]] = {"default": ProcessExecutor, "docker": _docker}


def create_executor(name: str) -> ContainerExecutor:
    try:
        default = EXECUTORS[name]()
    except KeyError:
        raise ValueError(f"Unknown executor {name!r}; choose one of: {', '.join(sorted(EXECUTORS))}") from None
    return DelegatingExecutor(default, RUNTIMES)


__all__ = ["EXECUTORS", "ContainerExecutor", "ContainerProcess", "Inherited", "LaunchSpec", "Usage",
           "create_executor"]
