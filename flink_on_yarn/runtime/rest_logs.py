"""The JobManager's own log and stdout as Flink's `/jobmanager/logs`, `/log` and `/stdout` serve them: the
files its stderr (where it logs) and stdout go to when they are files (a YARN container's log dir, a
standalone daemon's log file). A terminal or a pipe has no file to serve: the list is then empty."""

from __future__ import annotations

import os
import stat

# The tail a page shows: a long-running JobManager's log can grow without bound.
MAX_BYTES = 1 << 20
NAMES = {2: "jobmanager.log", 1: "jobmanager.out"}


def log_list() -> list[dict[str, int | str]]:
    """Flink's LogInfo entries (name, size, mtime) for this process's output files."""
    out: list[dict[str, int | str]] = []
    for fd, name in NAMES.items():
        try:
            st = os.fstat(fd)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode):
            out.append({"name": name, "size": st.st_size, "mtime": int(st.st_mtime * 1000)})
    return out


def fd_of(name: str) -> int | None:
    return next((fd for fd, n in NAMES.items() if n == name), None)


def tail(fd: int, max_bytes: int = MAX_BYTES) -> str | None:
    """The last `max_bytes` of what `fd` wrote, read through the descriptor (not the name: a rotated or
    replaced file is not this process's); None when it is not a file."""
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None
        start = max(0, st.st_size - max_bytes)
        return os.pread(fd, st.st_size - start, start).decode("utf-8", "replace")
    except OSError:
        return None
