"""The words an NM reports when a container ends badly, in YARN's wording so people (and tools that
grep NodeManager output) recognise them: launch failures, kills on request, the memory monitor's kill.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

# How much of a failed container's stderr goes into its diagnostics, as YARN's
# yarn.nodemanager.container.stderr.tail.bytes default.
STDERR_TAIL_BYTES = 4096


def stamped(text: str, now: float | None = None) -> str:
    """One diagnostics entry as YARN 3 writes it: `[2024-01-01 10:00:00.000]text`."""
    t = time.time() if now is None else now
    millis = int((t - int(t)) * 1000)
    return f"[{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(t))}.{millis:03d}]{text}"


def byte_string(n: int) -> str:
    """Hadoop's TraditionalBinaryPrefix.long2String(n, "B", 1): `170 MB`, `173.3 MB`, `2.0 GB`."""
    for power, prefix in ((5, "P"), (4, "T"), (3, "G"), (2, "M"), (1, "K")):
        unit = 1024**power
        if abs(n) >= unit:
            if n % unit == 0:
                return f"{n // unit} {prefix}B"
            return f"{n / unit:.1f} {prefix}B"
    return f"{n} B"


def launch_failed(container_id: str, exit_code: int, stderr_tail: str) -> str:
    """A container that exited non-zero on its own (DefaultContainerExecutor's wording)."""
    text = (f"Exception from container-launch.\nContainer id: {container_id}\nExit code: {exit_code}\n"
            f"Container exited with a non-zero exit code {exit_code}. ")
    if stderr_tail:
        text += f"\nLast {STDERR_TAIL_BYTES} bytes of stderr :\n{stderr_tail}"
    return text + "\n"


def launch_exception(container_id: str, message: str) -> str:
    """A container that could not be started at all (no image, no Docker engine, a refused mount)."""
    return f"Exception from container-launch.\nContainer id: {container_id}\nException message: {message}\n"


def killed_on_request(exit_code: int) -> list[str]:
    """What YARN appends when it killed the container itself (stop, memory, app end, shutdown)."""
    return [f"Container killed on request. Exit code is {exit_code}\n",
            f"Container exited with a non-zero exit code {exit_code}. \n"]


def invalid_grant(container_id: str, node_id: str, reason: str) -> str:
    return (f"Unauthorized request to start container. \n{reason}\n"
            f"Container {container_id} was not started on {node_id}; start only containers the "
            "ResourceManager allocated to this node (see `miniyarn application -status <appId>`).\n")


def localization_failed(container_id: str, name: str, url: str, error: str) -> str:
    return (f"{error}\nFailed to localize resource {name} ({url}) for {container_id}; "
            "the application must stage it again before asking for a new container.\n")


@dataclass(frozen=True)
class ProcessRow:
    """One line of YARN's process-tree dump."""

    pid: int
    ppid: int
    pgrp: int
    sid: int
    name: str
    user_millis: int
    system_millis: int
    vmem_bytes: int
    rss_pages: int
    cmdline: str


TREE_HEADER = ("\t|- PID PPID PGRPID SESSID CMD_NAME USER_MODE_TIME(MILLIS) SYSTEM_TIME(MILLIS) "
               "VMEM_USAGE(BYTES) RSSMEM_USAGE(PAGES) FULL_CMD_LINE\n")


def process_tree_dump(container_id: str, rows: Sequence[ProcessRow]) -> str:
    lines = [f"Dump of the process-tree for {container_id} :\n", TREE_HEADER]
    for r in rows:
        lines.append(f"\t|- {r.pid} {r.ppid} {r.pgrp} {r.sid} ({r.name}) {r.user_millis} {r.system_millis} "
                     f"{r.vmem_bytes} {r.rss_pages} {r.cmdline}\n")
    return "".join(lines)


def pmem_exceeded(pid: int, container_id: str, rss_bytes: int, limit_bytes: int, vmem_bytes: int,
                  vmem_limit_bytes: int, rows: Sequence[ProcessRow]) -> str:
    """ContainersMonitorImpl's message when a container's process tree uses more RSS than granted."""
    return (f"Container [pid={pid},containerID={container_id}] is running {rss_bytes - limit_bytes}B beyond the "
            f"'PHYSICAL' memory limit. Current usage: {byte_string(rss_bytes)} of {byte_string(limit_bytes)} "
            f"physical memory used; {byte_string(vmem_bytes)} of {byte_string(vmem_limit_bytes)} virtual memory "
            f"used. Killing container.\n{process_tree_dump(container_id, rows)}")
