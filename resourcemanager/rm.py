"""The ResourceManager: its context (context.py) behind one lock, with the entry points the REST layer,
the inbox loop and recovery call. A thin facade over YARN's parts:

- context.py: RMContext (apps, nodes, containers, scheduler mirrors, the outbox) and the RM's limits
- app_transitions.py: RMApp and RMAppAttempt transitions (submit, kill, attempts, the end of an app)
- container_transitions.py, node_transitions.py: RMContainer and RMNode transitions
- liveness.py (NM and AM liveness), allocation_expiry.py, launcher.py (the AM launcher)
- scheduling.py: queues, limits, headroom and the scheduling pass
- secret_managers.py: the tokens derived from the master key
- store.py: the only Redis writer (`flush`, `flush_replies`, recovery's reads)
- services.py: the inbox's messages (ResourceTrackerService, ApplicationMasterService)

Transitions mutate the context and its outbox; callers hold the lock and flush. A REST call (`submit`,
`kill`) flushes its own writes; the inbox loop flushes each batch.
"""

from __future__ import annotations

import threading

import redis

from miniyarn import redisconn
from miniyarn.config import YarnConfiguration
from miniyarn.records import ApplicationSubmissionContext, Resource
from miniyarn.security import credentials as creds
from miniyarn.states.application import AppEvent, YarnApplicationState
from miniyarn.states.attempt import AttemptEvent
from miniyarn.states.container import ContainerEvent
from miniyarn.states.node import NodeEvent
from resourcemanager import (
    allocation_expiry,
    app_transitions,
    container_transitions,
    launcher,
    liveness,
    node_transitions,
    scheduling,
    secret_managers,
)
from resourcemanager.context import RMContext
from resourcemanager.ha.fence import Fence
from resourcemanager.rmstate import RMApp, RMAttempt, RMContainer, RMNode
from resourcemanager.store import RMStore


class ResourceManager(RMContext):
    def __init__(self, conf: YarnConfiguration, client: redis.Redis, web_address: str = "",
                 credentials: creds.Credentials | None = None) -> None:
        super().__init__(conf, web_address, credentials)
        self.redis = client  # for reads (logs, staging); writes go through self.store
        # Where the AMs meet the RM: its own Redis (or its Sentinels), with no credential (each AM gets its
        # attempt's own).
        self.redis_location = redisconn.location(client)
        self.lock = threading.RLock()
        self.store = RMStore(self, client)

    @property
    def acl_save(self) -> bool:
        return self.store.acl_save

    @acl_save.setter
    def acl_save(self, value: bool) -> None:
        self.store.acl_save = value

    @property
    def fence(self) -> Fence:
        """The store's write fence (RM HA swaps it when this RM becomes active or standby)."""
        return self.store.fence

    @fence.setter
    def fence(self, value: Fence) -> None:
        self.store.fence = value

    # ---- the store ----------------------------------------------------------------------------

    def flush(self) -> None:
        self.store.flush()

    def flush_replies(self) -> None:
        self.store.flush_replies()

    def app_record(self, app: RMApp) -> str:
        return self.store.app_record(app)

    # ---- client side: new application, submit, kill ---------------------------------------------

    def new_application(self, owner: str = "") -> str:
        """A fresh application id, reserved for `owner` (the authenticated asker) when one is given."""
        with self.lock:
            while (app_id := app_transitions.reserve_app_id(self, self.store.next_app_seq(), owner)) is None:
                pass
            return app_id

    def submit(self, ctx: ApplicationSubmissionContext, user: str) -> RMApp:
        with self.lock:
            app = app_transitions.submit(self, ctx, user)
            self.flush()
            return app

    def kill(self, app_id: str, diagnostics: str = "") -> RMApp:
        with self.lock:
            app = app_transitions.kill(self, app_id, diagnostics)
            self.flush()
            return app

    def get_app(self, app_id: str) -> RMApp:
        return app_transitions.get_app(self, app_id)

    # ---- the inbox loop's clock ------------------------------------------------------------------

    def schedule(self) -> None:
        scheduling.schedule(self)

    def check_liveness(self, now: int) -> None:
        liveness.check_liveness(self, now)

    def observation_gap(self, gap_ms: int, now: int) -> None:
        liveness.observation_gap(self, gap_ms, now)

    def expire_allocations(self, now: int) -> None:
        allocation_expiry.expire_allocations(self, now)

    # ---- tokens and limits -------------------------------------------------------------------------

    def client_to_am_secret(self, app_id: str) -> str:
        return secret_managers.client_to_am_secret(self, app_id)

    def amrm_token(self, attempt_id: str) -> str:
        return secret_managers.amrm_token(self, attempt_id)

    def container_token(self, container_id: str) -> str:
        return secret_managers.container_token(self, container_id)

    def am_redis_url(self, attempt_id: str) -> str:
        return secret_managers.am_redis_url(self, attempt_id)

    def recreate_attempt_users(self) -> int:
        with self.lock:
            return secret_managers.recreate_attempt_users(self)

    def store_again(self) -> int:
        with self.lock:
            return container_transitions.store_again(self)

    def launch_again(self) -> int:
        with self.lock:
            return launcher.launch_again(self)

    def effective_max(self) -> Resource:
        return scheduling.effective_max(self)

    def normalize(self, req: Resource, limit: Resource | None = None) -> Resource:
        return scheduling.normalize(self, req, limit)

    def headroom(self) -> tuple[Resource, int]:
        return scheduling.headroom(self)

    # ---- transitions, for callers that hold the lock ------------------------------------------------

    def app_event(self, app: RMApp, event: AppEvent, target: YarnApplicationState | None = None) -> bool:
        return app_transitions.app_event(self, app, event, target)

    def attempt_event(self, attempt: RMAttempt, event: AttemptEvent) -> bool:
        return app_transitions.attempt_event(attempt, event)

    def node_event(self, node: RMNode, event: NodeEvent) -> bool:
        return node_transitions.node_event(self, node, event)

    def node_lost(self, node: RMNode, event: NodeEvent, why: str) -> None:
        node_transitions.node_lost(self, node, event, why)

    def container_launched(self, rc: RMContainer) -> None:
        container_transitions.container_launched(self, rc)

    def complete_container(self, cid: str, exit_status: int, diagnostics: str,
                           event: ContainerEvent = ContainerEvent.FINISHED) -> None:
        container_transitions.complete_container(self, cid, exit_status, diagnostics, event)

    def app_completed(self, app_id: str) -> None:
        app_transitions.app_completed(self, app_id)
