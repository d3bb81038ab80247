"""The NodeManager daemon: wires the container manager, executor, heartbeats, memory monitor,
command loop, background services (log aggregation and deletion, nodemanager.services) and web server
around one NMContext, and runs until SIGTERM/SIGINT.

On shutdown it kills every container (exit status ABORTED, -100, as YARN reports containers of a
node that goes away), uploads the logs it holds, sends a last heartbeat and NodeShutdown, exits 0.
"""

from __future__ import annotations

import json
import logging
import shutil
import signal
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path
from types import FrameType

import redis

from miniyarn import keys
from miniyarn.exit_status import ContainerExitStatus
from miniyarn.healthcheck import NM_ADDRESS_FILE
from miniyarn.protocol import ApplicationFinished, NMCommand, StartContainer, StopContainer
from miniyarn.security.http_auth import HttpAuthConfig
from miniyarn.sockets import bound_note
from miniyarn.states.application import APP_MACHINE, YarnApplicationState
from nodemanager.commands import CommandLoop
from nodemanager.container_manager import ContainerManager
from nodemanager.context import NMContext
from nodemanager.executor import ContainerExecutor
from nodemanager.health import DiskHealth
from nodemanager.heartbeat import NodeStatusUpdater
from nodemanager.logs import aggregation
from nodemanager.monitor import ContainersMonitor
from nodemanager.services import NMServices
from nodemanager.web import NodeWebApp, serve

log = logging.getLogger("nodemanager.NodeManager")

ADDRESS_FILE = NM_ADDRESS_FILE  # in the first local dir, for `--check` when --port was 0


