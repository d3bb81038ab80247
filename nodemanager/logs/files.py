"""A container's log files in its log dir: list them, read one (or a byte range of it) safely."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class LogFile:
    name: str
    size: int
    modified_ms: int


def list_logs(log_dir: Path) -> list[LogFile]:
    if not log_dir.is_dir():
        return []
    out = []
    for p in sorted(log_dir.iterdir()):
        if p.is_file():
            st = p.stat()
            out.append(LogFile(p.name, st.st_size, int(st.st_mtime * 1000)))
    return out


def valid_name(name: str) -> bool:
    """A plain file name: no path separators, no `..`, so a URL can never reach outside the dir."""
    return bool(name) and "/" not in name and "\\" not in name and name not in (".", "..") and "\0" not in name


def read_log(log_dir: Path, name: str, start: int | None = None, end: int | None = None) -> bytes | None:
    """Bytes of `name`, or None if there is no such file. `start`/`end` as YARN's log servlet takes
    them: byte offsets, negative ones counted from the end."""
    if not valid_name(name):
        return None
    path = log_dir / name
    if not path.is_file():
        return None
    data = path.read_bytes()
    size = len(data)

    def clamp(v: int | None, default: int) -> int:
        if v is None:
            return default
        return max(0, min(size, size + v if v < 0 else v))

    return data[clamp(start, 0):clamp(end, size)]
