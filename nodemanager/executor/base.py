"""The executor interface: how the container manager starts a container and, later, signals,
watches and measures it — without knowing whether it is a child process or a Docker container.

>>> from nodemanager.executor import create_executor
>>> create_executor("process").name
'process'
"""

from __future__ import annotations

import abc
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from miniyarn.records import Resource
from nodemanager.diagnostics import ProcessRow

if TYPE_CHECKING:
    from nodemanager.context import NMContext


# Who the NM runs as, never a container's business: its HOME would point a container's tools (pip,
# ssh, git credentials) at the NM's own files, and USER=root would claim an identity it does not have.
# The container's USER/LOGNAME/HOME are set by nodemanager.launch.container_env alone.
NM_IDENTITY_ENV = ("HOME", "USER", "LOGNAME", "MAIL", "SUDO_USER", "SUDO_UID", "SUDO_GID", "SUDO_COMMAND",
                   "XDG_RUNTIME_DIR")


def without_identity(env: Mapping[str, str]) -> dict[str, str]:
    """`env` less the NM's identity variables (NM_IDENTITY_ENV).

    >>> without_identity({"HOME": "/root", "USER": "root", "LANG": "C"})
    {'LANG': 'C'}
    """
    return {k: v for k, v in env.items() if k not in NM_IDENTITY_ENV}


@dataclass(frozen=True)
class LaunchSpec:
    """Everything an executor needs: the script to run (launch_container.sh, which exports the
    environment itself), where, for whom, and within what limits. `env` repeats the NM-owned
    variables so an executor can set them on the process too."""

    container_id: str
    app_id: str
    user: str
    work_dir: Path
    log_dir: Path
    script: Path
    env: dict[str, str]
    resource: Resource
    # The launch context's own environment (YARN_CONTAINER_RUNTIME_DOCKER_IMAGE, ..._MOUNTS, ...).
    launch_env: Mapping[str, str] = field(default_factory=dict)
    # The NM's own dir for this container (nodemanager.recovery): pid and exit-code files go there.
    private_dir: Path | None = None


@dataclass(frozen=True)
class Usage:
    """A container's memory right now, summed over its process tree."""

    rss_bytes: int
    vmem_bytes: int
    rows: tuple[ProcessRow, ...] = ()


class ContainerProcess(abc.ABC):
    """A launched container. `wait` blocks in the container's own thread; the rest may be called
    from any thread."""

    # Whether the NM's next run can take it back (nodemanager.recovery): a container launched with
    # recovery on (a process container, or a Docker one). An NM with recovery on kills the others when it stops.
    recoverable: bool = False

    @property
    @abc.abstractmethod
    def pid(self) -> int:
        """The container's root process id as the NM sees it (for diagnostics)."""

    @abc.abstractmethod
    def wait(self) -> int:
        """Block until it exits; the exit code as a shell reports it (128+N when killed by signal N)."""

    @abc.abstractmethod
    def signal(self, sig: int) -> None:
        """Deliver `sig` to every process of the container; no error if it is already gone."""

    @abc.abstractmethod
    def alive(self) -> bool: ...

    @abc.abstractmethod
    def usage(self) -> Usage | None:
        """Memory in use, or None if it cannot be measured (gone, or measured elsewhere)."""

    @abc.abstractmethod
    def cleanup(self) -> None:
        """After the root exits: end whatever it left behind."""

    def exit_reason(self) -> tuple[int, str] | None:
        """After `wait`: an exit status and diagnostics the executor determined itself (Docker's OOM
        kill is -104), or None and the exit code stands."""
        return None


@dataclass(frozen=True)
class Inherited:
    """What a container inherits before YARN's whitelist picks from it, and the interpreter its
    $PYTHON names (None: the NM's own)."""

    env: Mapping[str, str]
    python: str | None = None


class ContainerExecutor(abc.ABC):
    name: str = ""
    # Whether the NM's memory monitor must enforce limits (a Docker executor leaves it to the engine).
    monitored: bool = True

    def prepare(self, ctx: NMContext) -> None:
        """Once when the NM starts, before any launch (the Docker executor removes containers an
        earlier run of this node left). Must not raise: an executor that cannot work yet fails launches."""
        return None  # the process executor has nothing to prepare

    def release(self) -> None:
        """Once when the NM stops after ending its containers (not a supervised stop, which leaves them
        running): drop what the node itself held for them (the Docker executor's network sandbox)."""
        return None

    def select(self, launch_env: Mapping[str, str]) -> ContainerExecutor:
        """The executor for one container, from its launch context (YARN_CONTAINER_RUNTIME_TYPE);
        raises OSError with the diagnostic when it asks for something this NM cannot run."""
        return self

    def inherited(self, launch_env: Mapping[str, str]) -> Inherited:
        """The environment a container inherits; raises OSError when it cannot be known (no image)."""
        return Inherited(without_identity(os.environ))

    def runtime(self, name: str) -> ContainerExecutor | None:
        """The executor of runtime `name` ("process", "docker") as this NM runs it, or None when it does
        not: for the container records of an earlier run (nodemanager.recovery)."""
        return self if name == self.name else None

    def recover(self, container_id: str) -> ContainerProcess | None:
        """A container an earlier run of this node started, for runtimes that keep their containers
        themselves (Docker, by its labels): running or exited, None when it is gone. The process
        executor keeps nothing: pid and exit-code files say what became of its containers."""
        return None

    def sweep(self, keep: set[str]) -> int:
        """After recovery: remove what the runtime still holds of this node but `keep` (container ids).
        Returns how many it removed."""
        return 0

    def container_host(self, container_id: str) -> str | None:
        """The address the container is reached at ($NM_HOST), when it is not the NM's own (a Docker
        container on a network of its own); None: the NM's host."""
        return None

    @abc.abstractmethod
    def launch(self, spec: LaunchSpec) -> ContainerProcess:
        """Start the container; raises OSError when it cannot be started at all."""
