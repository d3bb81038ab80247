"""The leader lease and the fencing epoch in Redis: YARN's ActiveStandbyElector, with a key that expires
in place of ZooKeeper's ephemeral node.

The lease (`keys.rm_ha_lease()`) holds `<rm-id> <epoch> <web address>` and expires `lease_ms` after its
last renewal; the epoch (`keys.rm_ha_epoch()`) goes up by one each time an RM becomes active. Taking the
lease and the epoch is one script, so no two RMs ever hold the same epoch; renewing is a script that
succeeds only for the holder (the value names the epoch, so even the same RM id of an older epoch cannot
renew). The epoch is what fences writes (fence.py): the lease only decides who may take the next one.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from miniyarn import keys

# KEYS[1] the lease, KEYS[2] the epoch; ARGV[1] rm id, ARGV[2] lease ms, ARGV[3] web address.
# SET NX PX, and the epoch taken with it: returns the new epoch, or 0 while another RM holds the lease.
_ACQUIRE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local epoch = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. epoch .. ' ' .. ARGV[3], 'PX', ARGV[2])
return epoch
"""

# KEYS[1] the lease, KEYS[2] the epoch; ARGV[1] the lease value this RM set, ARGV[2] lease ms,
# ARGV[3] this RM's epoch. Renews only the holder's own lease. A lease that expired while nobody took
# it (the epoch is still ours: no RM became active since) is taken back, as a ZooKeeper session that
# reconnects in time keeps its node. Returns 1 if this RM still holds the lease, else 0.
_RENEW = """
local held = redis.call('GET', KEYS[1])
if held == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not held and redis.call('GET', KEYS[2]) == ARGV[3] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""

# KEYS[1] the lease; ARGV[1] the lease value this RM set. Gives the lease up (a transition to standby)
# only if it is still this RM's.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True)
class Holder:
    """Who holds the lease, as its value says.

    >>> Holder.parse(b"rm2 7 http://127.0.0.1:8090")
    Holder(rm_id='rm2', epoch=7, web='http://127.0.0.1:8090')
    >>> Holder.parse(b"garbage") is None
    True
    """

    rm_id: str
    epoch: int
    web: str

    @property
    def value(self) -> str:
        return f"{self.rm_id} {self.epoch} {self.web}"

    @staticmethod
    def parse(raw: bytes | str | None) -> Holder | None:
        if raw is None:
            return None
        parts = (raw.decode() if isinstance(raw, bytes) else raw).split(" ", 2)
        if len(parts) != 3 or not parts[1].isdigit():
            return None
        return Holder(parts[0], int(parts[1]), parts[2])


class Lease:
    """This RM's side of the lease. Each call is one round trip; Redis errors reach the caller."""

    def __init__(self, client: redis.Redis, rm_id: str, web: str, lease_ms: int) -> None:
        self.client = client
        self.rm_id = rm_id
        self.web = web
        self.lease_ms = lease_ms
        self._acquire = client.register_script(_ACQUIRE)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    def acquire(self) -> Holder | None:
        """The lease with a new epoch if nobody holds it, else None."""
        epoch = int(self._acquire(keys=[keys.rm_ha_lease(), keys.rm_ha_epoch()],
                                  args=[self.rm_id, self.lease_ms, self.web]))
        return Holder(self.rm_id, epoch, self.web) if epoch else None

    def renew(self, mine: Holder) -> bool:
        return bool(self._renew(keys=[keys.rm_ha_lease(), keys.rm_ha_epoch()],
                                args=[mine.value, self.lease_ms, mine.epoch]))

    def release(self, mine: Holder) -> bool:
        return bool(self._release(keys=[keys.rm_ha_lease()], args=[mine.value]))

    def holder(self) -> Holder | None:
        return Holder.parse(self.client.get(keys.rm_ha_lease()))
