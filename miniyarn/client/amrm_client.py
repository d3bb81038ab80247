"""AMRMClient: how an ApplicationMaster talks to the RM (register, allocate, unregister).

Asks are kept in a table per (priority, resource name, capability) and sent as absolute counts when
they change, as YARN's AMRMClientImpl does. Unlike YARN's, the table is decremented when a matching
container arrives (the RM has done the same on its side), so an AM need not call
`remove_container_request` for requests that were satisfied.

Every call carries the attempt's AMRM token: the password of the attempt's own Redis user, which the
RM put in the AM container's `MINIYARN_REDIS_URL` and no other container has.

>>> # inside a container:  amrm = AMRMClient(); amrm.register("host", 0, "http://host:port")
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field

import redis

from miniyarn import config
from miniyarn.client.nm_client import TOKENS, NMTokenCache
from miniyarn.ids import ContainerId
from miniyarn.protocol import (
    Allocate,
    AllocateResponse,
    AMCall,
    FinishApplicationMaster,
    RegisterApplicationMaster,
    RegisterResponse,
    RMReply,
)
from miniyarn.records import ANY, Container, Resource, ResourceRequest
from miniyarn.redisconn import OUTAGES, connect, is_sentinel, ride_out
from miniyarn.rpc import RMUnavailableError, YarnRemoteError, call, new_reply_key
from miniyarn.states.application import FinalApplicationStatus

Key = tuple[int, str, int, int]
log = logging.getLogger(__name__)

NOT_REGISTERED = "ApplicationMasterNotRegisteredException"
# An RM that does not answer (restarting, failing over) is waited for as Redis not answering is.
RM_OUTAGES: tuple[type[Exception], ...] = (RMUnavailableError, *OUTAGES)


@dataclass
class ContainerRequest:
    capability: Resource
    nodes: list[str] = field(default_factory=list)
    priority: int = 1
    relax_locality: bool = True
    allocation_request_id: int = -1


def attempt_id_from_env() -> str:
    cid = os.environ.get("CONTAINER_ID")
    if not cid:
        raise RuntimeError("CONTAINER_ID is not set: an ApplicationMaster must run inside a YARN container")
    return str(ContainerId.parse(cid).attempt_id)


class AMRMClient:
    def __init__(self, redis_url: str | None = None, attempt_id: str | None = None,
                 client: redis.Redis | None = None, timeout_s: float = 10.0, amrm_token: str | None = None,
                 tokens: NMTokenCache | None = None, max_wait_ms: int | None = None) -> None:
        self.redis = client or connect(config.redis_url(redis_url))
        self.attempt_id = attempt_id or attempt_id_from_env()
        # The AMRM token is the attempt user's Redis password unless given apart (a test or bench playing
        # the AM over an admin connection).
        password = self.redis.connection_pool.connection_kwargs.get("password")
        self.amrm_token = amrm_token if amrm_token is not None else str(password or "")
        self.tokens = tokens or TOKENS
        self.timeout_s = timeout_s
        self.table: dict[Key, ResourceRequest] = {}
        self.changed: set[Key] = set()
        self.releases: list[str] = []
        self.response_id = 0
        self.last_pending_reason = ""
        self.max_wait_s = config.connect_max_wait_s(max_wait_ms)
        self.retry_interval_s = config.RETRY_INTERVAL_S
        self.registration: tuple[str, int, str] = ("", -1, "")
        # Ids of the containers handed to this AM, so one handed again (a repeated response) counts once.
        self.received: set[str] = set()

    def _call(self, build: Callable[[str], AMCall]) -> RMReply:
        """One AMRM call, retried until `max_wait_s` while the RM or Redis cannot be reached (restarting,
        paused, failing over), as YARN's RMProxy retries within yarn.resourcemanager.connect.max-wait.ms.
        Each try gets its own reply list: a late answer to an earlier try can never be read as the answer
        to a later call. A retried allocate carries the same response_id, so an RM that did answer the
        first try answers the same again (see services.allocate)."""
        first = build(new_reply_key(self.attempt_id))
        tries = 0

        def once() -> RMReply:
            nonlocal tries
            msg = first if tries == 0 else build(new_reply_key(self.attempt_id))
            tries += 1
            return call(self.redis, msg, msg.reply_to, self.timeout_s)

        try:
            return ride_out(f"{first.type} for {self.attempt_id}", once, self.max_wait_s, self.retry_interval_s,
                            config.SENTINEL_AUTH_GRACE_S if is_sentinel(self.redis) else 0.0, logger=log,
                            outages=RM_OUTAGES, refused=self._attempt_gone)
        except RM_OUTAGES as e:
            raise RMUnavailableError(
                f"ResourceManager unreachable for {self.max_wait_s:.0f}s ({tries} tries of {first.type}; "
                f"last: {e}); see yarn.resourcemanager.connect.max-wait.ms") from e

    def _attempt_gone(self, e: redis.AuthenticationError) -> YarnRemoteError:
        # The RM deletes an attempt's Redis user when the attempt ends: as YARN's AMRMToken of a removed
        # attempt, a permanent refusal, which AMs act on by shutting down.
        return YarnRemoteError("ApplicationAttemptNotFoundException",
                               f"Application attempt {self.attempt_id} doesn't exist in "
                               f"ApplicationMasterService cache: its AMRMToken is no longer valid ({e})")

    def register(self, host: str = "", rpc_port: int = -1, tracking_url: str = "") -> RegisterResponse:
        self.registration = (host, rpc_port, tracking_url)
        reply = self._call(lambda reply_to: RegisterApplicationMaster(
            attempt_id=self.attempt_id, reply_to=reply_to, amrm_token=self.amrm_token, host=host,
            rpc_port=rpc_port, tracking_url=tracking_url))
        assert isinstance(reply, RegisterResponse)
        return reply

    def _resync(self) -> None:
        """The RM restarted and lost track of our registration (ApplicationMasterNotRegisteredException):
        register again and resend the whole ask table, as YARN's AMRMClientImpl does. Containers granted
        before the restart are kept: the RM recovered them."""
        log.warning("ResourceManager asks %s to re-register (it restarted); re-registering and resending "
                    "%d asks", self.attempt_id, len(self.table))
        host, port, url = self.registration
        self.register(host, port, url)
        self.response_id = 0
        self.changed.update(self.table)

    def _row(self, key: Key) -> ResourceRequest:
        row = self.table.get(key)
        if row is None:
            row = ResourceRequest(priority=key[0], resource_name=key[1],
                                  capability=Resource(memory=key[2], vcores=key[3]), num_containers=0)
            self.table[key] = row
        return row

    def _keys(self, req: ContainerRequest) -> list[Key]:
        cap = req.capability
        names = [ANY, *req.nodes]
        return [(req.priority, n, cap.memory, cap.vcores) for n in names]

    def add_container_request(self, req: ContainerRequest) -> None:
        for key in self._keys(req):
            row = self._row(key)
            row.num_containers += 1
            row.allocation_request_id = req.allocation_request_id
            if key[1] == ANY:
                row.relax_locality = req.relax_locality or not req.nodes
            self.changed.add(key)

    def remove_container_request(self, req: ContainerRequest) -> None:
        for key in self._keys(req):
            row = self.table.get(key)
            if row is not None and row.num_containers > 0:
                row.num_containers -= 1
                self.changed.add(key)

    def pending(self, priority: int | None = None) -> int:
        return sum(r.num_containers for k, r in self.table.items()
                   if k[1] == ANY and (priority is None or k[0] == priority))

    def release_assigned_container(self, container_id: str) -> None:
        self.releases.append(container_id)

    def allocate(self, progress: float = 0.0) -> AllocateResponse:
        try:
            reply = self._allocate_once(progress)
        except YarnRemoteError as e:
            if e.exception != NOT_REGISTERED:
                raise
            self._resync()
            reply = self._allocate_once(progress)
        self.response_id = reply.response_id
        self.last_pending_reason = reply.pending_reason
        self.tokens.put(reply.container_tokens)
        for s in reply.completed_container_statuses:
            self.tokens.forget(s.container_id)
        fresh = [c for c in reply.allocated_containers if c.id not in self.received]
        for c in fresh:
            self.received.add(c.id)
            self._matched(c)
        if len(fresh) != len(reply.allocated_containers):
            # Given twice (a repeated response after a lost reply): the AM must see each container once.
            reply = reply.model_copy(update={"allocated_containers": fresh})
        return reply

    def _allocate_once(self, progress: float) -> AllocateResponse:
        asks = [self.table[k].model_copy() for k in self.changed]
        releases = self.releases
        self.changed = set()
        self.releases = []
        try:
            reply = self._call(lambda reply_to: Allocate(
                attempt_id=self.attempt_id, reply_to=reply_to, amrm_token=self.amrm_token,
                response_id=self.response_id, progress=progress, asks=asks, releases=releases))
        except Exception:
            self.changed.update((a.priority, a.resource_name, a.capability.memory, a.capability.vcores)
                                for a in asks)
            self.releases = releases + self.releases
            raise
        assert isinstance(reply, AllocateResponse)
        return reply

    def _matched(self, c: Container) -> None:
        """Mirror the RM's decrement of the rows a granted container satisfied. The grant may be
        bigger than the ask (normalized up to the minimum allocation): match the closest ask."""
        fitting = [k for k, row in self.table.items()
                   if k[0] == c.priority and k[1] == ANY and row.num_containers > 0
                   and k[2] <= c.resource.memory and k[3] <= c.resource.vcores]
        if not fitting:
            return
        best = max(fitting, key=lambda k: (k[2], k[3]))
        for name in (ANY, c.node_id):
            row = self.table.get((best[0], name, best[2], best[3]))
            if row is not None and row.num_containers > 0:
                row.num_containers -= 1

    def unregister(self, final_status: FinalApplicationStatus, diagnostics: str = "",
                   tracking_url: str = "") -> None:
        def build(reply_to: str) -> FinishApplicationMaster:
            return FinishApplicationMaster(attempt_id=self.attempt_id, reply_to=reply_to,
                                           amrm_token=self.amrm_token, final_status=final_status,
                                           diagnostics=diagnostics, tracking_url=tracking_url)
        try:
            self._call(build)
        except YarnRemoteError as e:
            if e.exception != NOT_REGISTERED:
                raise
            self._resync()
            self._call(build)

    def close(self) -> None:
        self.redis.close()
