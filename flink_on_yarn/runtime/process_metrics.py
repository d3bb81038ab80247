"""A Python process's figures under the names of Flink's JVM metrics (`Status.JVM.*`), measured with psutil
and the garbage collector's own callbacks: what `/jobmanager/metrics` and `/taskmanagers/<id>/metrics`
answer. CPU is the process's, memory its resident set (there is no heap/non-heap split in CPython: RSS is
reported as `Status.JVM.Memory.Heap.Used`, and the real names beside it), threads its OS threads, GC its
collections per generation and the time they took."""

from __future__ import annotations

import gc
import os
import time
from typing import Any

import psutil

from flink_on_yarn.runtime.hardware import physical_memory_bytes


class GcTimer:
    """Counts collections and sums their time per generation (gc.callbacks), as the JVM's
    `GarbageCollector.<name>.Count` / `.Time` do; installed once per process."""

    def __init__(self) -> None:
        self.count = [0, 0, 0]
        self.time_ms = [0.0, 0.0, 0.0]
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        elif phase == "stop":
            gen = int(info.get("generation", 0))
            if 0 <= gen < 3:
                self.count[gen] += 1
                self.time_ms[gen] += (time.perf_counter() - self._started) * 1000


_timer: GcTimer | None = None
# psutil measures CPU load between two calls on the same Process object: keep one per pid.
_procs: dict[int, psutil.Process] = {}


def gc_timer() -> GcTimer:
    global _timer
    if _timer is None:
        _timer = GcTimer()
        gc.callbacks.append(_timer)
    return _timer


def process_figures(pid: int | None = None) -> dict[str, float]:
    """The process's figures by Flink metric name; the GC ones only for this process (it alone is timed)."""
    key = pid or os.getpid()
    proc = _procs.get(key)
    if proc is None or not proc.is_running():
        proc = _procs[key] = psutil.Process(key)
    with proc.oneshot():
        mem = proc.memory_info()
        cpu = proc.cpu_times()
        figures: dict[str, float] = {
            "Status.JVM.CPU.Load": proc.cpu_percent(interval=None) / 100,
            "Status.JVM.CPU.Time": (cpu.user + cpu.system) * 1e9,  # the JVM's is in nanoseconds
            "Status.JVM.Threads.Count": proc.num_threads(),
            "Status.JVM.Memory.Heap.Used": mem.rss,
            "Status.JVM.Memory.Heap.Committed": mem.rss,
            "Status.JVM.Memory.Heap.Max": physical_memory_bytes(),
            "Status.Process.Memory.RSS": mem.rss,
            "Status.Process.Memory.VMS": mem.vms,
            "Status.Process.OpenFileDescriptors": proc.num_fds(),
        }
    if pid is None or pid == os.getpid():
        t = gc_timer()
        for gen in range(3):
            figures[f"Status.JVM.GarbageCollector.gen{gen}.Count"] = t.count[gen]
            figures[f"Status.JVM.GarbageCollector.gen{gen}.Time"] = round(t.time_ms[gen], 3)
    return figures


def metric_list(figures: dict[str, float], get: list[str] | None) -> list[dict[str, Any]]:
    """Flink's MetricCollectionResponseBody: names without `get`, else the named values as strings."""
    if get is None:
        return [{"id": k} for k in sorted(figures)]
    return [{"id": k, "value": str(figures[k])} for k in get if k in figures]
