"""RMContext: what the ResourceManager knows, and nothing it does (YARN's RMContext).

Apps, attempts, containers and nodes; the scheduler's mirrors of them; the ids and sequences the RM hands
out; its configuration and master key; and the outbox, where every transition puts the writes it implies.
Transitions (app_transitions, container_transitions, node_transitions, liveness, allocation_expiry, the
AM launcher) mutate a context and its outbox; their callers flush it through the store (store.py), the
only Redis writer. Tests build a context, fire transitions and assert on the outbox, with no Redis.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field

from miniyarn.config import YarnConfiguration
from miniyarn.protocol import ContainerGrant
from miniyarn.records import Resource
from miniyarn.security import credentials as creds
from resourcemanager.health import LoopHealth
from resourcemanager.rmstate import RMApp, RMContainer, RMNode
from resourcemanager.scheduler.model import SchedulerApp, SchedulerNode
from resourcemanager.scheduler.queues import QueueConf, leaves, load_queues, scheduler_kind
from resourcemanager.scheduler.scheduler import Scheduler

# The AM container's copy of its application's client-to-AM secret (see tokens.client_to_am_secret).
CLIENT_TO_AM_ENV = "MINIYARN_CLIENT_TO_AM_SECRET"
# The per-user key an AM seals state that must outlive its application with (Flink savepoints).
USER_STATE_ENV = "MINIYARN_USER_STATE_SECRET"
# An AM that unregistered gets this long to exit by itself before the RM stops its container,
# as YARN waits for the AM container to finish after unregistration.
AM_EXIT_GRACE_MS = 5000
# A killed app whose AM container does not report back is declared KILLED after this long.
KILL_GRACE_MS = 5000
# Ids handed out but never submitted are forgotten past this many (a client that asks and walks away).
NEW_APP_IDS_KEPT = 100_000
MAX_COMPLETED_KEY = "yarn.resourcemanager.max-completed-applications"
# YARN's default: completed applications kept (in memory and in the store) for the REST API and the UI.
# Without a limit an RM that ran for months held and listed every app it ever ran.
DEFAULT_MAX_COMPLETED = 1000
# Completed containers an app page can list, per application (trimmed in halves, so appends stay cheap).
FINISHED_CONTAINERS_KEPT = 100
ALLOCATION_EXPIRY_KEY = "yarn.resourcemanager.rm.container-allocation.expiry-interval-ms"
# YARN gives an AM 10 minutes to launch what it was granted. Ours is 2 minutes: an AM here launches a
# container within seconds of acquiring it (a local process or a local image), and a grant nobody launches
# (its AM died, or an RM restart lost the answer) holds node resources every other app waits for.
DEFAULT_ALLOCATION_EXPIRY_MS = 120_000
# A container its node reported running, then left out of a report (an NM restarted without recovering
# it): completed once it has been missing this long. Longer than a heartbeat or two, so one report that
# raced a container's start or stop is not enough.
MISSING_GRACE_MS = 3000


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(slots=True)
class AppUsage:
    """What an app's live containers hold, summed as they come and go (add_container, complete_container):
    its page and every `/apps` row read these instead of walking its containers. The start-weighted sums
    give its running memory- and vcore-seconds at any `now`: (resource x now - sum of resource x start)."""

    containers: int = 0
    memory: int = 0
    vcores: int = 0
    memory_start_ms: int = 0  # sum of memory x start_time over its live containers
    vcores_start_ms: int = 0

    def add(self, memory: int, vcores: int, start_ms: int, sign: int = 1) -> None:
        self.containers += sign
        self.memory += sign * memory
        self.vcores += sign * vcores
        self.memory_start_ms += sign * memory * start_ms
        self.vcores_start_ms += sign * vcores * start_ms

    def seconds(self, now: int) -> tuple[int, int]:
        """(memory-seconds, vcore-seconds) its live containers have used by `now`."""
        return (max(0, self.memory * now - self.memory_start_ms) // 1000,
                max(0, self.vcores * now - self.vcores_start_ms) // 1000)


@dataclass
class Outbox:
    """Writes collected during a batch, sent to Redis in one pipeline by the store's flush."""

    apps: set[str] = field(default_factory=set)
    nodes: set[str] = field(default_factory=set)
    containers: dict[str, ContainerGrant | None] = field(default_factory=dict)
    # Attempt users to create (attempt id -> AMRM token) and to delete: before the batch's messages, so
    # an AM's user exists before the NM that launches it reads the start command.
    users_created: dict[str, str] = field(default_factory=dict)
    users_deleted: list[str] = field(default_factory=list)
    messages: list[tuple[str, str]] = field(default_factory=list)  # (list key, JSON)
    replies: list[tuple[str, str]] = field(default_factory=list)
    log_nodes: list[tuple[str, list[str]]] = field(default_factory=list)
    # Apps whose AM acquired containers in this batch: stored with the replies, before them.
    acquired_apps: set[str] = field(default_factory=set)
    # Completed apps past yarn.resourcemanager.max-completed-applications: their records are deleted.
    apps_removed: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.apps or self.nodes or self.containers or self.messages or self.replies or self.log_nodes
                    or self.users_created or self.users_deleted or self.acquired_apps or self.apps_removed)

    def put_back(self, failed: Outbox) -> None:
        """Take back the writes of a flush Redis refused (down, paused), ahead of this batch's own: they
        go out with the next flush instead of being lost, so the stored state never misses a change."""
        self.apps |= failed.apps
        self.nodes |= failed.nodes
        self.containers = {**failed.containers, **self.containers}
        for attempt_id, token in failed.users_created.items():
            self.users_created.setdefault(attempt_id, token)
        self.users_deleted[:0] = failed.users_deleted
        self.messages[:0] = failed.messages
        self.replies[:0] = failed.replies
        self.log_nodes[:0] = failed.log_nodes
        self.acquired_apps |= failed.acquired_apps
        self.apps_removed[:0] = failed.apps_removed