class NodeManager:
    def __init__(self, ctx: NMContext, client: redis.Redis, executor: ContainerExecutor,
                 server: ThreadingHTTPServer, owned_root: Path | None = None,
                 auth: HttpAuthConfig | None = None) -> None:
        self.ctx = ctx
        self.redis = client
        self.server = server
        self.owned_root = owned_root  # a temp dir we made for default dirs, removed on exit
        self.stop = threading.Event()
        self.heartbeat: NodeStatusUpdater | None = None
        self.manager = ContainerManager(ctx, client, executor, on_complete=self._container_completed)
        self.heartbeat = NodeStatusUpdater(ctx, client, self.manager, self.stop)
        self.monitor = ContainersMonitor(ctx, self.manager, self.stop)
        self.commands = CommandLoop(client, ctx.node_id, self.handle, self.stop)
        self.services = NMServices(client, ctx.node_id, ctx.log_dirs, ctx.local_dirs, ctx.private_dir,
                                   ctx.conf.get_int("yarn.nodemanager.delete.debug-delay-sec", 0), self.stop)
        self.web = NodeWebApp(ctx, self.manager, lambda: self.heartbeat.last_sent_ms if self.heartbeat else 0,
                              self.monitor.rss.get, auth=auth, health=lambda: self.heartbeat.disks.last
                              if self.heartbeat else DiskHealth(healthy=True, report=""))

    def _container_completed(self) -> None:
        if self.heartbeat is not None:
            self.heartbeat.trigger()

    def handle(self, cmd: NMCommand) -> None:
        if isinstance(cmd, StartContainer):
            self.manager.start(cmd)
        elif isinstance(cmd, StopContainer):
            self.manager.stop(cmd)
        elif isinstance(cmd, ApplicationFinished):
            refused = self._not_finished(cmd.application_id)
            if refused is not None:
                log.warning("Refusing application_finished for %s: %s", cmd.application_id, refused)
                return
            self.application_finished(cmd.application_id)

    def _not_finished(self, app_id: str) -> str | None:
        """Why an application-finished command is not to be believed, or None: the RM writes the app's
        final state before it sends the command, so anyone else's is caught by reading that record."""
        raw = self.redis.get(keys.app(app_id))
        if raw is None:
            return "the ResourceManager has no record of it"
        try:
            state = YarnApplicationState(json.loads(raw).get("state"))
        except (ValueError, AttributeError, TypeError):
            return "its record in Redis has no valid state"
        if not APP_MACHINE.is_final(state):
            return f"the ResourceManager says it is {state.value}, not finished"
        return None

    def application_finished(self, app_id: str) -> None:
        log.info("Application %s transitioned from RUNNING to APPLICATION_RESOURCES_CLEANINGUP", app_id)
        self.manager.application_finished(app_id)
        # The upload and the deletion are rq jobs of the node's background services: the command loop only
        # enqueues them, so the next command does not wait for an application's logs to reach Redis.
        aggregate = self.ctx.conf.get_bool("yarn.log-aggregation-enable", True)
        if not aggregate:
            self.redis.srem(keys.app_log_nodes(app_id), self.ctx.node_id)
        self.services.application_finished(app_id, aggregate)
        log.info("Application %s transitioned from APPLICATION_RESOURCES_CLEANINGUP to FINISHED", app_id)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        log.info("RECEIVED SIGNAL %d: SIG%s", signum, signal.Signals(signum).name.removeprefix("SIG"))
        self.stop.set()
        if self.heartbeat is not None:
            self.heartbeat.trigger()  # wakes its thread, which sees the stop and ends

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        (self.ctx.local_dirs[0] / ADDRESS_FILE).write_text(self.ctx.http_address + "\n")
        self.manager.executor.prepare(self.ctx)  # before any start: e.g. Docker orphans of this node go
        # Before the first heartbeat, so it already carries the containers taken back or ended.
        previous = self.manager.recover_previous()
        if previous:
            log.info("Found %d containers of an earlier run of %s (%d running now)", len(previous), self.ctx.node_id,
                     sum(1 for c in previous if not c.is_complete))
        serve(self.server, self.web)
        assert self.heartbeat is not None
        self.heartbeat.send_once()  # register before taking commands, so the RM knows us first
        recovered = self.commands.recover()
        if recovered:
            log.info("Handled %d commands left unfinished by a previous run", recovered)
        threads = [threading.Thread(target=t, name=n, daemon=True) for t, n in (
            (self.heartbeat.run, "NodeStatusUpdater"), (self.monitor.run, "ContainersMonitor"),
            (self.commands.run, "CommandLoop"))]
        for t in threads:
            t.start()
        self.services.start()
        listening = bound_note(self.ctx.http_address, self.server.server_address)
        print(f"NodeManager {self.ctx.node_id} started, http://{self.ctx.http_address}{listening}, "
              f"{self.ctx.capability}", flush=True)
        while not self.stop.wait(0.5):
            pass
        self.shutdown(threads)
        return 0

    def shutdown(self, threads: list[threading.Thread]) -> None:
        log.info("Stopping NodeManager %s", self.ctx.node_id)
        for t in threads:
            t.join(timeout=2)  # the command loop finishes the command in hand first
        self.services.close()  # the services worker finishes the job in hand first
        assert self.heartbeat is not None
        if self.ctx.recovery_enabled and self.ctx.recovery_supervised:
            # YARN's NM with recovery (supervised): its containers keep running and the node does not
            # unregister, so the RM keeps them; the next run of this node id takes them back (process
            # containers by their pid files, Docker ones by their labels). Any other is ended as without recovery.
            self.manager.stop_all(int(ContainerExitStatus.ABORTED),
                                  f"Container killed: NodeManager {self.ctx.node_id} is shutting down.",
                                  keep_recoverable=True)
            live = sum(1 for c in self.manager.snapshot() if not c.is_complete)
            log.info("Leaving %d containers running for the next run of %s (yarn.nodemanager.recovery.enabled)",
                     live, self.ctx.node_id)
            self.heartbeat.send_once()
            self._close()
            return
        self.manager.stop_all(int(ContainerExitStatus.ABORTED),
                              f"Container killed: NodeManager {self.ctx.node_id} is shutting down.")
        self.manager.executor.release()
        for app_id in sorted({c.app_id for c in self.manager.snapshot()}):
            try:
                aggregation.aggregate(self.redis, app_id, self.ctx.node_id, self.ctx.log_dirs)
            except redis.RedisError as e:
                log.warning("Could not upload logs of %s: %s", app_id, e)
        self.heartbeat.shutdown()
        self._close()

    def _close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        if self.owned_root is not None:
            shutil.rmtree(self.owned_root, ignore_errors=True)
        log.info("NodeManager %s stopped", self.ctx.node_id)
