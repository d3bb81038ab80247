"""What a TaskManager reports as its hardware: cores and physical memory as its container sees them.

Inside a Docker container (or any memory-limited cgroup) the machine's page count is the host's; a JVM
that is container-aware reports the cgroup's limit instead, and so do we."""

from __future__ import annotations

import os
from pathlib import Path

# cgroup v2, then v1: the limit of the cgroup this process runs in (as mounted inside a container).
CGROUP_LIMIT_FILES = (Path("/sys/fs/cgroup/memory.max"), Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"))


def host_memory_bytes() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def cgroup_limit_bytes(text: str) -> int | None:
    """A cgroup memory limit file's content as bytes; None for `max` or an unreadable value."""
    value = text.strip()
    return int(value) if value.isdigit() else None


def physical_memory_bytes(host: int | None = None, limit_files: tuple[Path, ...] = CGROUP_LIMIT_FILES) -> int:
    memory = host_memory_bytes() if host is None else host
    for path in limit_files:
        try:
            limit = cgroup_limit_bytes(path.read_text())
        except OSError:
            continue
        # v1 writes an "unlimited" limit as a huge page-aligned number: min() keeps the host's then.
        if limit is not None and limit > 0:
            return min(memory, limit)
    return memory


def hardware() -> dict[str, int]:
    return {"cpuCores": os.cpu_count() or 1, "physicalMemory": physical_memory_bytes()}
