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
from resourcemanager.context import now_ms
from resourcemanager.ha.fence import FencedError
from resourcemanager.rm import ResourceManager
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
# Reads of the inbox this far apart mean the RM saw no heartbeat for that long through no fault of the
# senders (Redis paused or down): liveness windows start again (ResourceManager.observation_gap). A pass
# normally reads every 50 ms or less; a full GC or a huge batch stays well under this.
BLIND_MS = 2000
# With RM HA an idle loop polls its inbox this often (see _take): a fraction of an AM's heartbeat.
HA_POLL_S = 0.01
# While Redis fails, the loop tries again this often: a restarted Redis is back within a second.
REDIS_RETRY_S = 1.0


class InboxLoop(threading.Thread):
    def __init__(self, rm: ResourceManager, client: redis.Redis) -> None:
        super().__init__(name="rm-inbox", daemon=True)
        self.rm = rm
        self.redis = client
        self.stopping = threading.Event()
        self.last_liveness = 0
        self.last_alive = 0.0
        self.last_full_gc = time.monotonic()
        self.last_take_ms = 0  # when the inbox was last read

    def stop(self) -> None:
        self.stopping.set()

    def run(self) -> None:
        # The RM holds one record per live container: tens of thousands of objects at scale. CPython's
        # automatic full collections then stop the loop for ~150 ms every couple of seconds (the allocate
        # p99 was mostly those). Young collections stay automatic; the full one runs here once a minute.
        gc.freeze()
        young, middle, _ = gc.get_threshold()
        gc.set_threshold(young, middle, 1 << 30)
        health = self.rm.health
        try:
            while not self.stopping.is_set():
                try:
                    self._pass()
                except FencedError:
                    # RM HA: another RM is active and this one wrote nothing; its elector is stopping this loop.
                    self.stopping.wait(REDIS_RETRY_S)
                    continue
                except redis.RedisError as e:
                    # Down, restarting, loading, paused past the socket timeout: whatever the length, the loop
                    # waits and tries again; nothing it took is lost (a failed flush keeps its writes).
                    first = not health.redis_down_since_ms
                    health.failed(now_ms(), f"{type(e).__name__}: {e}")
                    down_s = (now_ms() - health.redis_down_since_ms) / 1000
                    if first or down_s // 10 != (down_s - REDIS_RETRY_S) // 10:  # once, then every ~10 s
                        log.warning("Redis unreachable for %.0fs (%s: %s); the inbox loop retries every %.0fs",
                                    down_s, type(e).__name__, e, REDIS_RETRY_S)
                    self.stopping.wait(REDIS_RETRY_S)
                    continue
                except Exception:  # a bug of ours must not end the loop: the RM would serve nobody
                    log.exception("Error in the inbox loop; continuing")
                    self.stopping.wait(REDIS_RETRY_S)
                    continue
                down_ms = health.passed(now_ms())
                if down_ms:
                    # Possibly another Redis now (a Sentinel failover): the AMs' users must exist there too,
                    # and the last writes the old master took may not have reached its replica.
                    users = self.rm.recreate_attempt_users()
                    grants = self.rm.store_again()
                    starts = self.rm.launch_again()
                    log.info("Redis reachable again after %.1fs; the inbox loop resumes (re-creating %d "
                             "ApplicationMaster users, storing %d container grants again, sending %d AM "
                             "starts again)", down_ms / 1000, users, grants, starts)
        finally:
            health.stopped = True
            if not self.stopping.is_set():
                log.error("The inbox loop stopped; /health reports DOWN")

    def _pass(self) -> None:
        now_s = time.monotonic()
        if now_s - self.last_full_gc > FULL_GC_EVERY_S:
            gc.collect()
            self.last_full_gc = now_s
        am_calls, node_msgs = self._take()
        took = now_ms()
        if self.last_take_ms and took - self.last_take_ms > BLIND_MS:
            with self.rm.lock:
                self.rm.observation_gap(took - self.last_take_ms, took)
        self.last_take_ms = took
        answered = False
        try:
            with self.rm.lock:
                for raw in am_calls:
                    self._apply(raw, from_am=True)
                # Answer the AMs before anything else: a reply only hands out containers granted (and
                # stored) in earlier passes, so it need not wait for heartbeats, this pass or its writes.
                self.rm.flush_replies()
                answered = True
                for raw in node_msgs:
                    self._apply(raw, from_am=False)
                self.rm.flush_replies()
                now = now_ms()
                if now - self.last_liveness >= LIVENESS_EVERY_MS:
                    self.rm.check_liveness(now)
                    self.last_liveness = now
                if self.rm.needs_schedule:
                    self.rm.schedule()
                self.rm.flush()
        except FencedError:
            self._give_back([] if answered else am_calls, node_msgs)
            raise
        if time.monotonic() - self.last_alive > 1:
            self.last_alive = time.monotonic()
            self.rm.store.beat(self.rm.web_address, ALIVE_TTL_S)

    def _give_back(self, am_calls: list[bytes], node_msgs: list[bytes]) -> None:
        """RM HA: messages this RM took and then could not act on (fenced: another RM became active, or this
        one turned standby, while the pop was on its way, as when both wait out a paused Redis) go back to
        the head of their inbox, in order, for the active. Dropped, an AM waited out its reply timeout and
        a node's report was lost. A plain push: returning what was taken writes no state of this RM's."""
        pipe = self.redis.pipeline(transaction=True)
        for key, msgs in ((keys.rm_am_inbox(), am_calls), (keys.rm_inbox(), node_msgs)):
            if msgs:
                pipe.lpush(key, *reversed(msgs))
        if not (am_calls or node_msgs):
            return
        try:
            pipe.execute()
        except redis.RedisError as e:
            log.warning("Could not give back %d ApplicationMaster calls and %d node messages taken before this "
                        "ResourceManager was fenced (%s): they are lost", len(am_calls), len(node_msgs), e)
            return
        log.warning("Gave back %d ApplicationMaster calls and %d node messages taken before this ResourceManager "
                    "was fenced, for the active one", len(am_calls), len(node_msgs))

    def _take(self) -> tuple[list[bytes], list[bytes]]:
        """(AM calls, node messages) waiting now, or the first to arrive within POLL_S."""
        if self.rm.fence.enabled:
            # RM HA: a pop is a write, so it checks the epoch (a script); a blocking pop cannot, so an idle
            # active polls instead of blocking (HA_POLL_S adds at most that to an idle RM's answer).
            am_got, nodes_got = self.rm.fence.pop(self.redis, [(keys.rm_am_inbox(), BATCH),
                                                                (keys.rm_inbox(), NODE_BATCH)])
            if not (am_got or nodes_got):
                self.stopping.wait(HA_POLL_S)
            return [data(m) for m in am_got], [data(m) for m in nodes_got]
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