class RMContext:
    """The RM's state. Plain data: every change is made by a transition module, never here."""

    def __init__(self, conf: YarnConfiguration, web_address: str = "",
                 credentials: creds.Credentials | None = None) -> None:
        self.conf = conf
        self.credentials = credentials
        # Every token the RM hands out is derived from this key. Without a credentials dir it lives only as
        # long as this process: tokens of AMs started before a restart are then refused.
        self.master_key = credentials.rm_master_key() if credentials is not None else secrets.token_bytes(32)
        self.redis_location = ""  # where AMs meet the RM's Redis (set by the RM from its client)
        self.web_address = web_address  # http://host:port, for tracking URLs through the proxy
        self.cluster_ts = now_ms()
        self.epoch = 0
        self.started_ms = self.cluster_ts
        self.apps: dict[str, RMApp] = {}
        self.nodes: dict[str, RMNode] = {}
        self.containers: dict[str, RMContainer] = {}
        # Live containers per app (app id -> container ids): an app's page, its end and its attempt's end
        # look at its own containers, not every container of the cluster.
        self.app_containers: dict[str, dict[str, None]] = {}
        # Live containers per node (node id -> container ids), kept by add_container and complete_container:
        # a node's page counts its own, its loss and its heartbeat's resync walk its own, and a completion
        # takes one out in O(1) (a list's remove made a node's loss with thousands of containers quadratic).
        self.node_containers: dict[str, dict[str, None]] = {}
        # What each app's live containers hold (see AppUsage), next to app_containers.
        self.app_usage: dict[str, AppUsage] = {}
        self.sched_nodes: dict[str, SchedulerNode] = {}
        self.sched_apps: dict[str, SchedulerApp] = {}
        # Ids handed out by new-application and not yet submitted (-> the user who asked, "" if unknown),
        # oldest first: the only ids a submission may use, so nobody can squat an id the next client gets.
        self.new_app_ids: dict[str, str] = {}
        self.container_seq: dict[str, int] = {}
        self.container_prefix: dict[str, str] = {}
        self.queue_root: QueueConf = load_queues(conf)
        self.leaf_queues = {q.path: q for q in leaves(self.queue_root)}
        self.scheduler = Scheduler(list(self.leaf_queues.values()))
        self.scheduler_kind = scheduler_kind(conf)
        self.min_alloc = Resource(memory=conf.get_int("yarn.scheduler.minimum-allocation-mb"),
                                  vcores=conf.get_int("yarn.scheduler.minimum-allocation-vcores"))
        self.max_alloc = Resource(memory=conf.get_int("yarn.scheduler.maximum-allocation-mb"),
                                  vcores=conf.get_int("yarn.scheduler.maximum-allocation-vcores"))
        self.nm_expiry_ms = conf.get_int("yarn.nm.liveness-monitor.expiry-interval-ms")
        self.am_expiry_ms = conf.get_int("yarn.am.liveness-monitor.expiry-interval-ms")
        self.allocation_expiry_ms = conf.get_int(ALLOCATION_EXPIRY_KEY, DEFAULT_ALLOCATION_EXPIRY_MS)
        # Containers granted and not yet reported running by their node (-> when granted), oldest first:
        # what allocation expiry watches, without scanning every container.
        self.unlaunched: dict[str, int] = {}
        self.max_completed = conf.get_int(MAX_COMPLETED_KEY, DEFAULT_MAX_COMPLETED)
        # Completed apps, oldest completion first: the ones past max_completed are forgotten.
        self.completed_apps: dict[str, None] = {}
        self.health = LoopHealth(started_ms=now_ms())
        self.global_max_attempts = conf.get_int("yarn.resourcemanager.am.max-attempts", 2)
        self.out = Outbox()
        self.needs_schedule = False
        # Free resource of schedulable nodes and the active node count, for this batch (scheduling.headroom).
        self.headroom_cache: tuple[Resource, int] | None = None
        self.containers_allocated_total = 0
