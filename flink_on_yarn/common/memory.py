"""Flink's memory sizes and the TaskManager's memory shares, which the runtime (a TaskManager budgeting its fork
server) and the YARN deployer (container sizes) both read.

>>> parse_memory_mb("1728m")
1728
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from flink_on_yarn.common.config import DEFAULTS

_SIZE_UNITS = {"": 1, "b": 1, "bytes": 1, "k": 1 << 10, "kb": 1 << 10, "kibibytes": 1 << 10,
               "m": 1 << 20, "mb": 1 << 20, "mebibytes": 1 << 20, "g": 1 << 30, "gb": 1 << 30,
               "gibibytes": 1 << 30, "t": 1 << 40, "tb": 1 << 40, "tebibytes": 1 << 40}


def parse_memory_mb(value: str) -> int:
    """Flink's MemorySize syntax (`1728m`, `1 g`, `512mb`; a bare number is bytes) in whole MB, rounded up."""
    m = re.fullmatch(r"\s*(\d+)\s*([a-zA-Z]*)\s*", value)
    if m is None or m.group(2).lower() not in _SIZE_UNITS:
        raise ValueError(f"not a memory size: {value!r} (expected e.g. '1728m', '1g', '512 mb')")
    size = int(m.group(1)) * _SIZE_UNITS[m.group(2).lower()]
    return -(-size // (1 << 20))


def jvm_overhead_mb(conf: Mapping[str, str]) -> int:
    """Flink's JVM-overhead share of `taskmanager.memory.process.size`: native memory outside the heap and its
    pools (threads, code, the JVM's own), `taskmanager.memory.jvm-overhead.fraction` (0.1) of the process size
    within `.min` (192m) and `.max` (1g). A TaskManager's fork server (a process of native memory) is
    budgeted here.

    >>> jvm_overhead_mb({}), jvm_overhead_mb({"taskmanager.memory.process.size": "4g"})
    (192, 409)
    """
    key = "taskmanager.memory.process.size"
    process = parse_memory_mb(conf.get(key) or DEFAULTS.get(key, ""))
    fraction = float(conf.get("taskmanager.memory.jvm-overhead.fraction") or "0.1")
    low = parse_memory_mb(conf.get("taskmanager.memory.jvm-overhead.min") or "192m")
    high = parse_memory_mb(conf.get("taskmanager.memory.jvm-overhead.max") or "1g")
    return max(low, min(high, int(process * fraction)))


__all__ = ["jvm_overhead_mb", "parse_memory_mb"]
