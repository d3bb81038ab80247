"""Log aggregation (YARN's AppLogAggregator): when an application ends, every file in each of its
container log dirs on this node goes into one Redis hash, so `miniyarn logs -applicationId ID`
prints them after the NM and its disk are gone.

Hash keys.app_logs(app), field `<containerId> <nodeId> <file>` -> contents, kept keys.LOG_RETAIN_S;
this node then leaves keys.app_log_nodes(app), the set of nodes that still owe their part.

Only regular files the containers wrote are read (`nodemanager.logs.files`: no symlink, symlinked
dir, FIFO or hard link; each one skipped is logged), and each file at most MAX_FILE_BYTES.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import redis

from miniyarn import keys
from nodemanager.logs.files import list_logs, open_dir, open_log, valid_name

log = logging.getLogger("nodemanager.AppLogAggregatorImpl")

# One file larger than this keeps only its tail: Redis holds every app's logs in memory, and the
# end of a runaway log is the part that says what went wrong. Files go up one at a time, so this is
# also the most the NM holds in memory while uploading.
MAX_FILE_BYTES = 32 * 1024 * 1024
# A container that writes thousands of files must not fill Redis: past this many, the rest are
# skipped (and logged). YARN containers write a handful (stdout, stderr, a log or two).
MAX_FILES_PER_CONTAINER = 64


def _container_dirs(root: Path, app_id: str) -> Iterator[Path]:
    """The container log dirs of `app_id` under `root` that are real directories (links skipped)."""
    fd = open_dir(root / app_id, [root])
    if fd is None:
        return
    try:
        with os.scandir(fd) as entries:
            names = []
            for e in entries:
                st = e.stat(follow_symlinks=False)
                if stat.S_ISDIR(st.st_mode) and valid_name(e.name):
                    names.append(e.name)
                else:
                    log.warning("Not aggregating %s/%s/%s: not a container log directory (a link or a file)",
                                root, app_id, e.name)
    finally:
        os.close(fd)
    for name in sorted(names):
        yield root / app_id / name


def _skipped(container_dir: Path, roots: list[Path], kept: set[str]) -> None:
    fd = open_dir(container_dir, roots)
    if fd is None:
        return
    try:
        with os.scandir(fd) as entries:
            for e in entries:
                if e.name not in kept:
                    log.warning("Not aggregating %s/%s: not a regular file of the container (a symlink, a "
                                "directory, a FIFO or a hard link)", container_dir, e.name)
    finally:
        os.close(fd)


def files(app_id: str, node_id: str, log_dirs: list[Path]) -> Iterator[tuple[str, bytes]]:
    """(field, contents) for every container log file of `app_id` under `log_dirs`, one at a time."""
    for root in log_dirs:
        for container_dir in _container_dirs(root, app_id):
            logs = list_logs(container_dir, [root])
            _skipped(container_dir, [root], {f.name for f in logs})
            if len(logs) > MAX_FILES_PER_CONTAINER:
                log.warning("Container %s has %d log files; aggregating the first %d", container_dir.name,
                            len(logs), MAX_FILES_PER_CONTAINER)
            for f in logs[:MAX_FILES_PER_CONTAINER]:
                piece = open_log(container_dir, f.name, [root], cap=MAX_FILE_BYTES)
                if piece is None:
                    continue
                try:
                    data = piece.read()
                except OSError as e:
                    log.warning("Cannot read %s/%s for aggregation: %s", container_dir, f.name, e)
                    continue
                if piece.capped:
                    data = piece.note() + data
                yield f"{container_dir.name} {node_id} {f.name}", data


def collect(app_id: str, node_id: str, log_dirs: list[Path]) -> dict[str, bytes]:
    """Field -> contents for every container log file of `app_id` under `log_dirs`."""
    return dict(files(app_id, node_id, log_dirs))


def aggregate(client: redis.Redis, app_id: str, node_id: str, log_dirs: list[Path]) -> int:
    """Upload this node's logs of `app_id`; returns the number of files. A file per round trip keeps
    the NM's memory to one file; readers wait for this node to leave the pending set, which it does
    last."""
    n = 0
    for field, data in files(app_id, node_id, log_dirs):
        pipe = client.pipeline(transaction=False)
        pipe.hset(keys.app_logs(app_id), field, cast(Any, data))  # stubs' value type is invariant
        pipe.expire(keys.app_logs(app_id), keys.LOG_RETAIN_S)
        pipe.execute()
        n += 1
    client.srem(keys.app_log_nodes(app_id), node_id)
    log.info("Uploaded %d log files of %s from %s to %s", n, app_id, node_id, keys.app_logs(app_id))
    return n
