"""The RM's event loop: drain the Redis inbox in batches, apply each message, run liveness and
scheduling, and flush the batch's writes in one pipeline."""

from __future__ import annotations

import gc
import json
import logging
import threading
import time

import redis
from pydantic import ValidationError

from miniyarn import keys
from miniyarn.protocol import RM_MESSAGE, AMCall, RemoteError
from miniyarn.redisconn import data
from resourcemanager.rm import ResourceManager, now_ms
from resourcemanager.services import handle

log = logging.getLogger("resourcemanager")

# The loop wakes at least this often to run liveness checks even when no message arrives.
POLL_S = 0.05
# Liveness is checked every 200 ms: well under any expiry interval, cheap with a few nodes.
LIVENESS_EVERY_MS = 200
# One batch takes at most this many AM calls, then at most NODE_BATCH node heartbeats. AM calls go
# first and node batches stay small: a second's worth of heartbeats from 1,000 nodes, each completing
# containers, takes the RM a few hundred ms, and an AM call queued behind it waited that long.
BATCH = 500
NODE_BATCH = 100
# A full garbage collection at most this often (see run()).
FULL_GC_EVERY_S = 60.0
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
        last_full_gc = time.monotonic()
        # The RM holds one record per live container: tens of thousands of objects at scale. CPython's
        # automatic full collections then stop the loop for ~150 ms every couple of seconds (the allocate
        # p99 was mostly those). Young collections stay automatic; the full one runs here once a minute.
        gc.freeze()
        young, middle, _ = gc.get_threshold()
        gc.set_threshold(young, middle, 1 << 30)
        while not self.stopping.is_set():
            now_s = time.monotonic()
            if now_s - last_full_gc > FULL_GC_EVERY_S:
                gc.collect()
                last_full_gc = now_s
            try:
                am_calls, node_msgs = self._take()
            except redis.ConnectionError as e:
                log.warning("Redis unreachable (%s); retrying in 1s", e)
                time.sleep(1)
                continue
            with self.rm.lock:
                for raw in am_calls:
                    self._apply(raw, from_am=True)
                # Answer the AMs before anything else: a reply only hands out containers granted (and
                # stored) in earlier passes, so it need not wait for heartbeats, this pass or its writes.
                self.rm.flush_replies()
                for raw in node_msgs:
                    self._apply(raw, from_am=False)
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

    def _take(self) -> tuple[list[bytes], list[bytes]]:
        """(AM calls, node messages) waiting now, or the first to arrive within POLL_S."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.lpop(keys.rm_am_inbox(), BATCH)
        pipe.lpop(keys.rm_inbox(), NODE_BATCH)
        am, nodes = pipe.execute()
        if am or nodes:
            return [data(m) for m in (am or [])], [data(m) for m in (nodes or [])]
        # Nothing waiting: block on both lists, AM calls first (BLPOP serves its keys in order).
        got = self.redis.blpop([keys.rm_am_inbox(), keys.rm_inbox()], timeout=POLL_S)
        if got is None:
            return [], []
        return ([data(got[1])], []) if data(got[0]) == keys.rm_am_inbox().encode() else ([], [data(got[1])])

    def _apply(self, raw: bytes, from_am: bool) -> None:
        self.messages_handled += 1
        try:
            msg = RM_MESSAGE.validate_json(raw)
        except ValidationError as e:
            log.warning("Dropping malformed inbox message: %s", str(e).splitlines()[0])
            self._reply_error(raw, f"Malformed request: {e.errors()[0]['msg']} at {e.errors()[0]['loc']}")
            return
        if isinstance(msg, AMCall) is not from_am:
            # AM users may push the AM inbox only, and only NMs the node inbox: a node message among AM
            # calls (or the reverse) is a forgery by whoever could push there.
            where = keys.rm_am_inbox() if from_am else keys.rm_inbox()
            log.warning("Refusing %s found on %s (claimed by %s): only %s go there", msg.type, where,
                        getattr(msg, "attempt_id", None) or getattr(msg, "node_id", "?"),
                        "ApplicationMaster calls" if from_am else "NodeManager messages")
            return
        try:
            handle(self.rm, msg)
        except Exception:  # one bad message must not stop the RM
            log.exception("Error handling %s", msg.type)

    def _reply_error(self, raw: bytes, message: str) -> None:
        try:
            body = json.loads(raw)
            reply_to, attempt_id = body.get("reply_to"), body.get("attempt_id")
        except (ValueError, AttributeError):
            return
        # Only under the claimed attempt's own prefix, as for a well-formed call (services.handle).
        if isinstance(reply_to, str) and isinstance(attempt_id, str) and attempt_id \
                and reply_to.startswith(keys.reply_prefix(attempt_id)):
            err = RemoteError(exception="InvalidApplicationMasterRequestException", message=message)
            self.rm.out.replies.append((reply_to, err.model_dump_json()))
