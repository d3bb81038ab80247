"""Sources, each yielding batches of records for one subtask: a collection, text files split by bytes, a socket.

Text files are split like Hadoop input splits: subtask i of p owns the lines that start in its byte range.
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


class Source:
    """A source; `parallel` False means Flink runs it with parallelism 1 whatever the job says."""

    name = "Source"
    parallel = True

    def batches(self, subtask: int, parallelism: int) -> Iterator[list[Any]]:
        raise NotImplementedError


class CollectionSource(Source):
    parallel = False

    def __init__(self, items: list[Any]) -> None:
        self.items = list(items)
        self.name = "Source: Collection Source"

    def batches(self, subtask: int, parallelism: int) -> Iterator[list[Any]]:
        items = self.items[subtask::parallelism] if parallelism > 1 else self.items
        for i in range(0, len(items), COLLECTION_BATCH):
            yield items[i:i + COLLECTION_BATCH]


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


def read_split(path: Path, subtask: int, parallelism: int, encoding: str = "utf-8") -> Iterator[list[str]]:
    """The lines of `path` that start in this subtask's byte range, in batches, without their newlines."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        start = _align(f, size * subtask // parallelism, size)
        end = _align(f, size * (subtask + 1) // parallelism, size)
        f.seek(start)
        remaining = end - start
        carry = b""
        while remaining > 0:
            chunk = f.read(min(FILE_CHUNK_BYTES, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            data = carry + chunk
            cut = data.rfind(b"\n")
            if cut < 0:
                carry = data
                continue
            carry = data[cut + 1:]
            yield data[:cut].decode(encoding).split("\n")
        if carry:
            yield [carry.decode(encoding)]


class TextFileSource(Source):
    """`read_text_file` / `FileSource` with a text-line format: one record per line."""

    def __init__(self, paths: list[str], encoding: str = "utf-8") -> None:
        self.paths = list(paths)
        self.encoding = encoding
        self.name = "Source: " + ("FileSource" if len(paths) != 1 else f"FileSource {paths[0]}")

    def batches(self, subtask: int, parallelism: int) -> Iterator[list[Any]]:
        for path in expand_paths(self.paths):
            yield from read_split(path, subtask, parallelism, self.encoding)


class SocketSource(Source):
    """`socket_text_stream(host, port)`: lines from a TCP server (`nc -lk 7777`) until it closes the socket."""

    parallel = False

    def __init__(self, host: str, port: int, delimiter: str = "\n", max_retry: int = 0) -> None:
        self.host = host
        self.port = port
        self.delimiter = delimiter
        self.max_retry = max_retry
        self.name = "Source: Socket Stream"

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

    def batches(self, subtask: int, parallelism: int) -> Iterator[list[Any]]:
        sock = self._connect()
        sock.settimeout(None)
        pending = ""
        try:
            while True:
                data = sock.recv(1 << 16)
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
