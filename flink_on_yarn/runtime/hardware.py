"""What a TaskManager reports as its hardware: cores and physical memory as its container sees them.

Inside a Docker container (or any memory-limited cgroup) the machine's page count is the host's; a JVM
that is container-aware reports the cgroup's limit instead, and so do we. Cores likewise: the CPUs this
process may run on, within its cgroup's CPU quota, and within the vcores YARN granted its container
(`taskmanager.cpu.cores`, which the ApplicationMaster sets as Flink's YARN driver does): a 1-vcore
TaskManager on a 2-core machine reports 1, not the machine's 2."""

from __future__ import annotations

import math
import os
from pathlib import Path

# cgroup v2, then v1: the limit of the cgroup this process runs in (as mounted inside a container).
CGROUP_LIMIT_FILES = (Path("/sys/fs/cgroup/memory.max"), Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"))
# cgroup v2's CPU quota ("<quota> <period>" in µs, or "max <period>"), as `docker run --cpus` writes it.
CGROUP_CPU_FILE = Path("/sys/fs/cgroup/cpu.max")


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


def cgroup_cpus(text: str) -> int | None:
    """The whole CPUs a cgroup v2 `cpu.max` allows (rounded up), None without a quota.

    >>> cgroup_cpus("150000 100000"), cgroup_cpus("max 100000"), cgroup_cpus("")
    (2, None, None)
    """
    parts = text.split()
    if len(parts) != 2 or not parts[0].isdigit() or not parts[1].isdigit() or int(parts[1]) == 0:
        return None
    return max(1, math.ceil(int(parts[0]) / int(parts[1])))


def cpu_cores_of(value: str | None) -> int:
    """Flink's `taskmanager.cpu.cores` (a double) as whole cores, 0 when unset or not a number.

    >>> cpu_cores_of("1"), cpu_cores_of("1.5"), cpu_cores_of(None), cpu_cores_of("x")
    (1, 2, 0, 0)
    """
    try:
        return max(0, math.ceil(float(value))) if value else 0
    except (ValueError, OverflowError):
        return 0


def cpu_cores(granted: int | None = None, cpu_file: Path = CGROUP_CPU_FILE) -> int:
    """The cores this process may use: the CPUs it may run on, capped by its cgroup's quota and by the
    vcores `granted` to its container (None or 0: no grant known, as in a standalone TaskManager)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    try:
        quota = cgroup_cpus(cpu_file.read_text())
    except OSError:
        quota = None
    for limit in (quota, granted):
        if limit:
            cores = min(cores, limit)
    return max(1, cores)


def hardware(granted_cores: int | None = None) -> dict[str, int]:
    return {"cpuCores": cpu_cores(granted_cores), "physicalMemory": physical_memory_bytes()}
