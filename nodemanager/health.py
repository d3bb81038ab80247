"""The disk health checker (YARN's LocalDirsHandlerService and DirectoryCollection): a local or log dir that
is not writable, too full, or short of free space is bad; the node is UNHEALTHY when fewer than
`yarn.nodemanager.disk-health-checker.min-healthy-disks` of its local dirs, or of its log dirs, are good.
Its heartbeat carries the verdict and YARN's report, and the RM schedules nothing on an unhealthy node
(a container sent to a full log dir fails at once, every time).

The verdict on one dir is a pure function of its figures (`judge`); `check_dir` gathers them.

>>> judge(DirFigures(writable=True, total_bytes=100 << 20, free_bytes=5 << 20), max_used_pct=90.0, min_free_mb=0)
'used space above threshold of 90.0%'
>>> judge(DirFigures(writable=True, total_bytes=100 << 20, free_bytes=50 << 20), max_used_pct=90.0,
...       min_free_mb=64)
'free space below limit of 64MB'
>>> judge(DirFigures(writable=True, total_bytes=100 << 20, free_bytes=50 << 20), 90.0, 0) is None
True
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from miniyarn.config import YarnConfiguration

log = logging.getLogger("nodemanager.LocalDirsHandlerService")

PREFIX = "yarn.nodemanager.disk-health-checker."


@dataclass(frozen=True)
class DirFigures:
    writable: bool
    total_bytes: int
    free_bytes: int  # available to unprivileged users (statvfs f_bavail), as Java's getUsableSpace
    error: str = ""


@dataclass(frozen=True)
class DiskHealthConf:
    enabled: bool
    interval_ms: int
    min_healthy: float
    max_used_pct: float
    min_free_mb: int

    @classmethod
    def from_conf(cls, conf: YarnConfiguration) -> DiskHealthConf:
        # YARN's defaults: checked every 2 minutes, a quarter of the dirs must be good, 90% full is bad.
        return cls(enabled=conf.get_bool(PREFIX + "enable", True),
                   interval_ms=conf.get_int(PREFIX + "interval-ms", 120_000),
                   min_healthy=conf.get_float(PREFIX + "min-healthy-disks", 0.25),
                   max_used_pct=conf.get_float(PREFIX + "max-disk-utilization-per-disk-percentage", 90.0),
                   min_free_mb=conf.get_int(PREFIX + "min-free-space-per-disk-mb", 0))


def judge(f: DirFigures, max_used_pct: float, min_free_mb: int) -> str | None:
    """Why the dir is bad, in YARN's words, or None when it is good."""
    if not f.writable:
        return f.error or "Directory is not writable"
    if f.total_bytes > 0 and 100.0 * (f.total_bytes - f.free_bytes) / f.total_bytes > max_used_pct:
        return f"used space above threshold of {max_used_pct}%"
    if f.free_bytes < min_free_mb * 1024 * 1024:
        return f"free space below limit of {min_free_mb}MB"
    return None


def check_dir(d: Path) -> DirFigures:
    """Writable (a file can be created and removed there, as YARN's DiskChecker tries) and its space."""
    try:
        d.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".health-", dir=d)
        os.close(fd)
        os.unlink(probe)
        st = os.statvfs(d)
    except OSError as e:
        return DirFigures(writable=False, total_bytes=0, free_bytes=0,
                          error=f"Directory is not writable: {d}: {e.strerror or e}")
    return DirFigures(writable=True, total_bytes=st.f_blocks * st.f_frsize, free_bytes=st.f_bavail * st.f_frsize)


@dataclass(frozen=True)
class DiskHealth:
    healthy: bool
    report: str  # empty when every dir is good


def _kind_report(kind: str, bad: dict[Path, str], total: int) -> list[str]:
    """YARN's two lines per kind: dirs with errors (not writable) and dirs that are too full."""
    out: list[str] = []
    errors = {d: why for d, why in bad.items() if why.startswith("Directory")}
    full = {d: why for d, why in bad.items() if d not in errors}
    if errors:
        out.append(f"{len(errors)}/{total} {kind} have errors: [ "
                   + " ; ".join(f"{d} : {why}" for d, why in errors.items()) + " ]")
    if full:
        out.append(f"{len(full)}/{total} {kind} usable space is below configured utilization percentage/no more "
                   "usable space [ " + " ; ".join(f"{d} : {why}" for d, why in full.items()) + " ]")
    return out


def assess(local_dirs: list[Path], log_dirs: list[Path], conf: DiskHealthConf,
           figures: dict[Path, DirFigures] | None = None) -> DiskHealth:
    """The node's disk health from its dirs (`figures` given: no I/O, for tests)."""
    parts: list[str] = []
    healthy = True
    for kind, dirs in (("local-dirs", local_dirs), ("log-dirs", log_dirs)):
        bad: dict[Path, str] = {}
        for d in dirs:
            f = figures[d] if figures is not None else check_dir(d)
            why = judge(f, conf.max_used_pct, conf.min_free_mb)
            if why is not None:
                bad[d] = why
        if bad:
            parts += _kind_report(kind, bad, len(dirs))
        good = len(dirs) - len(bad)
        if dirs and (good == 0 or good / len(dirs) < conf.min_healthy):  # no good dir at all: never healthy
            healthy = False
    return DiskHealth(healthy=healthy, report=" ; ".join(parts))


class DiskHealthChecker:
    """Re-checks the dirs at most every interval; logs each change of verdict once."""

    def __init__(self, local_dirs: list[Path], log_dirs: list[Path], conf: YarnConfiguration) -> None:
        self.local_dirs = local_dirs
        self.log_dirs = log_dirs
        self.conf = DiskHealthConf.from_conf(conf)
        self.last = DiskHealth(healthy=True, report="")
        self._checked_at: float | None = None

    def current(self, now: float) -> DiskHealth:
        if not self.conf.enabled:
            return self.last
        if self._checked_at is not None and now - self._checked_at < self.conf.interval_ms / 1000:
            return self.last
        self._checked_at = now
        health = assess(self.local_dirs, self.log_dirs, self.conf)
        if health != self.last:
            if health.healthy and not health.report:
                log.info("Disks are healthy again")
            else:
                log.warning("Disk health: %s (node %s)", health.report, "healthy" if health.healthy else "UNHEALTHY")
        self.last = health
        return health
