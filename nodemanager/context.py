"""What every part of one NodeManager needs to know about itself: its id, address, capacity, dirs
and configuration."""

from __future__ import annotations

import getpass
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from miniyarn.config import YarnConfiguration
from miniyarn.records import Resource

VERSION = "miniyarn 0.1.0"


@dataclass
class NMContext:
    host: str
    port: int
    capability: Resource
    local_dirs: list[Path]
    log_dirs: list[Path]
    redis_url: str
    conf: YarnConfiguration
    start_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    python: str = sys.executable
    nm_user: str = field(default_factory=getpass.getuser)

    @property
    def node_id(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def http_address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def recovery_enabled(self) -> bool:
        """YARN's yarn.nodemanager.recovery.enabled: containers outlive a restart of this NM (same id and
        dirs) and its next run takes them back; off, they die with it."""
        return self.conf.get_bool("yarn.nodemanager.recovery.enabled", False)

    @property
    def recovery_supervised(self) -> bool:
        """YARN's yarn.nodemanager.recovery.supervised: with recovery on, a stopping NM leaves its containers
        running for its next run (a supervisor restarts it at once). Off, a stop (SIGTERM) ends them as
        without recovery and only a crash leaves them to recover: compose's choice, whose `down` must end
        every container. Ours defaults to true (YARN's to false): recovery was only ever used supervised here."""
        return self.conf.get_bool("yarn.nodemanager.recovery.supervised", True)

    @property
    def private_dir(self) -> Path:
        """Where the NM keeps its container records (nodemanager.recovery), as YARN's nmPrivate."""
        return self.local_dirs[0] / "nmPrivate"

    @property
    def pmem_check(self) -> bool:
        return self.conf.get_bool("yarn.nodemanager.pmem-check-enabled", True)

    @property
    def vmem_ratio(self) -> float:
        return self.conf.get_float("yarn.nodemanager.vmem-pmem-ratio", 2.1)
