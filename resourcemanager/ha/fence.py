"""Fencing: every write of the active RM carries its epoch, and Redis refuses it once another RM has
taken a newer one. An old active that wakes up (SIGSTOP, a long GC, a partition) cannot write a single
key before it learns it lost the lease, as YARN's ZKRMStateStore fences with its ZooKeeper ACLs.

The RM's writes go through one object: `fence.pipeline(client)` gives the pipeline the store fills and
`fence.execute(pipe)` sends it. With HA on, the pipeline is a MULTI/EXEC under WATCH of the epoch key,
opened only when the epoch in Redis is this RM's: a new active's INCR between the check and EXEC makes
Redis drop the whole transaction. The inbox is taken by a script that checks the epoch first (a pop is a
write: a stale RM must not steal the new active's messages). Without HA the fence is a plain pipeline
and costs nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import redis
from redis.client import Pipeline

from miniyarn import keys

log = logging.getLogger("resourcemanager.ha")

# KEYS[1] the epoch, then the lists to pop; ARGV[1] this RM's epoch, then one count per list.
# Pops nothing and answers an error naming the epoch in Redis when it is not this RM's.
_FENCED_POP = """
local epoch = redis.call('GET', KEYS[1]) or '0'
if epoch ~= ARGV[1] then return redis.error_reply('FENCED epoch ' .. epoch) end
local out = {}
for i = 2, #KEYS do out[i - 1] = redis.call('LPOP', KEYS[i], ARGV[i]) end
return out
"""


class FencedError(redis.RedisError):
    """A write refused because another RM became active since this one took its epoch. A RedisError, so
    every write path already treats it as a write that did not happen (nothing is half-applied)."""


class Fence:
    """`Fence(None)`: no HA, every write goes through. `Fence(0)`: a standby, every write is refused until
    `epoch` is set to the one this RM took with the lease.

    `on_fenced` is called (from the writing thread) the first time a write is refused while this RM
    believed it was active: the elector turns it standby.
    """

    def __init__(self, epoch: int | None, on_fenced: Callable[[str], None] | None = None) -> None:
        self.epoch = epoch
        self.on_fenced = on_fenced
        self._pop: dict[int, Any] = {}

    @property
    def enabled(self) -> bool:
        return self.epoch is not None

    def _refused(self, seen: object) -> FencedError:
        why = (f"the fencing epoch in Redis is {seen!s}, this ResourceManager's is {self.epoch}: "
               "another ResourceManager is active")
        if self.epoch:
            log.error("Refusing to write: %s; transitioning to standby", why)
            callback = self.on_fenced
            self.epoch = 0  # nothing more from this RM until it becomes active again
            if callback is not None:
                callback(why)
        return FencedError(why)

    def pipeline(self, client: redis.Redis) -> Pipeline:
        """A pipeline for one batch of writes (FencedError at once when this RM is not the active)."""
        if self.epoch is None:
            return client.pipeline(transaction=False)
        if not self.epoch:
            raise FencedError("this ResourceManager is not active")
        pipe = client.pipeline(transaction=True)
        try:
            pipe.watch(keys.rm_ha_epoch())  # type: ignore[no-untyped-call]
            seen = pipe.get(keys.rm_ha_epoch())
        except BaseException:
            pipe.reset()
            raise
        if int(seen or 0) != self.epoch:
            pipe.reset()
            raise self._refused(int(seen or 0))
        pipe.multi()
        return pipe

    def execute(self, pipe: Pipeline, raise_on_error: bool = True) -> list[Any]:
        try:
            return list(pipe.execute(raise_on_error=raise_on_error))
        except redis.WatchError:
            raise self._refused("newer") from None
        finally:
            pipe.reset()

    def pop(self, client: redis.Redis, lists: list[tuple[str, int]]) -> list[list[bytes]]:
        """LPOP up to `count` from each list, only while this RM's epoch is the one in Redis."""
        if not self.epoch:
            raise FencedError("this ResourceManager is not active")
        script = self._pop.get(id(client))
        if script is None:
            script = self._pop[id(client)] = client.register_script(_FENCED_POP)
        try:
            got = script(keys=[keys.rm_ha_epoch(), *(k for k, _ in lists)],
                         args=[self.epoch, *(n for _, n in lists)])
        except redis.ResponseError as e:
            if str(e).startswith("FENCED"):
                raise self._refused(str(e).rsplit(" ", 1)[-1]) from None
            raise
        return [list(x or []) for x in got]

    def set(self, client: redis.Redis, key: str, value: str, ex: int) -> None:
        pipe = self.pipeline(client)
        pipe.set(key, value, ex=ex)
        self.execute(pipe)

    def incr(self, client: redis.Redis, key: str) -> int:
        pipe = self.pipeline(client)
        pipe.incr(key)
        return int(self.execute(pipe)[0])
