"""A Python process's figures under the names of Flink's JVM metrics (`Status.JVM.*`), measured with psutil
and the garbage collector's own callbacks: what `/jobmanager/metrics` and `/taskmanagers/<id>/metrics`
answer. CPU is the process's, memory its resident set (there is no heap/non-heap split in CPython: RSS is
reported as `Status.JVM.Memory.Heap.Used`, and the real names beside it), threads its OS threads, GC its
collections per generation and the time they took. `thread_infos()` is the process's thread dump in
the shape of Flink's ThreadDumpInfo (`/jobmanager/thread-dump`, `/taskmanagers/<id>/thread-dump`)."""

from __future__ import annotations

import gc
import os
import sys
import threading
import time
import traceback
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


gc_timer()


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
        for gen, stats in enumerate(gc.get_stats()[:3]):
            # The interpreter's own count since the process started; the time since the timer was installed
            # (at import, before the JobManager or TaskManager does any work).
            figures[f"Status.JVM.GarbageCollector.gen{gen}.Count"] = stats["collections"]
            figures[f"Status.JVM.GarbageCollector.gen{gen}.Time"] = round(t.time_ms[gen], 3)
    return figures


# What a process tree adds up: a TaskManager's figures include its task processes' (a JVM's would include
# its task threads). CPU load stays the TaskManager's own share: a sum over processes is not a load.
SUMMED = ("Status.JVM.CPU.Time", "Status.JVM.Threads.Count", "Status.JVM.Memory.Heap.Used",
          "Status.JVM.Memory.Heap.Committed", "Status.Process.Memory.RSS", "Status.Process.Memory.VMS",
          "Status.Process.OpenFileDescriptors")


def tree_figures() -> dict[str, float]:
    """This process's figures plus its children's (`SUMMED`), and how many children there are."""
    figures = process_figures()
    children = 0
    for child in psutil.Process().children(recursive=True):
        try:
            theirs = process_figures(child.pid)
        except psutil.Error:  # ended between the listing and the reading
            continue
        children += 1
        for k in SUMMED:
            figures[k] += theirs[k]
    figures["Status.Process.Children.Count"] = children
    for pid in [p for p, proc in _procs.items() if not proc.is_running()]:
        del _procs[pid]
    return figures


def metric_list(figures: dict[str, float], get: list[str] | None) -> list[dict[str, Any]]:
    """Flink's MetricCollectionResponseBody: names without `get`, else the named values as strings."""
    if get is None:
        return [{"id": k} for k in sorted(figures)]
    return [{"id": k, "value": _text(figures[k])} for k in get if k in figures]


def _text(value: float) -> str:
    # A count that travelled as a JSON float (a heartbeat's figures) is still written as Flink writes a count.
    return str(int(value)) if float(value).is_integer() else str(value)


# Flink's `cluster.thread-dump.stacktrace-max-depth` default: frames shown per thread.
STACK_DEPTH = 50


def thread_infos(max_depth: int = STACK_DEPTH) -> list[dict[str, str]]:
    """Every thread of this process with its stack, innermost frame first as a JVM thread dump shows it:
    Flink's ThreadDumpInfo entries (`threadName`, `stringifiedThreadInfo`)."""
    frames = sys._current_frames()
    out = []
    for t in threading.enumerate():
        frame = frames.get(t.ident or -1)
        stack = list(reversed(traceback.extract_stack(frame))) if frame is not None else []
        lines = [f'"{t.name}"{" daemon" if t.daemon else ""} Id={t.native_id}']
        lines += [f"\tat {fs.name}({os.path.basename(fs.filename)}:{fs.lineno})" for fs in stack[:max_depth]]
        if len(stack) > max_depth:
            lines.append("\t...")
        out.append({"threadName": t.name, "stringifiedThreadInfo": "\n".join(lines) + "\n\n"})
    return out
