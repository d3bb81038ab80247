"""The RM state store (YARN's RMStateStore): the only place the ResourceManager writes to Redis.

Transitions leave their writes in the context's outbox; `flush` sends a whole batch in one pipeline and
`flush_replies` the AMRM replies (with the records they depend on, first). The few single writes (the
application id counter, the recovery epoch, the inbox loop's alive key, staged files) go through here too,
and every one of them through `pipeline()`: the one hook RM HA's fencing guards (an old active that wakes up
must not write). Recovery's reads are here as well, batched (MGET per thousand keys).
"""

from __future__ import annotations

import logging
from typing import Literal, overload

import redis
from redis.client import Pipeline

from miniyarn import keys
from miniyarn.redisconn import data, text
from miniyarn.states.application import APP_MACHINE
from resourcemanager import amrm_users
from resourcemanager.context import Outbox, RMContext
from resourcemanager.ha.fence import Fence
from resourcemanager.rmstate import RMApp

log = logging.getLogger("resourcemanager")

# Keys per MGET while recovering: one round trip per thousand records instead of one per record.
MGET_BATCH = 1000


class RMStore:
    def __init__(self, ctx: RMContext, client: redis.Redis) -> None:
        self.ctx = ctx
        self.redis = client
        self.acl_save = False  # set by the daemon when Redis has an aclfile (ACL SAVE then keeps users)
        # With RM HA, every write carries this RM's epoch and is refused once another RM took a newer one
        # (ha/fence.py); without HA, Fence(None) is a plain pipeline.
        self.fence = Fence(None)

    def pipeline(self) -> Pipeline:
        """Every write goes through a pipeline made here (the write path's one hook)."""
        return self.fence.pipeline(self.redis)

    # ---- batches ----------------------------------------------------------------------------

    def app_record(self, app: RMApp) -> str:
        """The app as stored, with its attempt's asks as the scheduler holds them now: less what it granted
        since the AM last changed them. Stored as the AM last sent them, a restarted RM granted those
        containers a second time."""
        sapp = self.ctx.sched_apps.get(app.app_id)
        attempt = app.current
        if sapp is not None and attempt is not None and not APP_MACHINE.is_final(app.state):
            attempt.asks = list(sapp.asks.values())
        return app.model_dump_json()

    def flush_replies(self) -> None:
        out = self.ctx.out
        if not out.replies:
            return
        replies, out.replies = out.replies, []
        acquired, out.acquired_apps = out.acquired_apps, set()
        pipe = self.pipeline()
        # Apps whose AM is handed containers now are stored first: a restart after the answer must find
        # those containers acquired (see recovery.py), not granted-and-unacquired.
        records = {keys.app(a): self.app_record(app) for a in acquired if (app := self.ctx.apps.get(a)) is not None}
        if records:
            pipe.mset(records)
        for key, payload in replies:
            pipe.rpush(key, payload)
            pipe.expire(key, keys.REPLY_TTL_S)
        try:
            self.fence.execute(pipe)
        except redis.RedisError:
            out = self.ctx.out
            out.replies[:0] = replies
            out.acquired_apps |= acquired
            raise

    def flush(self) -> None:
        out = self.ctx.out
        if not out:
            return
        self.ctx.out = Outbox()
        try:
            self.write(out)
        except redis.RedisError:
            self.ctx.out.put_back(out)
            raise

    def write(self, out: Outbox) -> None:
        ctx = self.ctx
        pipe = self.pipeline()
        if out.users_created or out.users_deleted:
            amrm_users.queue_changes(pipe, out.users_created, out.users_deleted, self.acl_save)
        # One MSET / DEL per kind of record: per-command overhead, not Redis, bounds a busy batch.
        records: dict[str, str] = {}
        seqs: dict[str, int] = {}
        for app_id in out.apps | out.acquired_apps:
            app = ctx.apps.get(app_id)
            if app is not None:
                records[keys.app(app_id)] = self.app_record(app)
                seqs[app_id] = app.seq
        for node_id in out.nodes:
            node = ctx.nodes.get(node_id)
            if node is not None:
                records[keys.node(node_id)] = node.model_dump_json()
        gone = [keys.container(cid) for cid, c in out.containers.items() if c is None]
        for cid, container in out.containers.items():
            if container is not None:
                records[keys.container(cid)] = container.model_dump_json()
        if records:
            pipe.mset(records)
        if seqs:
            pipe.zadd(keys.apps(), seqs)
        if out.nodes:
            pipe.sadd(keys.nodes(), *out.nodes)
        if gone:
            pipe.delete(*gone)
        if out.apps_removed:
            pipe.delete(*(keys.app(a) for a in out.apps_removed))
            pipe.zrem(keys.apps(), *out.apps_removed)
        for app_id, node_ids in out.log_nodes:
            pipe.sadd(keys.app_log_nodes(app_id), *node_ids)
            pipe.expire(keys.app_log_nodes(app_id), keys.LOG_RETAIN_S)
        for key, payload in out.messages:
            pipe.rpush(key, payload)
        for key, payload in out.replies:
            pipe.rpush(key, payload)
            pipe.expire(key, keys.REPLY_TTL_S)
        # One refused command (an ACL change a managed Redis forbids) must not lose the rest of the batch.
        for result in self.fence.execute(pipe, raise_on_error=False):
            if isinstance(result, redis.ResponseError):
                log.warning("Redis refused a write of this batch: %s", result)

    # ---- single writes ------------------------------------------------------------------------

    def next_app_seq(self) -> int:
        """The next application sequence number (the counter outlives the RM: ids are never reissued)."""
        pipe = self.pipeline()
        pipe.incr(keys.app_seq())
        (seq,) = self.fence.execute(pipe)
        return int(seq)

    def beat(self, web_address: str, ttl_s: int) -> None:
        """The inbox loop's alive key (what /health's peers and `--check` read)."""
        pipe = self.pipeline()
        pipe.set(keys.rm_health(), web_address, ex=ttl_s)
        self.fence.execute(pipe)

    def stage_blob(self, digest: str, body: bytes) -> None:
        pipe = self.pipeline()
        pipe.set(keys.blob(digest), body, ex=keys.BLOB_TTL_S)
        self.fence.execute(pipe)

    # ---- recovery -----------------------------------------------------------------------------

    def next_epoch(self, cluster_ts: int) -> int:
        """This RM run's epoch (container ids carry it), and its cluster timestamp stored."""
        pipe = self.pipeline()
        pipe.hincrby(keys.cluster(), "epoch", 1)
        pipe.hset(keys.cluster(), "clusterTimestamp", cluster_ts)
        epoch, _ = self.fence.execute(pipe)
        return int(epoch) - 1

    def stored_apps(self) -> list[bytes]:
        return self._mget([keys.app(text(i)) for i in self.redis.zrange(keys.apps(), 0, -1)])

    def stored_nodes(self) -> list[bytes]:
        return self._mget([keys.node(text(i)) for i in self.redis.smembers(keys.nodes())])

    def stored_containers(self) -> list[tuple[str, bytes]]:
        """(container id, stored grant) of every live container record."""
        prefix_len = len(keys.container(""))
        names = [text(k) for k in self.redis.scan_iter(match=keys.container("*"), count=1000)]
        return [(name[prefix_len:], stored) for name, stored in zip(names, self._mget(names, keep_missing=True),
                                                                    strict=True) if stored is not None]

    @overload
    def _mget(self, names: list[str]) -> list[bytes]: ...
    @overload
    def _mget(self, names: list[str], keep_missing: Literal[True]) -> list[bytes | None]: ...
    def _mget(self, names: list[str], keep_missing: bool = False) -> list[bytes] | list[bytes | None]:
        got: list[bytes | None] = []
        for i in range(0, len(names), MGET_BATCH):
            got.extend(data(v) if v is not None else None for v in self.redis.mget(names[i:i + MGET_BATCH]))
        return got if keep_missing else [v for v in got if v is not None]
