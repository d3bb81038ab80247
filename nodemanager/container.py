"""One container as this NodeManager sees it: its grant, dirs, process, and what it will report.

The NM's own states are YARN's ContainerImpl's (NEW, LOCALIZING, SCHEDULED, RUNNING, KILLING,
EXITED_WITH_SUCCESS, EXITED_WITH_FAILURE, DONE), governed by miniyarn/states/nm_container.py: every change
through `event`; the RM hears the three of ContainerState (NEW, RUNNING, COMPLETE).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from miniyarn.exit_status import ContainerExitStatus
from miniyarn.records import ContainerStatus, Resource
from miniyarn.states.container import ContainerState
from miniyarn.states.nm_container import NM_CONTAINER_MACHINE, NMContainerEvent
from miniyarn.states.nm_container import NMContainerState as NMContainerState
from nodemanager.diagnostics import stamped
from nodemanager.executor.base import ContainerProcess
from nodemanager.launch import ContainerPaths


@dataclass
class KillRequest:
    """Why the NM is ending a container; its exit status replaces the process's own."""

    exit_status: int
    diagnostics: str


@dataclass
class NMContainer:
    id: str
    app_id: str
    user: str
    resource: Resource
    paths: ContainerPaths
    state: NMContainerState = NMContainerState.NEW
    exit_status: int = int(ContainerExitStatus.INVALID)
    diagnostics: list[str] = field(default_factory=list)
    process: ContainerProcess | None = None
    kill: KillRequest | None = None
    completed_at: float | None = None
    # Heartbeats that have carried this completion; it is dropped after a few so the RM gets it even
    # if one heartbeat is lost, without the list growing forever.
    completion_reports: int = 0
    # Digest of the container token its start carried: a stop must carry the same token.
    token_digest: str = ""
    # Refused at start (no grant, wrong node): reported, but a later start with a valid token replaces
    # it, so a forged start of a future container id cannot block the real one.
    refused: bool = False
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    done: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def is_complete(self) -> bool:
        return self.state.reported() is ContainerState.COMPLETE

    def add_diagnostic(self, text: str) -> None:
        self.diagnostics.append(stamped(text))

    def event(self, event: NMContainerEvent) -> bool:
        """Every change of its state: through ContainerImpl's machine (refused and logged if illegal)."""
        return NM_CONTAINER_MACHINE.fire(self, event, what=self.id)

    def complete(self, exit_status: int, success: bool) -> None:
        """It exited (or was failed before it ran); an already complete container keeps its first end."""
        if not self.event(NMContainerEvent.CONTAINER_EXITED_WITH_SUCCESS if success
                          else NMContainerEvent.CONTAINER_EXITED_WITH_FAILURE):
            return
        self.exit_status = exit_status
        self.completed_at = time.time()
        self.done.set()

    def status(self) -> ContainerStatus:
        return ContainerStatus(container_id=self.id, state=self.state.reported(), exit_status=self.exit_status,
                               diagnostics="".join(self.diagnostics))
