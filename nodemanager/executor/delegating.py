"""Per-container runtime choice (YARN's DelegatingLinuxContainerRuntime): a launch context with
`YARN_CONTAINER_RUNTIME_TYPE=docker` runs in Docker, `default` as a child process, and one that says
nothing runs with the NM's `--executor`. Runtimes other than the NM's own are made on first use, so a
process NM never connects to Docker unless a container asks for it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from nodemanager.executor.base import ContainerExecutor, ContainerProcess, Inherited, LaunchSpec
from nodemanager.executor.docker_spec import RUNTIME_TYPE, requested_runtime

if TYPE_CHECKING:
    from nodemanager.context import NMContext

# YARN's runtime names for our executors: "default" is the process executor.
RUNTIME_OF = {"process": "default", "docker": "docker"}


class DelegatingExecutor(ContainerExecutor):
    def __init__(self, default: ContainerExecutor, factories: Mapping[str, Callable[[], ContainerExecutor]]) -> None:
        self.default = default
        self.name = default.name
        self.monitored = default.monitored  # containers of another runtime report no usage() when unmonitored
        self.factories = dict(factories)
        self.made: dict[str, ContainerExecutor] = {RUNTIME_OF.get(default.name, default.name): default}
        self.ctx: NMContext | None = None
        self._lock = threading.Lock()

    def prepare(self, ctx: NMContext) -> None:
        self.ctx = ctx
        self.default.prepare(ctx)

    def select(self, launch_env: Mapping[str, str]) -> ContainerExecutor:
        runtime = requested_runtime(launch_env)
        if runtime is None:
            return self.default
        with self._lock:
            executor = self.made.get(runtime)
            if executor is None:
                executor = self.factories[runtime]()
                if self.ctx is not None:
                    executor.prepare(self.ctx)
                self.made[runtime] = executor
        return executor

    def runtime(self, name: str) -> ContainerExecutor | None:
        runtime = RUNTIME_OF.get(name, name)
        if runtime not in self.made and runtime not in self.factories:
            return None
        return self.select({RUNTIME_TYPE: runtime})

    def release(self) -> None:
        with self._lock:
            made = list(self.made.values())
        for executor in made:
            executor.release()

    def sweep(self, keep: set[str]) -> int:
        with self._lock:
            made = list(self.made.values())
        return sum(executor.sweep(keep) for executor in made)

    def inherited(self, launch_env: Mapping[str, str]) -> Inherited:
        return self.select(launch_env).inherited(launch_env)

    def launch(self, spec: LaunchSpec) -> ContainerProcess:
        return self.select(spec.launch_env).launch(spec)
