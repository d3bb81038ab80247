"""A container's log files in its log dir: list them, open one, read a byte range of it, safely.

A container writes its own log dir, so everything in it is the container's choice: a symlink to
`/etc/shadow`, a symlinked directory, a FIFO, a hard link. The NM (often root, the container not) must
serve only the regular files the container wrote there. So a log dir is reached from a trusted root
(the NM's own `yarn.nodemanager.log-dirs`) one component at a time with `O_NOFOLLOW` (no symlink
anywhere on the way, and no race between a check and the open), its real path must be where it should
be, and a file is opened `O_NOFOLLOW | O_NONBLOCK` relative to that dir and served only if `fstat`
says it is a regular file with one link.

Ranges are YARN's log servlet's `start`/`end` byte offsets (negative ones counted from the end), read
by seeking, so a `?start=-100` costs 100 bytes whatever the file's size.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("nodemanager.ContainerLogsUtils")

# One request serves at most this much (the last bytes of the range it asked for). The NM's RSS
# budget is 80 MB and the server streams in CHUNK pieces, so this bounds the time one request holds a
# thread and the size of an answer, not memory; a larger log is read in ranges (`start`/`end`).
MAX_REQUEST_BYTES = 32 * 1024 * 1024
CHUNK = 64 * 1024
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


@dataclass(frozen=True)
class LogFile:
    name: str
    size: int
    modified_ms: int


def valid_name(name: str) -> bool:
    """A plain file name: no path separators, no `..`, so a URL can never reach outside the dir."""
    return bool(name) and "/" not in name and "\\" not in name and name not in (".", "..") and "\0" not in name


def open_dir(log_dir: Path, roots: list[Path]) -> int | None:
    """An fd of `log_dir`, reached from the root of `roots` it lies under without following any
    symlink; None if it is under none of them, missing, or any component is a link."""
    for root in roots:
        try:
            rel = log_dir.relative_to(root)
        except ValueError:
            continue
        if not rel.parts or any(not valid_name(p) for p in rel.parts):
            return None
        try:
            fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            for part in rel.parts:
                nxt = os.open(part, _DIR_FLAGS, dir_fd=fd)
                os.close(fd)
                fd = nxt
        except OSError as e:
            os.close(fd)
            if e.errno not in (errno.ENOENT, errno.ENOTDIR):  # simply not there
                log.warning("Refusing log dir %s: a component is not a plain directory (%s)", log_dir,
                            e.strerror)
            return None
        # Belt and braces: the dir we hold must really be where the path says (no bind or link games).
        real = os.path.realpath(f"/proc/self/fd/{fd}")
        if real != os.path.join(os.path.realpath(root), *rel.parts):
            log.warning("Refusing log dir %s: it resolves to %s, outside %s", log_dir, real, root)
            os.close(fd)
            return None
        return fd
    return None


def _regular(st: os.stat_result) -> bool:
    # A hard link is a second name for a file the container may not read: a log it wrote has one.
    return stat.S_ISREG(st.st_mode) and st.st_nlink == 1


def list_logs(log_dir: Path, roots: list[Path] | None = None) -> list[LogFile]:
    """The regular files in `log_dir` (symlinks, dirs, FIFOs and hard links left out)."""
    fd = open_dir(log_dir, roots if roots is not None else [log_dir.parent.parent])
    if fd is None:
        return []
    out = []
    try:
        with os.scandir(fd) as entries:
            for e in entries:
                try:
                    st = e.stat(follow_symlinks=False)
                except OSError:
                    continue
                if _regular(st) and valid_name(e.name):
                    out.append(LogFile(e.name, st.st_size, int(st.st_mtime * 1000)))
    finally:
        os.close(fd)
    return sorted(out, key=lambda f: f.name)


@dataclass
class LogSlice:
    """An open log file and the byte range to serve: `length` bytes from `offset` of a `total`-byte
    file, where `wanted` bytes were asked for (more than `length` when the cap cut it)."""

    fd: int
    offset: int
    length: int
    total: int
    wanted: int

    @property
    def capped(self) -> bool:
        return self.length < self.wanted

    def note(self) -> bytes:
        """YARN's ContainerLogsPage words for a partial log, put before the bytes when capped."""
        return f"Showing {self.length} bytes of {self.total} total.\n".encode()

    def chunks(self) -> Iterator[bytes]:
        """The range in CHUNK reads by position, then the file is closed."""
        try:
            pos, left = self.offset, self.length
            while left > 0:
                data = os.pread(self.fd, min(CHUNK, left), pos)
                if not data:
                    break
                pos += len(data)
                left -= len(data)
                yield data
        finally:
            self.close()

    def read(self) -> bytes:
        return b"".join(self.chunks())

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def byte_range(size: int, start: int | None, end: int | None, cap: int) -> tuple[int, int, int]:
    """(offset, length, wanted) of YARN's `start`/`end` on a file of `size` bytes: at most `cap` long,
    the range's tail (the end of a log says what went wrong).

    >>> byte_range(1000, -100, None, 4096), byte_range(1000, 10, 20, 4096), byte_range(1000, None, None, 300)
    ((900, 100, 100), (10, 10, 10), (700, 300, 1000))
    """

    def clamp(v: int | None, default: int) -> int:
        if v is None:
            return default
        return max(0, min(size, size + v if v < 0 else v))

    lo, hi = clamp(start, 0), clamp(end, size)
    hi = max(lo, hi)
    return max(lo, hi - cap), min(hi - lo, cap), hi - lo


def open_log(log_dir: Path, name: str, roots: list[Path] | None = None, start: int | None = None,
             end: int | None = None, cap: int = MAX_REQUEST_BYTES) -> LogSlice | None:
    """The slice of `name` to serve, or None if it is not a regular file of `log_dir` (a link, a dir,
    a FIFO, a hard link or nothing: refused and logged when it exists)."""
    if not valid_name(name):
        return None
    dir_fd = open_dir(log_dir, roots if roots is not None else [log_dir.parent.parent])
    if dir_fd is None:
        return None
    try:
        fd = os.open(name, _FILE_FLAGS, dir_fd=dir_fd)
    except OSError as e:
        if e.errno == errno.ELOOP:  # O_NOFOLLOW met a symlink
            log.warning("Refusing to serve %s/%s: it is a symbolic link", log_dir, name)
        return None
    finally:
        os.close(dir_fd)
    st = os.fstat(fd)
    if not _regular(st):
        log.warning("Refusing to serve %s/%s: not a regular file with one link (mode %o, %d links)", log_dir,
                    name, st.st_mode, st.st_nlink)
        os.close(fd)
        return None
    offset, length, wanted = byte_range(st.st_size, start, end, cap)
    return LogSlice(fd, offset, length, st.st_size, wanted)


def read_log(log_dir: Path, name: str, start: int | None = None, end: int | None = None,
             roots: list[Path] | None = None) -> bytes | None:
    """Bytes of `name` (or the range), or None if there is no such regular file."""
    s = open_log(log_dir, name, roots, start, end, cap=1 << 62)
    return s.read() if s is not None else None
