"""The containers monitor (YARN's ContainersMonitorImpl): every
`yarn.nodemanager.container-monitor.interval-ms` it measures each running container's process tree
and kills one whose RSS is over its granted memory, with exit status -104 and YARN's diagnostics.
"""

from __future__ import annotations

import logging
import threading

from miniyarn.exit_status import ContainerExitStatus
from nodemanager import diagnostics as diag
from nodemanager.container import NMContainerState
from nodemanager.container_manager import ContainerManager
from nodemanager.context import NMContext

log = logging.getLogger("nodemanager.ContainersMonitorImpl")

MB = 1024 * 1024


class ContainersMonitor:
    def __init__(self, ctx: NMContext, manager: ContainerManager, stop: threading.Event) -> None:
        self.ctx = ctx
        self.manager = manager
        self.stop = stop
        self.interval_s = ctx.conf.get_int("yarn.nodemanager.container-monitor.interval-ms", 1000) / 1000.0
        # Latest figures per container, for REST (YARN shows them on the NM's container page too).
        self.rss: dict[str, int] = {}

    def run(self) -> None:
        while not self.stop.wait(self.interval_s):
            try:
                self.check_once()
            except Exception:  # the monitor must outlive any one odd process
                log.exception("Containers monitor pass failed")

    def check_once(self) -> None:
        if not self.manager.executor.monitored:
            return
        seen: set[str] = set()
        for c in self.manager.snapshot():
            if c.state is not NMContainerState.RUNNING or c.process is None:
                continue
            usage = c.process.usage()
            if usage is None:
                continue
            seen.add(c.id)
            self.rss[c.id] = usage.rss_bytes
            limit = c.resource.memory * MB
            if self.ctx.pmem_check and limit > 0 and usage.rss_bytes > limit:
                text = diag.pmem_exceeded(c.process.pid, c.id, usage.rss_bytes, limit, usage.vmem_bytes,
                                          int(limit * self.ctx.vmem_ratio), usage.rows)
                log.warning("%s", text.rstrip())
                self.manager.kill(c, int(ContainerExitStatus.KILLED_EXCEEDED_PMEM), text)
        for cid in list(self.rss):
            if cid not in seen:
                del self.rss[cid]
