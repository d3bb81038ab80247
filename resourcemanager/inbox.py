"""The RM's event loop: drain the Redis inbox in batches, apply each message, run liveness and
scheduling, and flush the batch's writes in one pipeline."""

from __future__ import annotations

import json
import logging
import threading
import time

import redis
from pydantic import ValidationError

from miniyarn import keys
from miniyarn.protocol import RM_MESSAGE, RemoteError
from miniyarn.redisconn import data
from resourcemanager.rm import ResourceManager, now_ms
from resourcemanager.services import handle

log = logging.getLogger("resourcemanager")

# The loop wakes at least this often to run liveness checks even when no message arrives.
POLL_S = 0.05
# Liveness is checked every 200 ms: well under any expiry interval, cheap with a few nodes.
LIVENESS_EVERY_MS = 200
# One batch takes at most this many messages: a bigger batch delays every reply in it.
BATCH = 500
# The alive key outlives a few missed beats; /health and `--check` read it.
ALIVE_TTL_S = 5


class InboxLoop(threading.Thread):
    def __init__(self, rm: ResourceManager, client: redis.Redis) -> None:
        super().__init__(name="rm-inbox", daemon=True)
        self.rm = rm
        self.redis = client
        self.stopping = threading.Event()
        self.messages_handled = 0

    def stop(self) -> None:
        self.stopping.set()

    def run(self) -> None:
        last_liveness = 0
        last_alive = 0.0
        while not self.stopping.is_set():
            try:
                batch = self._take()
            except redis.ConnectionError as e:
                log.warning("Redis unreachable (%s); retrying in 1s", e)
                time.sleep(1)
                continue
            with self.rm.lock:
                for raw in batch:
                    self._apply(raw)
                # Answer the AMs before scheduling: a reply only hands out containers granted (and
                # stored) in earlier passes, so it need not wait for this pass and its writes.
                self.rm.flush_replies()
                now = now_ms()
                if now - last_liveness >= LIVENESS_EVERY_MS:
                    self.rm.check_liveness(now)
                    last_liveness = now
                if self.rm.needs_schedule:
                    self.rm.schedule()
                try:
                    self.rm.flush()
                except redis.ConnectionError as e:
                    log.warning("Could not write to Redis (%s)", e)
            if time.monotonic() - last_alive > 1:
                last_alive = time.monotonic()
                try:
                    self.redis.set(keys.rm_health(), self.rm.web_address, ex=ALIVE_TTL_S)
                except redis.ConnectionError:
                    pass

    def _take(self) -> list[bytes]:
        got = self.redis.blpop([keys.rm_inbox()], timeout=POLL_S)
        if got is None:
            return []
        batch: list[bytes] = [data(got[1])]
        more = self.redis.lpop(keys.rm_inbox(), BATCH - 1)
        if isinstance(more, list):
            batch.extend(data(m) for m in more)
        return batch

    def _apply(self, raw: bytes) -> None:
        self.messages_handled += 1
        try:
            msg = RM_MESSAGE.validate_json(raw)
        except ValidationError as e:
            log.warning("Dropping malformed inbox message: %s", str(e).splitlines()[0])
            self._reply_error(raw, f"Malformed request: {e.errors()[0]['msg']} at {e.errors()[0]['loc']}")
            return
        try:
            handle(self.rm, msg)
        except Exception:  # one bad message must not stop the RM
            log.exception("Error handling %s", msg.type)

    def _reply_error(self, raw: bytes, message: str) -> None:
        try:
            reply_to = json.loads(raw).get("reply_to")
        except (ValueError, AttributeError):
            return
        if isinstance(reply_to, str) and reply_to.startswith(keys.reply("")):
            err = RemoteError(exception="InvalidApplicationMasterRequestException", message=message)
            self.rm.out.replies.append((reply_to, err.model_dump_json()))
