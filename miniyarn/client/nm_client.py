"""NMClient: how an ApplicationMaster starts and stops its containers on their NodeManagers.

The command goes on the NM's Redis command list; the NM checks the grant the RM stored for the
container before it starts anything, as an NM checks a container token.
"""

from __future__ import annotations

import redis

from miniyarn import keys
from miniyarn.exit_status import ContainerExitStatus
from miniyarn.protocol import StartContainer, StopContainer
from miniyarn.records import Container, ContainerLaunchContext


class NMClient:
    def __init__(self, client: redis.Redis, user: str = "") -> None:
        self.redis = client
        self.user = user

    def start_container(self, container: Container, launch_context: ContainerLaunchContext) -> None:
        cmd = StartContainer(container=container, launch_context=launch_context, user=self.user,
                             requested_by="ApplicationMaster")
        self.redis.rpush(keys.nm_commands(container.node_id), cmd.model_dump_json())

    def stop_container(self, container_id: str, node_id: str,
                       diagnostics: str = "Container killed by the ApplicationMaster.") -> None:
        cmd = StopContainer(container_id=container_id, exit_status=int(ContainerExitStatus.KILLED_BY_APPMASTER),
                            diagnostics=diagnostics)
        self.redis.rpush(keys.nm_commands(node_id), cmd.model_dump_json())
