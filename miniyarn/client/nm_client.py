"""NMClient: how an ApplicationMaster starts and stops its containers on their NodeManagers.

The command goes on the NM's Redis command list with the container's token (from the allocate
response); the NM checks it against the digest in the grant the RM stored before it starts anything,
and against the one it kept at the start before it stops anything, as an NM checks a container token.
"""

from __future__ import annotations

import logging
import threading

import redis

from miniyarn import config, keys
from miniyarn.exit_status import ContainerExitStatus
from miniyarn.protocol import StartContainer, StopContainer
from miniyarn.records import Container, ContainerLaunchContext
from miniyarn.redisconn import is_sentinel, ride_out

log = logging.getLogger(__name__)


class NMTokenCache:
    """Container tokens by container id, filled by AMRMClient from each allocate response and read by
    NMClient: one per process by default (`TOKENS`), as YARN's NMTokenCache.getSingleton()."""

    def __init__(self) -> None:
        self._tokens: dict[str, str] = {}
        self._lock = threading.Lock()

    def put(self, tokens: dict[str, str]) -> None:
        with self._lock:
            self._tokens.update(tokens)

    def get(self, container_id: str) -> str:
        with self._lock:
            return self._tokens.get(container_id, "")

    def forget(self, container_id: str) -> None:
        with self._lock:
            self._tokens.pop(container_id, None)


TOKENS = NMTokenCache()


class NMClient:
    """Each command is pushed again while Redis cannot take it, within yarn.resourcemanager.connect.max-wait.ms
    (as the AMRM calls): an AM whose start met a Redis failover crashed with a ConnectionError, its app a
    failed attempt. A push repeated after a lost answer can reach the NM twice: it ignores the start of a
    container it runs, and a second stop changes nothing."""

    def __init__(self, client: redis.Redis, user: str = "", tokens: NMTokenCache | None = None,
                 max_wait_ms: int | None = None) -> None:
        self.redis = client
        self.user = user
        self.tokens = tokens or TOKENS
        self.max_wait_s = config.connect_max_wait_s(max_wait_ms)

    def _push(self, what: str, node_id: str, payload: str) -> None:
        ride_out(what, lambda: self.redis.rpush(keys.nm_commands(node_id), payload), self.max_wait_s,
                 config.RETRY_INTERVAL_S, config.SENTINEL_AUTH_GRACE_S if is_sentinel(self.redis) else 0.0, logger=log)

    def start_container(self, container: Container, launch_context: ContainerLaunchContext) -> None:
        cmd = StartContainer(container=container, launch_context=launch_context, user=self.user,
                             requested_by="ApplicationMaster", container_token=self.tokens.get(container.id))
        self._push(f"Starting {container.id}", container.node_id, cmd.model_dump_json())

    def stop_container(self, container_id: str, node_id: str,
                       diagnostics: str = "Container killed by the ApplicationMaster.") -> None:
        cmd = StopContainer(container_id=container_id, exit_status=int(ContainerExitStatus.KILLED_BY_APPMASTER),
                            diagnostics=diagnostics, container_token=self.tokens.get(container_id))
        self._push(f"Stopping {container_id}", node_id, cmd.model_dump_json())
