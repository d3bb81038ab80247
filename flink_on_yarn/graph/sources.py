"""Sources, each yielding batches of records for one subtask: a collection, text files split by bytes, a socket.

Text files are split like Hadoop input splits: subtask i of p owns the lines that start in its byte range.

A source keeps its position (`position`: how far the batches it has yielded reach) for checkpoints: a
collection's index, a file's (file number, byte offset of the next line); `restore_position` makes the next
`batches` start there. The socket source has none, as Flink's: after a restore it reads what comes next.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Lines per batch from a collection; bytes per read from a file (about 15k short lines): large enough that
# per-batch costs (pickling headers, syscalls) vanish, small enough to keep buffers bounded.
COLLECTION_BATCH = 1024
FILE_CHUNK_BYTES = 1 << 20
# A checkpointed job's file source sizes its reads by time (ChunkSizer): a barrier enters between two batches,
# so a batch's time through the chain is how long a trigger waits at the source. From this size (about 1k
# short lines)...
CHECKPOINT_CHUNK_BYTES = 64 << 10
# ...doubled while a batch takes under half this, halved while one takes more, up to FILE_CHUNK_BYTES. Fixed
# 64 KB reads cost a fast word count 30-45 % more CPU than 1 MB ones (per-batch costs: framing, marshal,
# allocation; BENCHMARKS.md), most of a 1 s checkpoint interval's overhead; a barrier waits about this long.
BARRIER_WAIT_TARGET_S = 0.2
# A socket source without input wakes this often, so a barrier need not wait for the next line.
SOCKET_IDLE_S = 0.2


SCHEDSTAT = "/proc/thread-self/schedstat"


def runqueue_wait_s() -> float:
    """Seconds the calling thread has spent runnable but waiting for a CPU (Linux's schedstat; 0.0 where the
    kernel does not say): on a shared machine, wall time the chain did not spend on itself."""
    try:
        with open(SCHEDSTAT) as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, ValueError, IndexError):
        return 0.0


class ChunkSizer:
    """A checkpointed file source's read size, adapted to how long the chain takes per batch.

    >>> c = ChunkSizer()
    >>> c.size == CHECKPOINT_CHUNK_BYTES
    True
    >>> for _ in range(10): c.observe(0.01)    # a fast chain: reads grow to the unchecked size
    >>> c.size == FILE_CHUNK_BYTES
    True
    >>> c.observe(0.15); c.size == FILE_CHUNK_BYTES  # within the target: kept
    True
    >>> for _ in range(10): c.observe(1.0)     # a slow one: back to small reads, barriers get in often
    >>> c.size == CHECKPOINT_CHUNK_BYTES
    True
    """

    def __init__(self, low: int = CHECKPOINT_CHUNK_BYTES, high: int = FILE_CHUNK_BYTES,
                 target_s: float = BARRIER_WAIT_TARGET_S) -> None:
        self.low, self.high, self.target_s = low, high, target_s
        self.size = low

    def observe(self, seconds: float) -> None:
        """The last batch of `size` bytes took `seconds` downstream of the source."""
        if seconds < self.target_s / 2:
            self.size = min(self.size * 2, self.high)
        elif seconds > self.target_s:
            self.size = max(self.size // 2, self.low)


class Source:
    """A source; `parallel` False means Flink runs it with parallelism 1 whatever the job says."""

    name = "Source"
    parallel = True
    # After each yielded batch: where a restore resumes (None: nothing to resume, e.g. a socket).
    position: Any = None
    start: Any = None

    def batches(self, subtask: int, parallelism: int) -> Iterator[list[Any]]:
        raise NotImplementedError

    def restore_position(self, position: Any) -> None:
        self.start = position

    def for_checkpoints(self) -> None:
        """The job checkpoints: yield batches often enough for barriers to get in between."""


class CollectionSource(Source):
    parallel = False

    def __init__(self, items: list[Any]) -> None:
        self.items = list(items)
        self.name = "Source: Collection Source"

    def batches(self, subtask: int, parallelism: int) -> Iterator[list[Any]]:
        items = self.items[subtask::parallelism] if parallelism > 1 else self.items
        first = int(self.start or 0)
        self.position = first
        for i in range(first, len(items), COLLECTION_BATCH):
            batch = items[i:i + COLLECTION_BATCH]
            self.position = i + len(batch)
            yield batch


def _align(f: Any, pos: int, size: int) -> int:
    """The first line start at or after `pos`."""
    if pos <= 0:
        return 0
    if pos >= size:
        return size
    f.seek(pos - 1)
    f.readline()
    return int(f.tell())


def expand_paths(paths: list[str]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        path = Path(p.removeprefix("file://"))
        if path.is_dir():
            out.extend(sorted(q for q in path.rglob("*") if q.is_file() and not q.name.startswith((".", "_"))))
        else:
            out.append(path)
    return out


def read_split(path: Path, subtask: int, parallelism: int, encoding: str = "utf-8",
               resume_at: int | None = None, offsets: list[int] | None = None,
               chunk_bytes: int = FILE_CHUNK_BYTES, sizer: ChunkSizer | None = None) -> Iterator[list[str]]:
    """The lines of `path` that start in this subtask's byte range, in batches, without their newlines;
    from `resume_at` (a line start inside the range) when given. `offsets[0]` follows the offset of the
    first line not yet yielded. Each read takes `sizer.size` bytes when a sizer is given."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        start = _align(f, size * subtask // parallelism, size)
        end = _align(f, size * (subtask + 1) // parallelism, size)
        if resume_at is not None:
            start = max(start, min(resume_at, end))
        track = offsets if offsets is not None else [0]
        track[0] = start
        f.seek(start)
        remaining = end - start
        carry = b""
        while remaining > 0:
            chunk = f.read(min(sizer.size if sizer is not None else chunk_bytes, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            data = carry + chunk
            cut = data.rfind(b"\n")
            if cut < 0:
                carry = data
                continue
            carry = data[cut + 1:]
            track[0] = end - remaining - len(carry)
            yield data[:cut].decode(encoding).split("\n")
        if carry:
            track[0] = end
            yield [carry.decode(encoding)]
        track[0] = end


class TextFileSource(Source):
    """`read_text_file` / `FileSource` with a text-line format: one record per line."""

    def __init__(self, paths: list[str], encoding: str = "utf-8") -> None:
        self.paths = list(paths)
        self.encoding = encoding
        self.sizer: ChunkSizer | None = None
        self.name = "Source: " + ("FileSource" if len(paths) != 1 else f"FileSource {paths[0]}")

    def for_checkpoints(self) -> None:
        self.sizer = ChunkSizer()

    def batches(self, subtask: int, parallelism: int) -> Iterator[list[Any]]:
        first_file, resume_at = self.start if self.start is not None else (0, None)
        offsets = [0]
        for n, path in enumerate(expand_paths(self.paths)):
            if n < first_file:
                continue
            sizer = self.sizer
            for batch in read_split(path, subtask, parallelism, self.encoding,
                                    resume_at if n == first_file else None, offsets, sizer=sizer):
                self.position = (n, offsets[0])
                if sizer is None:
                    yield batch
                    continue
                # The generator is suspended while the task pushes the batch through its chain: the time
                # until it resumes is that batch's time downstream of the source, less the time the thread
                # waited for a CPU (other processes' load: under it every batch is slow, and shrinking the
                # reads would only add their per-batch cost to the load).
                began, queued = time.perf_counter(), runqueue_wait_s()
                yield batch
                sizer.observe(time.perf_counter() - began - (runqueue_wait_s() - queued))
            self.position = (n + 1, None)


class SocketSource(Source):
    """`socket_text_stream(host, port)`: lines from a TCP server (`nc -lk 7777`) until it closes the socket."""

    parallel = False

    def __init__(self, host: str, port: int, delimiter: str = "\n", max_retry: int = 0) -> None:
        self.host = host
        self.port = port
        self.delimiter = delimiter
        self.max_retry = max_retry
        self.name = "Source: Socket Stream"
        self.idle_wakeups = False

    def _connect(self) -> socket.socket:
        attempts = 0
        while True:
            try:
                return socket.create_connection((self.host, self.port), timeout=10)
            except OSError as e:
                attempts += 1
                if attempts > self.max_retry:
                    raise ConnectionError(f"socket source cannot connect to {self.host}:{self.port}: {e}") from e
                time.sleep(0.5)

    def for_checkpoints(self) -> None:
        self.idle_wakeups = True

    def batches(self, subtask: int, parallelism: int) -> Iterator[list[Any]]:
        sock = self._connect()
        sock.settimeout(SOCKET_IDLE_S if self.idle_wakeups else None)
        pending = ""
        try:
            while True:
                try:
                    data = sock.recv(1 << 16)
                except TimeoutError:
                    yield []  # no input: the task looks at its commands (a barrier to inject)
                    continue
                if not data:
                    break
                pending += data.decode("utf-8", errors="replace")
                *lines, pending = pending.split(self.delimiter)
                if lines:
                    yield [line.rstrip("\r") for line in lines]
        finally:
            sock.close()
        if pending:
            yield [pending.rstrip("\r")]
