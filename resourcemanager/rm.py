"""The ResourceManager's state and the transitions that change it.

One object holds apps, attempts, containers and nodes in memory, guarded by one lock, and writes
every change through to Redis in a pipeline per batch (`flush`). The inbox loop (`inbox.py`) feeds
it NM and AM messages; the REST layer calls `submit`/`kill`; `tick` runs liveness and scheduling.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from dataclasses import dataclass, field

import redis

from miniyarn import keys, redisconn
from miniyarn.config import YarnConfiguration
from miniyarn.exit_status import ContainerExitStatus
from miniyarn.ids import ApplicationAttemptId, ApplicationId, ContainerId
from miniyarn.protocol import ApplicationFinished, ContainerGrant, Msg, StartContainer, StopContainer
from miniyarn.records import (
    ANY,
    GUARANTEED,
    ApplicationSubmissionContext,
    Container,
    ContainerStatus,
    Resource,
    ResourceRequest,
    trusted,
)
from miniyarn.security import credentials as creds
from miniyarn.states.application import APP_MACHINE, AppEvent, FinalApplicationStatus, YarnApplicationState
from miniyarn.states.attempt import ATTEMPT_MACHINE, AttemptEvent, AttemptState
from miniyarn.states.container import CONTAINER_MACHINE, ContainerEvent, ContainerState, RMContainerState
from miniyarn.states.node import ACTIVE_STATES, NODE_MACHINE, NodeEvent, NodeState
from resourcemanager import amrm_users
from resourcemanager.errors import (
    AccessControlError,
    BadRequestError,
    InvalidQueue,
    InvalidResourceRequest,
    NotFoundError,
)
from resourcemanager.health import LoopHealth
from resourcemanager.rmstate import RMApp, RMAttempt, RMContainer, RMNode
from resourcemanager.scheduler.model import Allocation, SchedulerApp, SchedulerNode
from resourcemanager.scheduler.normalize import InvalidResourceRequestError, normalize, validate
from resourcemanager.scheduler.queues import QueueConf, leaves, load_queues, scheduler_kind
from resourcemanager.scheduler.scheduler import Scheduler

log = logging.getLogger("resourcemanager")

A = YarnApplicationState
# The AM container's copy of its application's client-to-AM secret (see client_to_am_secret).
CLIENT_TO_AM_ENV = "MINIYARN_CLIENT_TO_AM_SECRET"
# An AM that unregistered gets this long to exit by itself before the RM stops its container,
# as YARN waits for the AM container to finish after unregistration.
AM_EXIT_GRACE_MS = 5000
# A killed app whose AM container does not report back is declared KILLED after this long.
KILL_GRACE_MS = 5000


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Outbox:
    """Writes collected during a batch, sent to Redis in one pipeline by `flush`."""

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

class ResourceManager:
    def __init__(self, conf: YarnConfiguration, client: redis.Redis, web_address: str = "",
                 credentials: creds.Credentials | None = None) -> None:
        self.conf = conf
        self.credentials = credentials
        # Every token the RM hands out is derived from this key. Without a credentials dir it lives only as
        # long as this process: tokens of AMs started before a restart are then refused.
        self.master_key = credentials.rm_master_key() if credentials is not None else secrets.token_bytes(32)
        self.redis = client
        # Where the AMs meet the RM: its own Redis (or its Sentinels), with no credential (each AM gets its
        # attempt's own).
        self.redis_location = redisconn.location(client)
        self.acl_save = False  # set by the daemon when Redis has an aclfile (ACL SAVE then keeps users)
        self.web_address = web_address  # http://host:port, for tracking URLs through the proxy
        self.lock = threading.RLock()
        self.cluster_ts = now_ms()
        self.epoch = 0
        self.started_ms = self.cluster_ts
        self.apps: dict[str, RMApp] = {}
        self.nodes: dict[str, RMNode] = {}
        self.containers: dict[str, RMContainer] = {}
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
        self._headroom: tuple[Resource, int] | None = None
        self.containers_allocated_total = 0
        self.apps_submitted = 0

    def client_to_am_secret(self, app_id: str) -> str:
        """YARN's ClientToAMToken master key for one app: the AM gets it in its environment, the RM's proxy
        presents it (`Authorization: Bearer`), so an AM's UI can tell requests the RM authorized."""
        return creds.derive(self.master_key, "client-to-am", app_id)

    def amrm_token(self, attempt_id: str) -> str:
        """The attempt's AMRMToken: its Redis user's password, and what every AMRM call must carry."""
        return amrm_users.token(self.master_key, attempt_id)

    def container_token(self, container_id: str) -> str:
        """The container's token: the AM gets it with the allocation, the NM checks starts and stops by it."""
        rc = self.containers.get(container_id)
        if rc is not None and rc.token:
            return rc.token
        return creds.derive(self.master_key, "container", container_id)

    def am_redis_url(self, attempt_id: str) -> str:
        return creds.with_user(self.redis_location, attempt_id, self.amrm_token(attempt_id))

    def recreate_attempt_users(self) -> int:
        """Queue again the Redis user of every attempt whose AM may run (as a restarted RM does): after
        Redis was unreachable it may be another Redis (a Sentinel failover promoted a replica; ACL
        SETUSER is not replicated) or one restarted without our users. ACL SETUSER of an existing user
        with `reset` is a no-op in effect. Returns how many."""
        n = 0
        with self.lock:
            for app in self.apps.values():
                attempt = app.current
                if (APP_MACHINE.is_final(app.state) or attempt is None or not attempt.am_container_id
                        or ATTEMPT_MACHINE.is_final(attempt.state)):
                    continue
                if attempt.attempt_id not in self.out.users_deleted:
                    self.out.users_created[attempt.attempt_id] = self.amrm_token(attempt.attempt_id)
                    n += 1
        return n

    def _attempt_user_gone(self, attempt: RMAttempt) -> None:
        """An ended attempt's AM loses its Redis user (Redis also drops its connections)."""
        self.out.users_created.pop(attempt.attempt_id, None)
        self.out.users_deleted.append(attempt.attempt_id)

    # ---- queues and limits --------------------------------------------------------------

    def resolve_queue(self, name: str) -> QueueConf:
        """A leaf queue by short name (`default`) or full path (`root.default`)."""
        name = name or "default"
        for path, q in self.leaf_queues.items():
            if name in (path, q.name):
                return q
        raise InvalidQueue(f"Application submitted to a non-leaf or unknown queue: {name}")

    def effective_max(self) -> Resource:
        """The maximum allocation, capped by the largest registered node as YARN's scheduler does."""
        active = [n.capability for n in self.nodes.values() if n.state in ACTIVE_STATES]
        if not active:
            return self.max_alloc
        return Resource(memory=min(self.max_alloc.memory, max(r.memory for r in active)),
                        vcores=min(self.max_alloc.vcores, max(r.vcores for r in active)))

    def normalize(self, req: Resource, limit: Resource | None = None) -> Resource:
        """Validated against `limit` (new asks: effective_max(), as YARN's scheduler checks them) or the
        configured maximum (recovery, which must not refuse what it once accepted), then rounded."""
        try:
            validate(req, limit or self.max_alloc, self.max_alloc)
        except InvalidResourceRequestError as e:
            raise InvalidResourceRequest(str(e)) from None
        return normalize(req, self.min_alloc, self.max_alloc)

    def headroom(self) -> tuple[Resource, int]:
        """Free resource of schedulable nodes and the active node count, computed once per batch:
        every allocate reply carries them, and summing 1,000 nodes per reply was a hot spot."""
        if self._headroom is None:
            live = [n for n in self.sched_nodes.values() if n.schedulable]
            free = Resource.model_construct(
                memory=sum(n.capability.memory - n.used.memory for n in live),
                vcores=sum(n.capability.vcores - n.used.vcores for n in live))
            self._headroom = (free, sum(1 for n in self.nodes.values() if n.state in ACTIVE_STATES))
        return self._headroom

    # ---- client side: new application, submit, kill --------------------------------------

    def new_application(self, owner: str = "") -> str:
        """A fresh application id, reserved for `owner` (the authenticated asker) when one is given."""
        with self.lock:
            while True:
                seq = int(self.redis.incr(keys.app_seq()))
                app_id = str(ApplicationId(self.cluster_ts, seq))
                # Taken only if the counter went back (a Redis that lost it): skip rather than collide.
                if app_id not in self.apps and app_id not in self.new_app_ids:
                    break
            self.new_app_ids[app_id] = owner
            if len(self.new_app_ids) > NEW_APP_IDS_KEPT:
                del self.new_app_ids[next(iter(self.new_app_ids))]
            return app_id

    def submit(self, ctx: ApplicationSubmissionContext, user: str) -> RMApp:
        with self.lock:
            app_id = ctx.application_id
            try:
                parsed = ApplicationId.parse(app_id)
            except ValueError as e:
                raise BadRequestError(str(e)) from None
            if app_id in self.apps:
                raise BadRequestError(f"Application with id {app_id} is already present! Cannot add a duplicate!")
            owner = self.new_app_ids.get(app_id)
            if owner is None:
                log.warning("Refusing a submission of %s by %s: an id this ResourceManager never handed out",
                            app_id, user)
                raise BadRequestError(f"Application id {app_id} was not issued by this ResourceManager; "
                                      "ask POST /ws/v1/cluster/apps/new-application for one")
            if owner and owner != user:
                log.warning("Refusing a submission of %s by %s: the id was issued to %s", app_id, user, owner)
                raise AccessControlError(f"User {user} cannot submit {app_id}: it was issued to another user; "
                                         "ask POST /ws/v1/cluster/apps/new-application for one")
            queue = self.resolve_queue(ctx.queue)
            if queue.state != "RUNNING":
                raise InvalidQueue(f"Queue {queue.path} is STOPPED. Cannot accept submission of application: "
                                   f"{app_id}")
            if ctx.max_app_attempts < 0:
                raise BadRequestError(f"Invalid max-app-attempts {ctx.max_app_attempts}; it must be >= 0")
            am_resource = self.normalize(ctx.resource, self.effective_max())
            max_attempts = self.global_max_attempts
            if 0 < ctx.max_app_attempts < max_attempts:
                max_attempts = ctx.max_app_attempts
            app = RMApp(app_id=app_id, seq=parsed.id, submission=ctx, queue=queue.path, user=user,
                        submit_time=now_ms(), max_attempts=max_attempts)
            self.new_app_ids.pop(app_id, None)
            self.apps[app_id] = app
            self.apps_submitted += 1
            self._app_event(app, AppEvent.START)
            self._app_event(app, AppEvent.APP_NEW_SAVED)
            self._app_event(app, AppEvent.APP_ACCEPTED)
            self.sched_apps[app_id] = SchedulerApp(app_id=app_id, queue=queue.path, user=user, order=parsed.id,
                                                   priority=ctx.priority, am_resource=am_resource)
            log.info("Accepted application %s from user: %s, in queue: %s", app_id, user, queue.path)
            self._start_attempt(app)
            self.needs_schedule = True
            self.flush()
            return app

    def kill(self, app_id: str, diagnostics: str = "") -> RMApp:
        with self.lock:
            app = self.get_app(app_id)
            if APP_MACHINE.is_final(app.state):
                return app
            attempt = app.current
            message = diagnostics or f"Application {app_id} was killed by user {app.user}"
            if attempt is None or not attempt.am_container_id or attempt.am_container_id not in self.containers:
                self._finish_app(app, A.KILLED, FinalApplicationStatus.KILLED, message)
            elif not app.kill_requested_ms:
                app.kill_requested_ms = now_ms()
                app.diagnostics = message
                self._stop_container(attempt.am_container_id, ContainerExitStatus.KILLED_BY_RESOURCEMANAGER,
                                     "Container killed by the ApplicationMaster's application being killed.")
                self.out.apps.add(app_id)
            self.flush()
            return app

    def get_app(self, app_id: str) -> RMApp:
        try:
            ApplicationId.parse(app_id)
        except ValueError as e:
            raise BadRequestError(str(e)) from None
        app = self.apps.get(app_id)
        if app is None:
            raise NotFoundError(f"app with id: {app_id} not found")
        return app

    # ---- attempts -----------------------------------------------------------------------

    def _start_attempt(self, app: RMApp) -> None:
        n = len(app.attempts) + 1
        attempt_id = str(ApplicationAttemptId(ApplicationId.parse(app.app_id), n))
        attempt = RMAttempt(attempt_id=attempt_id, start_time=now_ms())
        app.attempts.append(attempt)
        self._attempt_event(attempt, AttemptEvent.START)
        self._attempt_event(attempt, AttemptEvent.ATTEMPT_ADDED)
        sapp = self.sched_apps[app.app_id]
        sapp.am_pending = True
        sapp.am_active = False
        sapp.asks.clear()
        stamp = time.strftime("%a %b %d %H:%M:%S %z %Y")
        app.diagnostics = f"[{stamp}] Application is added to the scheduler and is waiting for its AM container"
        self.out.apps.add(app.app_id)

    def _launch_am(self, app: RMApp, attempt: RMAttempt, container: Container) -> None:
        ctx = app.submission.am_container_spec
        env = dict(ctx.environment)
        env.setdefault("APP_SUBMIT_TIME_ENV", str(app.submit_time))
        env.setdefault("MAX_APP_ATTEMPTS", str(app.max_attempts))
        env[CLIENT_TO_AM_ENV] = self.client_to_am_secret(app.app_id)
        # The AM container alone gets a Redis credential: its attempt's own user (YARN's AMRMToken).
        self.out.users_created[attempt.attempt_id] = self.amrm_token(attempt.attempt_id)
        env["MINIYARN_REDIS_URL"] = self.am_redis_url(attempt.attempt_id)
        if self.web_address:
            env.setdefault("MINIYARN_RM_ADDRESS", self.web_address)
        launch = ctx.model_copy(update={"environment": env})
        self._send_nm(container.node_id, StartContainer(container=container, launch_context=launch,
                                                        user=app.user, requested_by="ResourceManager",
                                                        container_token=self.container_token(container.id)))
        self._attempt_event(attempt, AttemptEvent.LAUNCHED)
        attempt.last_heartbeat_ms = now_ms()
        app.diagnostics = "AM container is launched, waiting for AM container to Register with RM"
        log.info("Launching masterappattempt_%s on %s", attempt.attempt_id[len("appattempt_"):], container.node_id)

    def attempt_failed(self, app: RMApp, attempt: RMAttempt, reason: str) -> None:
        """The AM died or timed out: retry if attempts are left, else fail the app."""
        self._stop_attempt_containers(app, attempt, keep_am=False)
        self._attempt_user_gone(attempt)
        attempt.diagnostics = reason
        attempt.finish_time = now_ms()
        if app.kill_requested_ms:
            self._finish_app(app, A.KILLED, FinalApplicationStatus.KILLED, app.diagnostics)
            return
        if len(app.attempts) < app.max_attempts:
            log.info("%s failed; starting attempt %d of %d", attempt.attempt_id, len(app.attempts) + 1,
                     app.max_attempts)
            self._app_event(app, AppEvent.ATTEMPT_FAILED_RETRY)
            self._start_attempt(app)
            self.needs_schedule = True
            return
        diag = (f"Application {app.app_id} failed {app.max_attempts} times due to {reason}. "
                "Failing the application.")
        self._finish_app(app, A.FAILED, FinalApplicationStatus.FAILED, diag)

    def _stop_attempt_containers(self, app: RMApp, attempt: RMAttempt, keep_am: bool) -> None:
        for cid, rc in list(self.containers.items()):
            if rc.attempt_id == attempt.attempt_id and not (keep_am and rc.is_am):
                self._stop_container(cid, ContainerExitStatus.KILLED_BY_RESOURCEMANAGER,
                                     "Container killed by the ResourceManager: its application attempt ended")
                self.complete_container(cid, ContainerExitStatus.KILLED_BY_RESOURCEMANAGER,
                                        "Container killed by the ResourceManager: its application attempt ended")

    def _finish_app(self, app: RMApp, state: YarnApplicationState, final: FinalApplicationStatus,
                    diagnostics: str) -> None:
        if APP_MACHINE.is_final(app.state):
            return
        app.state = state
        app.final_status = final
        app.diagnostics = diagnostics
        app.pending_reason = ""
        app.finish_time = now_ms()
        app.progress = 1.0 if state is A.FINISHED else app.progress
        attempt = app.current
        if attempt is not None and not ATTEMPT_MACHINE.is_final(attempt.state):
            attempt.state = AttemptState.KILLED if state is A.KILLED else (
                AttemptState.FINISHED if state is A.FINISHED else AttemptState.FAILED)
            attempt.finish_time = app.finish_time
        if attempt is not None:
            self._attempt_user_gone(attempt)
        for cid, rc in list(self.containers.items()):
            if rc.app_id == app.app_id:
                status = (ContainerExitStatus.KILLED_BY_RESOURCEMANAGER if state is A.KILLED
                          else ContainerExitStatus.KILLED_AFTER_APP_COMPLETION)
                self._stop_container(cid, status, "Container killed by the ResourceManager: application ended")
                self.complete_container(cid, status, "Container killed by the ResourceManager: application ended")
        self.sched_apps.pop(app.app_id, None)
        # A LOST or SHUTDOWN node will never upload its part: owing nothing, it gets no command either.
        live_nodes = sorted(n for n in app.nodes_used if (node := self.nodes.get(n)) is not None
                            and node.state in ACTIVE_STATES)
        if live_nodes:
            self.out.log_nodes.append((app.app_id, live_nodes))
            for node_id in live_nodes:
                self._send_nm(node_id, ApplicationFinished(application_id=app.app_id))
        self.out.apps.add(app.app_id)
        self.needs_schedule = True
        log.info("%s State change from RUNNING to %s on event = APP_%s; final status %s",
                 app.app_id, state.value, state.value, final.value)
        self.app_completed(app.app_id)

    def app_completed(self, app_id: str) -> None:
        """Remember a completed app, and forget the oldest past max-completed-applications, as YARN's
        RMAppManager does: from memory and from the store."""
        self.completed_apps[app_id] = None
        while len(self.completed_apps) > max(0, self.max_completed):
            oldest = next(iter(self.completed_apps))
            del self.completed_apps[oldest]
            self.apps.pop(oldest, None)
            self.out.apps.discard(oldest)
            self.out.apps_removed.append(oldest)

    # ---- containers ---------------------------------------------------------------------

    def _new_container_id(self, attempt_id: str) -> str:
        n = self.container_seq.get(attempt_id, 0) + 1
        self.container_seq[attempt_id] = n
        prefix = self.container_prefix.get(attempt_id)
        if prefix is None:
            # The id up to the sequence number is fixed per attempt; build it once.
            prefix = str(ContainerId(ApplicationAttemptId.parse(attempt_id), 0, self.epoch))[:-6]
            self.container_prefix[attempt_id] = prefix
        return f"{prefix}{n:06d}"

    def apply_allocation(self, alloc: Allocation) -> None:
        app = self.apps[alloc.app_id]
        attempt = app.current
        node = self.nodes[alloc.node_id]
        assert attempt is not None
        cid = self._new_container_id(attempt.attempt_id)
        # trusted(): every field comes from validated records, and this runs per container.
        container = trusted(Container, id=cid, node_id=node.node_id, node_http_address=node.http_address,
                            resource=alloc.resource, priority=alloc.priority,
                            allocation_request_id=alloc.allocation_request_id, exec_type=GUARANTEED)
        rc = RMContainer(container=container, app_id=app.app_id, attempt_id=attempt.attempt_id,
                         is_am=alloc.is_am, start_time=now_ms(),
                         state=CONTAINER_MACHINE.next(RMContainerState.NEW, ContainerEvent.START),
                         token=creds.derive(self.master_key, "container", cid))
        self.containers[cid] = rc
        self.unlaunched[cid] = rc.start_time
        self.out.containers[cid] = trusted(ContainerGrant, **container.__dict__,
                                           token_digest=creds.digest(rc.token))
        node.containers.append(cid)
        node.used = self.sched_nodes[node.node_id].used
        app.nodes_used.add(node.node_id)
        self.containers_allocated_total += 1
        if alloc.is_am:
            attempt.am_container_id = cid
            attempt.am_node_id = node.node_id
            attempt.am_node_http = node.http_address
            self._attempt_event(attempt, AttemptEvent.CONTAINER_ALLOCATED)
            if not app.launch_time:
                app.launch_time = now_ms()
            self._launch_am(app, attempt, container)
        else:
            attempt.new_containers.append(container)
        self.out.apps.add(app.app_id)
        self.out.nodes.add(node.node_id)

    def container_launched(self, rc: RMContainer) -> None:
        """Its node reports it running: allocation expiry no longer watches it."""
        if rc.state is not RMContainerState.RUNNING:
            rc.state = CONTAINER_MACHINE.next(rc.state, ContainerEvent.LAUNCHED)
        rc.recovered = False
        self.unlaunched.pop(rc.container.id, None)

    def complete_container(self, cid: str, exit_status: int, diagnostics: str) -> None:
        rc = self.containers.pop(cid, None)
        if rc is None:
            return
        self.unlaunched.pop(cid, None)
        rc.state = RMContainerState.COMPLETED
        rc.exit_status = exit_status
        rc.diagnostics = diagnostics
        rc.finish_time = now_ms()
        self.out.containers[cid] = None
        res = rc.container.resource
        node = self.nodes.get(rc.container.node_id)
        snode = self.sched_nodes.get(rc.container.node_id)
        if snode is not None:
            snode.used = snode.used - res
        if node is not None:
            if cid in node.containers:
                node.containers.remove(cid)
            node.used = snode.used if snode is not None else node.used - res
            self.out.nodes.add(node.node_id)
        sapp = self.sched_apps.get(rc.app_id)
        if sapp is not None:
            sapp.used = sapp.used - res
            if rc.is_am:
                sapp.am_active = False
        self.needs_schedule = True
        app = self.apps.get(rc.app_id)
        if app is None:
            return
        app.finished_containers.append(rc)
        if len(app.finished_containers) > 2 * FINISHED_CONTAINERS_KEPT:
            del app.finished_containers[:-FINISHED_CONTAINERS_KEPT]
        seconds = max(0, rc.finish_time - rc.start_time) // 1000
        app.memory_seconds += res.memory * seconds
        app.vcore_seconds += res.vcores * seconds
        self.out.apps.add(app.app_id)
        attempt = next((a for a in app.attempts if a.attempt_id == rc.attempt_id), None)
        if attempt is None:
            return
        if rc.is_am:
            self._am_container_finished(app, attempt, exit_status, diagnostics)
        elif attempt is app.current and not ATTEMPT_MACHINE.is_final(attempt.state):
            attempt.completed.append(ContainerStatus(container_id=cid, state=ContainerState.COMPLETE,
                                                     exit_status=exit_status, diagnostics=diagnostics))

    def _am_container_finished(self, app: RMApp, attempt: RMAttempt, exit_status: int, diagnostics: str) -> None:
        attempt.exit_status = exit_status
        if APP_MACHINE.is_final(app.state) or ATTEMPT_MACHINE.is_final(attempt.state):
            return
        if attempt.state is AttemptState.FINISHING:
            self._attempt_event(attempt, AttemptEvent.CONTAINER_FINISHED)
            attempt.finish_time = now_ms()
            state = A.KILLED if app.kill_requested_ms else A.FINISHED
            final = FinalApplicationStatus.KILLED if app.kill_requested_ms else attempt.final_status
            self._finish_app(app, state, final, attempt.diagnostics)
            return
        if app.kill_requested_ms:
            self._finish_app(app, A.KILLED, FinalApplicationStatus.KILLED, app.diagnostics)
            return
        self._attempt_event(attempt, AttemptEvent.CONTAINER_FINISHED)
        url = f"{self.web_address}/cluster/app/{app.app_id}"
        reason = (f"AM Container for {attempt.attempt_id} exited with  exitCode: {exit_status}\n"
                  f"Failing this attempt.Diagnostics: {diagnostics}\n"
                  f"For more detailed output, check the application tracking page: {url} "
                  "Then click on links to logs of each attempt.\n")
        self.attempt_failed(app, attempt, reason)

    def _stop_container(self, cid: str, exit_status: int, diagnostics: str) -> None:
        rc = self.containers.get(cid)
        if rc is None:
            return
        self._send_nm(rc.container.node_id, StopContainer(container_id=cid, exit_status=int(exit_status),
                                                          diagnostics=diagnostics,
                                                          container_token=self.container_token(cid)))

    def _send_nm(self, node_id: str, command: Msg) -> None:
        self.out.messages.append((keys.nm_commands(node_id), command.model_dump_json()))

    # ---- nodes --------------------------------------------------------------------------

    def node_lost(self, node: RMNode, state: NodeState, why: str) -> None:
        log.info("Deactivating Node %s as it is now %s", node.node_id, state.value)
        node.state = state
        snode = self.sched_nodes.get(node.node_id)
        if snode is not None:
            snode.schedulable = False
        for cid in list(node.containers):
            self.complete_container(cid, ContainerExitStatus.ABORTED, why)
        self.out.nodes.add(node.node_id)

    def node_event(self, node: RMNode, event: NodeEvent) -> None:
        node.state = NODE_MACHINE.next(node.state, event)
        self.out.nodes.add(node.node_id)

    # ---- liveness -----------------------------------------------------------------------

    def expire_allocations(self, now: int) -> None:
        """YARN's ContainerAllocationExpirer: a grant its AM never acquired, or acquired and never launched,
        within the expiry interval goes back to the scheduler. One never acquired also gives its ask back
        (the AM never learned of it, so it still waits for it), as YARN recovers the request."""
        expired = []
        for cid, granted in self.unlaunched.items():
            if now - granted <= self.allocation_expiry_ms:
                break  # oldest first: the rest are younger
            expired.append(cid)
        for cid in expired:
            self.unlaunched.pop(cid, None)
            rc = self.containers.get(cid)
            if rc is None:
                continue
            log.info("%s Container Transitioned from %s to EXPIRED (not launched within %d ms)", cid,
                     rc.state.value, self.allocation_expiry_ms)
            if rc.state is RMContainerState.ALLOCATED and not rc.is_am:
                self._recover_request(rc)
            self._stop_container(cid, ContainerExitStatus.ABORTED, "Container expired since it was unused")
            self.complete_container(cid, ContainerExitStatus.ABORTED, "Container expired since it was unused")

    def _recover_request(self, rc: RMContainer) -> None:
        """Give an app back the ask a container it never acquired satisfied (YARN's
        recoverResourceRequestsForContainer), and take the container out of its next allocate."""
        app = self.apps.get(rc.app_id)
        sapp = self.sched_apps.get(rc.app_id)
        attempt = app.current if app is not None else None
        if app is None or sapp is None or attempt is None or attempt.attempt_id != rc.attempt_id:
            return
        attempt.new_containers = [c for c in attempt.new_containers if c.id != rc.container.id]
        c = rc.container
        key = (c.priority, ANY, c.resource.memory, c.resource.vcores)
        row = sapp.asks.get(key)
        if row is None:
            sapp.set_ask(ResourceRequest(priority=c.priority, resource_name=ANY, capability=c.resource,
                                         num_containers=1, allocation_request_id=c.allocation_request_id))
        else:
            row.num_containers += 1
        attempt.asks = [a.model_copy() for a in sapp.asks.values()]
        self.out.apps.add(app.app_id)
        self.needs_schedule = True

    def observation_gap(self, gap_ms: int, now: int) -> None:
        """The loop could not see heartbeats for `gap_ms` (Redis paused or down, so NMs and AMs could not
        send them either): every node and AM gets a fresh liveness window, as after a restart. Expiring them
        for the RM's own blindness killed every container of a cluster whose Redis paused 20 s."""
        log.warning("No heartbeats could be read for %.1fs; giving every NodeManager and ApplicationMaster a "
                    "fresh liveness window", gap_ms / 1000)
        for node in self.nodes.values():
            node.last_heartbeat_ms = max(node.last_heartbeat_ms, now)
        for app in self.apps.values():
            attempt = app.current
            if attempt is not None and not ATTEMPT_MACHINE.is_final(attempt.state):
                attempt.last_heartbeat_ms = max(attempt.last_heartbeat_ms, now)

    def check_liveness(self, now: int) -> None:
        self.expire_allocations(now)
        for node in self.nodes.values():
            if node.state in ACTIVE_STATES and now - node.last_heartbeat_ms > self.nm_expiry_ms:
                self.node_lost(node, NODE_MACHINE.next(node.state, NodeEvent.EXPIRE),
                               "Container released on a *lost* node")
        for app in list(self.apps.values()):
            attempt = app.current
            if attempt is None or APP_MACHINE.is_final(app.state):
                continue
            if app.kill_requested_ms and now - app.kill_requested_ms > KILL_GRACE_MS:
                self._finish_app(app, A.KILLED, FinalApplicationStatus.KILLED, app.diagnostics)
            elif attempt.state is AttemptState.FINISHING and now - attempt.last_heartbeat_ms > AM_EXIT_GRACE_MS:
                self._stop_container(attempt.am_container_id, ContainerExitStatus.KILLED_AFTER_APP_COMPLETION,
                                     "AM did not exit after unregistering")
                self.complete_container(attempt.am_container_id,
                                        ContainerExitStatus.KILLED_AFTER_APP_COMPLETION, "")
                if not APP_MACHINE.is_final(app.state):
                    self._finish_app(app, A.FINISHED, attempt.final_status, attempt.diagnostics)
            elif attempt.state in (AttemptState.LAUNCHED, AttemptState.RUNNING) and \
                    now - attempt.last_heartbeat_ms > self.am_expiry_ms:
                log.info("Expired:%s Timed out after %d secs", attempt.attempt_id, self.am_expiry_ms // 1000)
                self._attempt_event(attempt, AttemptEvent.EXPIRE)
                self.attempt_failed(app, attempt, f"ApplicationMaster for attempt {attempt.attempt_id} timed out")

    # ---- scheduling ---------------------------------------------------------------------

    def schedule(self) -> None:
        self.needs_schedule = False
        self._headroom = None
        pending: list[SchedulerApp] = []
        others: list[SchedulerApp] = []
        for a in self.sched_apps.values():
            (pending if a.has_pending() else others).append(a)
        if not pending:
            return
        result = self.scheduler.schedule(list(self.sched_nodes.values()), pending, others)
        for alloc in result.allocations:
            self.apply_allocation(alloc)
        if result.truncated:
            # The rest goes out in the next pass, after the AMs waiting now are answered.
            self.needs_schedule = True
        for sapp in pending:
            app = self.apps[sapp.app_id]
            if result.truncated and sapp.app_id not in result.reasons:
                continue
            reason = result.reasons.get(sapp.app_id, "")
            if reason != app.pending_reason:
                app.pending_reason = reason
                if sapp.am_pending and reason:
                    app.diagnostics = f"[{time.strftime('%a %b %d %H:%M:%S %z %Y')}] {reason}"
                self.out.apps.add(app.app_id)

    # ---- state machine helpers ----------------------------------------------------------

    def _app_event(self, app: RMApp, event: AppEvent) -> None:
        app.state = APP_MACHINE.next(app.state, event)
        self.out.apps.add(app.app_id)

    def _attempt_event(self, attempt: RMAttempt, event: AttemptEvent) -> None:
        attempt.state = ATTEMPT_MACHINE.next(attempt.state, event)

    # ---- persistence --------------------------------------------------------------------

    def app_record(self, app: RMApp) -> str:
        """The app as stored, with its attempt's asks as the scheduler holds them now: less what it granted
        since the AM last changed them. Stored as the AM last sent them, a restarted RM granted those
        containers a second time."""
        sapp = self.sched_apps.get(app.app_id)
        attempt = app.current
        if sapp is not None and attempt is not None and not APP_MACHINE.is_final(app.state):
            attempt.asks = list(sapp.asks.values())
        return app.model_dump_json()

    def flush_replies(self) -> None:
        if not self.out.replies:
            return
        replies, self.out.replies = self.out.replies, []
        acquired, self.out.acquired_apps = self.out.acquired_apps, set()
        pipe = self.redis.pipeline(transaction=False)
        # Apps whose AM is handed containers now are stored first: a restart after the answer must find
        # those containers acquired (see recovery.py), not granted-and-unacquired.
        records = {keys.app(a): self.app_record(app) for a in acquired if (app := self.apps.get(a)) is not None}
        if records:
            pipe.mset(records)
        for key, payload in replies:
            pipe.rpush(key, payload)
            pipe.expire(key, keys.REPLY_TTL_S)
        try:
            pipe.execute()
        except redis.RedisError:
            self.out.replies[:0] = replies
            self.out.acquired_apps |= acquired
            raise

    def flush(self) -> None:
        out = self.out
        if not (out.apps or out.nodes or out.containers or out.messages or out.replies or out.log_nodes
                or out.users_created or out.users_deleted or out.acquired_apps or out.apps_removed):
            return
        self.out = Outbox()
        try:
            self._write(out)
        except redis.RedisError:
            self.out.put_back(out)
            raise

    def _write(self, out: Outbox) -> None:
        pipe = self.redis.pipeline(transaction=False)
        if out.users_created or out.users_deleted:
            amrm_users.queue_changes(pipe, out.users_created, out.users_deleted, self.acl_save)
        # One MSET / DEL per kind of record: per-command overhead, not Redis, bounds a busy batch.
        records: dict[str, str] = {}
        seqs: dict[str, int] = {}
        for app_id in out.apps | out.acquired_apps:
            app = self.apps.get(app_id)
            if app is not None:
                records[keys.app(app_id)] = self.app_record(app)
                seqs[app_id] = app.seq
        for node_id in out.nodes:
            node = self.nodes.get(node_id)
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
        for result in pipe.execute(raise_on_error=False):
            if isinstance(result, redis.ResponseError):
                log.warning("Redis refused a write of this batch: %s", result)
