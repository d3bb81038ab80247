"""Log aggregation (YARN's AppLogAggregator): when an application ends, every file in each of its
container log dirs on this node goes into one Redis hash, so `miniyarn logs -applicationId ID`
prints them after the NM and its disk are gone.

Hash keys.app_logs(app), field `<containerId> <nodeId> <file>` -> contents, kept keys.LOG_RETAIN_S;
this node then leaves keys.app_log_nodes(app), the set of nodes that still owe their part.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, cast

import redis

from miniyarn import keys

log = logging.getLogger("nodemanager.AppLogAggregatorImpl")

# One file larger than this keeps only its tail: Redis holds every app's logs in memory, and the
# end of a runaway log is the part that says what went wrong.
MAX_FILE_BYTES = 32 * 1024 * 1024


def collect(app_id: str, node_id: str, log_dirs: list[Path]) -> dict[str, bytes]:
    """Field -> contents for every container log file of `app_id` under `log_dirs`."""
    fields: dict[str, bytes] = {}
    for root in log_dirs:
        app_dir = root / app_id
        if not app_dir.is_dir():
            continue
        for container_dir in sorted(p for p in app_dir.iterdir() if p.is_dir()):
            for f in sorted(p for p in container_dir.iterdir() if p.is_file()):
                try:
                    data = f.read_bytes()
                except OSError as e:
                    log.warning("Cannot read %s for aggregation: %s", f, e)
                    continue
                if len(data) > MAX_FILE_BYTES:
                    data = data[-MAX_FILE_BYTES:]
                fields[f"{container_dir.name} {node_id} {f.name}"] = data
    return fields


def aggregate(client: redis.Redis, app_id: str, node_id: str, log_dirs: list[Path]) -> int:
    """Upload this node's logs of `app_id`; returns the number of files."""
    fields = collect(app_id, node_id, log_dirs)
    pipe = client.pipeline(transaction=True)
    if fields:
        pipe.hset(keys.app_logs(app_id), mapping=cast(Any, fields))  # stubs' key type is invariant
        pipe.expire(keys.app_logs(app_id), keys.LOG_RETAIN_S)
    pipe.srem(keys.app_log_nodes(app_id), node_id)
    pipe.execute()
    log.info("Uploaded %d log files of %s from %s to %s", len(fields), app_id, node_id, keys.app_logs(app_id))
    return len(fields)
