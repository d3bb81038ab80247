"""The pointer to a Flink application's latest completed checkpoint, in Redis (what Flink keeps in ZooKeeper
for JobManager HA): the JobManager writes it after each checkpoint, the next ApplicationMaster attempt reads
it and restores its job from there. Only the application's own attempts may read or write it (their Redis
users, resourcemanager/amrm_users.py); the checkpoint files themselves are sealed with the application's
secret, so a pointer alone can make no JobManager unpickle anything.
"""

from __future__ import annotations

import json
import logging

import redis

from miniyarn import keys
from miniyarn.redisconn import ride_out

log = logging.getLogger("flink_on_yarn.yarn.checkpoint_pointer")
RETRY_S = 0.5


def write(client: redis.Redis, app_id: str, job_id: str, path: str) -> None:
    client.set(keys.flink_checkpoint_pointer(app_id), json.dumps({"job_id": job_id, "path": path}))


def read(client: redis.Redis, app_id: str, max_wait_s: float = 0.0) -> tuple[str, str] | None:
    """(job id, chk directory) of the latest completed checkpoint a previous attempt wrote, if any. While Redis
    cannot be reached (restarting, failing over) it retries for `max_wait_s`, as the AM's RM calls do
    (yarn.resourcemanager.connect.max-wait.ms): an AM that exited on it failed its application."""
    raw = ride_out(f"Reading the checkpoint pointer of {app_id}",
                   lambda: client.get(keys.flink_checkpoint_pointer(app_id)), max_wait_s, interval_s=RETRY_S,
                   logger=log)
    if raw is None:
        return None
    try:
        data = json.loads(raw)
        return str(data["job_id"]), str(data["path"])
    except (ValueError, KeyError, TypeError) as e:
        log.warning("Ignoring a malformed checkpoint pointer of %s: %s", app_id, e)
        return None
