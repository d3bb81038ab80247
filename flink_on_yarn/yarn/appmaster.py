"""The Flink JobManager as a YARN ApplicationMaster (Flink's YarnJobClusterEntrypoint,
YarnSessionClusterEntrypoint and YarnApplicationClusterEntryPoint in one).

    $PYTHON -m flink_on_yarn.yarn.appmaster --mode per-job|session|application
            [--job-graph job.graph] [--python program.py [-- args]]

Runs in the AM container's working directory, where the NM put `flink-conf.yaml` (and the job graph or
program). Registers with the RM (tracking URL = the JobManager's REST and dashboard), keeps the
TaskManager containers equal to the slots its jobs need, and unregisters with the final status of its
job (per-job, application) or when the session is told to stop.

The cluster secret is the application's client-to-AM secret, which the RM puts in this container's
environment and presents on `/proxy/<appId>/`: TaskManagers get it in their launch context's environment
(never on a command line), and nothing else of this container's environment (its Redis URL above all).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import math
import os
import shlex
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flink_on_yarn.common.config import Configuration, bind_address
from flink_on_yarn.graph.slots import required_slots_of
from flink_on_yarn.security import secret as cluster_secret
from flink_on_yarn.yarn import checkpoint_pointer
from flink_on_yarn.yarn.bootstrap import EarlyWorkers
from flink_on_yarn.yarn.options import (
    CONF_FILE,
    CONF_RESOURCE_ENV,
    JOB_GRAPH_FILE,
    Mode,
    application_final_status,
    final_status,
    slots_per_taskmanager,
    taskmanager_resource,
)

# The JobManager's code (FastAPI, pydantic job graphs and messages) takes about half a second to import:
# it is imported only after the AM has registered and, per job, asked for its TaskManagers, which then
# start while it imports. So is the Flink ResourceManager's (the YARN worker driver's base) and its messages.
if TYPE_CHECKING:
    from flink_on_yarn.graph.job_graph import JobGraphSpec
    from flink_on_yarn.runtime.job_master import JobMaster
    from flink_on_yarn.yarn.worker_driver import YarnWorkerDriver
from miniyarn.client.amrm_client import AMRMClient
from miniyarn.client.nm_client import NMClient
from miniyarn.ids import app_id_of
from miniyarn.records import Container, ContainerLaunchContext, LocalResource, Resource
from miniyarn.rpc import YarnRemoteError
from miniyarn.sockets import listening_socket
from miniyarn.states.application import FinalApplicationStatus

# How long a per-job cluster whose job was stopped with a savepoint waits for the client to fetch the
# savepoint's location (it polls every 100 ms): long enough for a loaded machine, short for a client gone.
STOP_RESULT_WAIT_S = 10.0

log = logging.getLogger("flink_on_yarn.yarn.ApplicationMaster")


def taskmanager_launch_context(conf_resource: str, jm_host: str, jm_rpc_port: int, slots: int, secret: bytes,
                               container: Container) -> ContainerLaunchContext:
    defines = {"jobmanager.rpc.address": jm_host, "jobmanager.rpc.port": str(jm_rpc_port),
               "taskmanager.numberOfTaskSlots": str(slots), "taskmanager.resource-id": container.id,
               # Flink's YARN driver sets the TaskManager's cores to its container's vcores.
               "taskmanager.cpu.cores": str(container.resource.vcores)}
    args = " ".join(f"-D {shlex.quote(f'{k}={v}')}" for k, v in defines.items())
    command = (f"$PYTHON -m flink_on_yarn.runtime.taskmanager --configDir . {args} -D taskmanager.host=$NM_HOST "
               "1><LOG_DIR>/taskmanager.out 2><LOG_DIR>/taskmanager.log")
    return ContainerLaunchContext(commands=[command], environment={cluster_secret.ENV: secret.decode()},
                                  local_resources={CONF_FILE: LocalResource(resource=conf_resource)})


def load_config(workdir: Path, host: str) -> Configuration:
    config = Configuration.load({}, workdir)
    # Several JobManagers may share a host: every port is picked free, as Flink on YARN does. The sockets
    # bind the container's host (rest.bind-address / jobmanager.bind-host, when the user set them).
    for key, value in {"jobmanager.rpc.address": host, "jobmanager.rpc.port": "0", "rest.address": host,
                       "rest.port": "0"}.items():
        config.set(key, value)
    return config


class MissingSecretError(RuntimeError):
    pass


def container_secret() -> bytes:
    found = os.environ.get(cluster_secret.YARN_ENV, "")
    if not found:
        raise MissingSecretError(f"${cluster_secret.YARN_ENV} is not set: this ApplicationMaster was not launched "
                                 "by a ResourceManager that gives applications their client-to-AM secret")
    return found.encode()


class ApplicationMaster:
    """Binds the JobManager's ports and registers with the RM first (light), then starts the JobManager."""

    def __init__(self, mode: Mode, config: Configuration, host: str, conf_resource: str, secret: bytes) -> None:
        self.mode = mode
        self.config = config
        self.host = host
        self.secret = secret
        self.amrm = AMRMClient()
        self.nm = NMClient(self.amrm.redis, user=os.environ.get("USER", ""))
        # Bound and listening now: TaskManagers started before the JobManager wait in the backlog.
        self.rpc_sock = listening_socket(bind_address(config, "jobmanager.bind-host"), 0)
        self.rest_sock = listening_socket(bind_address(config, "rest.bind-address"), 0)
        self.rest_port = int(self.rest_sock.getsockname()[1])
        self.rest_url = f"http://{host}:{self.rest_port}"
        rpc_port = int(self.rpc_sock.getsockname()[1])
        self.slots = slots = slots_per_taskmanager(config.as_dict())
        memory, vcores = taskmanager_resource(config.as_dict())
        self.capability = Resource(memory=memory, vcores=vcores)
        self.launch_context = lambda c: taskmanager_launch_context(conf_resource, host, rpc_port, slots, secret, c)
        # Set when YARN stops the container, or when YARN no longer knows this attempt: either way the
        # JobManager stops without unregistering (the application belongs to YARN or to a newer attempt).
        self.stop_requested = asyncio.Event()

    def make_driver(self) -> YarnWorkerDriver:
        from flink_on_yarn.yarn.worker_driver import YarnWorkerDriver

        self.driver = YarnWorkerDriver(self.config, self.amrm, self.nm, self.launch_context)
        self.driver.on_fatal = self.stop_requested.set
        return self.driver

    def register(self) -> None:
        # Flink registers its REST port as the AM's RPC port: clients find the JobManager from the report.
        reply = self.amrm.register(self.host, self.rest_port, self.rest_url)
        log.info("Registered the ApplicationMaster with the ResourceManager; maximum allocation %s",
                 reply.maximum_capability)

    def early_workers(self, graph: dict[str, Any]) -> EarlyWorkers:
        """Asks for the per-job job's TaskManagers now, from the graph's JSON (see bootstrap.py)."""
        early = EarlyWorkers(self.amrm, self.nm, self.capability, math.ceil(required_slots_of(graph) / self.slots),
                             self.launch_context, self.slots)
        early.start()
        return early

    async def start(self, graph: JobGraphSpec | None = None, early: EarlyWorkers | None = None) -> None:
        from flink_on_yarn.runtime.jobmanager import JobManager

        self.make_driver()
        # Every RM's web address (RM HA: the launching one first): whichever is active serves the proxy.
        rm_webs = [a.strip() for a in os.environ.get("MINIYARN_RM_ADDRESS", "").split(",") if a.strip()]
        self.jm = JobManager(self.config, self.driver, secret=self.secret, trusted_origins=rm_webs)
        if early is not None:
            self.driver.early = early.handover()
        self._recover_checkpoint()
        await self.jm.start(self.rpc_sock, self.rest_sock)
        print(self.jm.listening_lines()[0], flush=True)
        if graph is not None:
            self.submit(graph)
        self.driver.start_heartbeat()
        log.info("Web frontend listening at %s; the JobManager is the ApplicationMaster of this application",
                 self.jm.rest_url)

    def _recover_checkpoint(self) -> None:
        """A previous attempt's latest checkpoint (the pointer in Redis) is where this attempt's job resumes;
        each checkpoint this attempt completes moves the pointer on."""
        app_id = app_id_of(self.amrm.attempt_id)
        found = checkpoint_pointer.read(self.amrm.redis, app_id, self.amrm.max_wait_s)
        if found is not None:
            job_id, path = found
            log.info("Recovered the latest checkpoint of job %s from a previous attempt: %s", job_id, path)
            self.jm.dispatcher.recovered_checkpoints[job_id] = path
        loop = asyncio.get_running_loop()

        def moved(master: JobMaster, path: str) -> None:
            # Off the loop: a Redis round trip must not stall the JobManager's RPC and REST.
            fut = loop.run_in_executor(None, checkpoint_pointer.write, self.amrm.redis, app_id, master.job_id, path)

            def done(f: asyncio.Future[None]) -> None:
                if f.exception() is not None:
                    log.warning("Cannot write the checkpoint pointer of %s: %s", app_id, f.exception())

            fut.add_done_callback(done)

        self.jm.dispatcher.checkpoint_listeners.append(moved)

    async def finish(self, final: FinalApplicationStatus, diagnostics: str) -> None:
        try:
            await self.driver.unregister(final, diagnostics, self.jm.rest_url)
        except YarnRemoteError as e:
            if e.exception != "ApplicationAttemptNotFoundException":
                raise
            # A newer attempt owns the application now (this one's node was lost): nothing to unregister.
            log.error("Not unregistering from YARN, which no longer knows this attempt: %s", e.message)
        await self.jm.stop()

    def submit(self, graph: JobGraphSpec) -> None:
        self.job_done: asyncio.Future[JobMaster] = asyncio.get_running_loop().create_future()
        done = self.job_done
        self.jm.dispatcher.terminal_listeners.append(lambda m: None if done.done() else done.set_result(m))
        self.jm.dispatcher.submit(graph)
        log.info("Submitted job %s (%s) to the JobManager", graph.jobId, graph.jobName)

    async def _until_done_or_stopped(self, done: asyncio.Future[Any]) -> bool:
        """Waits for `done`; if YARN stops the container first, stops the JobManager and says False."""
        stop: asyncio.Future[Any] = asyncio.ensure_future(self.stop_requested.wait())
        await asyncio.wait([done, stop], return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if not done.done():
            await self.jm.stop()
            return False
        return True

    async def run_job(self, graph: JobGraphSpec) -> int:
        done = self.job_done
        if not await self._until_done_or_stopped(done):
            return 0
        master = done.result()
        state = master.status.value
        log.info("Job %s reached globally terminal state %s.", graph.jobId, state)
        if master.stopped_with_savepoint:
            # The client of `flink stop` polls for the savepoint's location: answer it before going away.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(master.stop_result_fetched.wait(), STOP_RESULT_WAIT_S)
        diagnostics = "" if state == "FINISHED" else (
            f"Job {graph.jobId} ended {state}" + (f": {master.failure_cause}" if master.failure_cause else ""))
        if state == "FAILED" and self.driver.pending_reason:
            diagnostics += f"\nTaskManager containers were still pending at YARN: {self.driver.pending_reason}"
        await self.finish(FinalApplicationStatus(final_status(state)), diagnostics)
        return 0

    async def run_application(self, program: str, args: list[str]) -> int:
        from flink_on_yarn.client.application import run_application

        loop = asyncio.get_running_loop()
        result: asyncio.Future[int] = loop.create_future()

        program_failures: list[str] = []

        def body() -> None:
            code = run_application(program, args, self.jm.rest_url, self.config, self.secret, program_failures)
            loop.call_soon_threadsafe(lambda: None if result.done() else result.set_result(code))

        threading.Thread(target=body, name="application-main", daemon=True).start()
        if not await self._until_done_or_stopped(result):
            return 0
        states = [m.status.value for m in self.jm.dispatcher.jobs.values()]
        final = application_final_status(states, result.result() == 0)
        failures = [f"Job {m.job_id} ended {m.status.value}: {m.failure_cause}"
                    for m in self.jm.dispatcher.jobs.values() if m.failure_cause]
        # Named, so that a user who submitted several applications sees which program's main this was.
        diagnostics = "" if final == "SUCCEEDED" else "; ".join(failures + program_failures) or \
            f"The main method of {os.path.basename(program)} ended with jobs {states or 'none'}"
        await self.finish(FinalApplicationStatus(final), diagnostics)
        return 0

    async def run_session(self) -> int:
        stop = asyncio.ensure_future(self.stop_requested.wait())
        shutdown = asyncio.ensure_future(self.jm.shutdown_requested.wait())
        await asyncio.wait([stop, shutdown], return_when=asyncio.FIRST_COMPLETED)
        if self.jm.shutdown_requested.is_set() and not self.stop_requested.is_set():
            log.info("Shutting down the Flink session cluster as the client asked.")
            await self.finish(FinalApplicationStatus.SUCCEEDED, "")
        else:
            await self.jm.stop()
        stop.cancel()
        shutdown.cancel()
        return 0


async def serve(ns: argparse.Namespace) -> int:
    host = os.environ.get("NM_HOST") or "127.0.0.1"
    config = load_config(Path.cwd(), host)
    try:
        secret = container_secret()
    except MissingSecretError as e:
        log.error("%s", e)
        return 2
    am = ApplicationMaster(Mode(ns.mode), config, host, os.environ.get(CONF_RESOURCE_ENV, ""), secret)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        # YARN stops the AM container (application killed): leave without unregistering, as Flink does.
        loop.add_signal_handler(sig, am.stop_requested.set)
    am.register()
    if am.mode is Mode.PER_JOB:
        text = Path(ns.job_graph).read_text()
        early = am.early_workers(json.loads(text))
        from flink_on_yarn.graph.job_graph import JobGraphSpec

        graph = JobGraphSpec.model_validate_json(text)
        await am.start(graph, early)
        return await am.run_job(graph)
    await am.start()
    if am.mode is Mode.APPLICATION:
        return await am.run_application(ns.python, [a for a in ns.args if a != "--"])
    return await am.run_session()


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s - %(message)s")
    p = argparse.ArgumentParser(prog="flink-yarn-appmaster")
    p.add_argument("--mode", choices=[m.value for m in Mode], required=True)
    p.add_argument("--job-graph", default=JOB_GRAPH_FILE)
    p.add_argument("--python", default=None)
    p.add_argument("args", nargs=argparse.REMAINDER)
    ns = p.parse_args(argv)
    if ns.mode == Mode.APPLICATION and not ns.python:
        p.error("application mode needs --python FILE")
    return asyncio.run(serve(ns))


if __name__ == "__main__":
    sys.exit(main())
