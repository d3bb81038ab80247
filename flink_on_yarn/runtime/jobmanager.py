"""The JobManager process: dispatcher + resource manager + RPC endpoint for TaskManagers + REST.

    python -m flink_on_yarn.runtime.jobmanager [-D key=value]... [--address-file F] [--python FILE [args]]

`rest.port` / `jobmanager.rpc.port` 0 pick free ports; the chosen addresses are printed and written to
`--address-file` as JSON. With `--python` it is an application cluster: it runs the program's main and exits
when the program's jobs are done. Embedders (the YARN ApplicationMaster) construct `JobManager(config, driver)`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import socket
import sys
import threading
from pathlib import Path
from typing import Any

import uvicorn

from flink_on_yarn.common.config import Configuration, bind_address, parse_dynamic
from flink_on_yarn.runtime import rpc
from flink_on_yarn.runtime.dispatcher import Dispatcher
from flink_on_yarn.runtime.messages import (
    FOR_JOBMANAGER,
    AcknowledgeCheckpoint,
    DeclineCheckpoint,
    Disconnect,
    FileText,
    Heartbeat,
    Register,
    Registered,
    Shutdown,
    TaskState,
)
from flink_on_yarn.runtime.resource_manager import ResourceManager, TaskManagerRecord
from flink_on_yarn.runtime.rest import create_app
from flink_on_yarn.runtime.rest_applications import ProgramApplication
from flink_on_yarn.runtime.worker_driver import StandaloneWorkerDriver, WorkerDriver
from flink_on_yarn.security import handshake
from flink_on_yarn.security import secret as cluster_secret

log = logging.getLogger("flink_on_yarn.jobmanager")


def _host_port(sockname: tuple[Any, ...]) -> str:
    return f"{sockname[0]}:{sockname[1]}"


def listening_note(advertised: str, bound: str) -> str:
    """What a start-up line adds when the address clients are told (`host:port`) is not the one the socket
    listens on (`localhost` is loopback's name).

    >>> listening_note("localhost:8081", "0.0.0.0:8081"), listening_note("localhost:8081", "127.0.0.1:8081")
    (', listening on 0.0.0.0:8081', '')
    """
    if not bound or advertised.replace("localhost:", "127.0.0.1:", 1) == bound:
        return ""
    return f", listening on {bound}"


class JobManager:
    """`secret` is the cluster's (see flink_on_yarn.security.secret): TaskManagers prove they hold it before
    they are heard, and REST callers present it as `Authorization: Bearer`."""

    def __init__(self, config: Configuration, driver: WorkerDriver | None = None, secret: bytes | None = None,
                 trusted_origins: list[str] | None = None) -> None:
        self.config = config
        self.secret = secret if secret is not None else cluster_secret.load(config)
        # Origins besides its own whose state-changing requests the REST API takes: the RM's, whose proxy
        # serves the dashboard on YARN.
        self.trusted_origins = list(trusted_origins or [])
        self.rm = ResourceManager(config, driver or StandaloneWorkerDriver())
        self.dispatcher = Dispatcher(config, self.rm, self.secret, cluster_secret.state_secret(self.secret))
        self.rpc_host = config.get("jobmanager.rpc.address")
        self.rpc_port = 0
        self.rest_port = 0
        self.rest_url = ""
        # Where the sockets listen (host:port), which start-up lines name when it is not what clients are told.
        self.rpc_bound = ""
        self.rest_bound = ""
        self._rpc_server: asyncio.base_events.Server | None = None
        self._uvicorn: uvicorn.Server | None = None
        self._serve_task: asyncio.Task[None] | None = None
        self.stopped = asyncio.Event()
        # Set by REST `DELETE /cluster` (Flink's cluster shutdown); whoever runs the JobManager decides how to stop.
        self.shutdown_requested = asyncio.Event()
        # An application cluster's program (REST `/applications`); None in a session cluster.
        self.application: ProgramApplication | None = None
        # Each TaskManager's process figures from its last heartbeat (its own and its task processes').
        self.tm_figures: dict[str, dict[str, float]] = {}

    async def start(self, rpc_sock: socket.socket | None = None, rest_sock: socket.socket | None = None) -> None:
        """Binds the configured ports, or serves sockets an embedder bound earlier (the YARN AM does, to
        register and start TaskManagers before this code is even imported)."""
        await self.rm.start()
        if rpc_sock is not None:
            self._rpc_server = await asyncio.start_server(self._on_taskmanager, sock=rpc_sock)
        else:
            self._rpc_server = await asyncio.start_server(self._on_taskmanager,
                                                          bind_address(self.config, "jobmanager.bind-host"),
                                                          self.config.get_int("jobmanager.rpc.port"))
        self.rpc_port = self._rpc_server.sockets[0].getsockname()[1]
        self.rpc_bound = _host_port(self._rpc_server.sockets[0].getsockname())
        # IPPROTO_TCP: asyncio turns on TCP_NODELAY only for sockets that say TCP (else Nagle adds 40 ms a reply).
        sock = rest_sock or socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        if rest_sock is None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((bind_address(self.config, "rest.bind-address"), self.config.get_int("rest.port")))
        self.rest_port = sock.getsockname()[1]
        self.rest_bound = _host_port(sock.getsockname())
        rest_host = self.config.get("rest.address") or self.rpc_host
        self.rest_url = f"http://{rest_host}:{self.rest_port}"
        uv_config = uvicorn.Config(create_app(self), log_level="warning", lifespan="off")
        self._uvicorn = uvicorn.Server(uv_config)
        self._serve_task = asyncio.create_task(self._uvicorn.serve(sockets=[sock]))
        while not self._uvicorn.started:
            await asyncio.sleep(0.01)

    def listening_lines(self) -> list[str]:
        """Flink's start-up lines, with the bound address when it differs from the advertised one (a wildcard
        bind, or `rest.bind-address` beyond `jobmanager.rpc.address`)."""
        rest = self.rest_url.split("://", 1)[-1]
        return [f"Rest endpoint listening at {self.rest_url}{listening_note(rest, self.rest_bound)}",
                f"JobManager RPC listening at {self.rpc_host}:{self.rpc_port}"
                f"{listening_note(f'{self.rpc_host}:{self.rpc_port}', self.rpc_bound)}"]

    def addresses(self) -> dict[str, Any]:
        return {"rest": self.rest_url, "rpc": f"{self.rpc_host}:{self.rpc_port}", "pid": os.getpid()}

    async def stop(self) -> None:
        await self.dispatcher.stop()
        for tm in list(self.rm.taskmanagers.values()):
            await tm.gateway.tell(Disconnect(reason="JobManager is shutting down"))
        await self.rm.stop()
        if self._rpc_server is not None:
            self._rpc_server.close()
        if self._uvicorn is not None:
            self._uvicorn.should_exit = True
        if self._serve_task is not None:
            await asyncio.wait([self._serve_task], timeout=5)
        self.stopped.set()

    async def _on_taskmanager(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One TaskManager's connection: the handshake, registration, then heartbeats, task states and replies."""
        host_port = writer.get_extra_info("peername") or ("?", "?")
        peer = f"{host_port[0]}:{host_port[1]}"
        try:
            await handshake.serve(reader, writer, self.secret)
        except (handshake.HandshakeError, OSError) as e:
            log.warning("Refused a connection to the JobManager's RPC port from %s: %s", peer, e)
            writer.close()
            return
        hello = await rpc.recv(reader, FOR_JOBMANAGER, peer)
        if not isinstance(hello, Register):
            writer.close()
            return
        gateway = rpc.Gateway(writer)
        tm_id = hello.id
        refused = self.rm.driver.refusal(tm_id)
        if refused is not None:
            log.warning("Discard registration from TaskExecutor %s at (%s) because the framework did not recognize "
                        "it: %s", tm_id, peer, refused)
            await gateway.tell(Shutdown(reason=f"Registration of TaskExecutor {tm_id} declined: {refused}"))
            writer.close()
            return
        if tm_id in self.rm.taskmanagers:
            self.rm.unregister(tm_id, "TaskManager re-registered")
        host = hello.host or peer.rsplit(":", 1)[0]
        record = TaskManagerRecord(id=tm_id, host=host, slots=hello.slots, gateway=gateway, pid=hello.pid,
                                   hardware=dict(hello.hardware))
        await gateway.tell(Registered(heartbeat_interval_ms=self.config.get_duration_ms("heartbeat.interval")))
        self.rm.register(record)
        log.info("TaskManager %s registered from %s with %d slots", tm_id, host, record.slots)
        while True:
            msg = await rpc.recv(reader, FOR_JOBMANAGER, peer)
            if msg is None:
                break
            if isinstance(msg, Heartbeat):
                self.rm.heartbeat(tm_id)
                if msg.metrics is not None:
                    self.tm_figures[tm_id] = msg.metrics
            elif isinstance(msg, TaskState):
                self.rm.heartbeat(tm_id)
                self.dispatcher.on_task_state(msg)
            elif isinstance(msg, FileText):
                gateway.on_reply(msg)
            elif isinstance(msg, (AcknowledgeCheckpoint, DeclineCheckpoint)):
                self.dispatcher.on_checkpoint_report(msg, tm_id)
        if self.rm.taskmanagers.get(tm_id) is record:
            self.rm.unregister(tm_id, f"TaskManager {tm_id} disconnected")
            self.tm_figures.pop(tm_id, None)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="jobmanager", description="Run a Flink JobManager in the foreground.")
    p.add_argument("-D", dest="dynamic", action="append", default=[], metavar="key=value")
    p.add_argument("--configDir", "--config-dir", dest="config_dir", default=None)
    p.add_argument("--address-file", default=None, help="write the REST and RPC addresses here as JSON")
    p.add_argument("--python", "-py", dest="python", default=None, help="application mode: run this program")
    p.add_argument("args", nargs=argparse.REMAINDER, help="the program's arguments")
    return p.parse_args(argv)


def write_addresses(path: str | None, data: dict[str, Any]) -> None:
    if not path:
        return
    tmp = Path(path + ".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


async def serve(config: Configuration, address_file: str | None, program: str | None, args: list[str]) -> int:
    try:
        jm = JobManager(config)
    except cluster_secret.SecretError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    await jm.start()
    print("\n".join(jm.listening_lines()), flush=True)
    write_addresses(address_file, jm.addresses())
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: asyncio.ensure_future(jm.stop()))
    exit_code = [0]
    if program is not None:
        from flink_on_yarn.client.application import run_application

        application = jm.application = ProgramApplication(name=Path(program).name)

        def body() -> None:
            exit_code[0] = run_application(program, args, jm.rest_url.replace("0.0.0.0", "127.0.0.1"), config,
                                           jm.secret)
            loop.call_soon_threadsafe(application.finish, exit_code[0])
            asyncio.run_coroutine_threadsafe(jm.stop(), loop)

        threading.Thread(target=body, name="application-main", daemon=True).start()
    shutdown = asyncio.ensure_future(jm.shutdown_requested.wait())
    stopped = asyncio.ensure_future(jm.stopped.wait())
    await asyncio.wait([shutdown, stopped], return_when=asyncio.FIRST_COMPLETED)
    if not jm.stopped.is_set():
        await jm.stop()
    shutdown.cancel()
    return exit_code[0]


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s - %(message)s")
    ns = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        config = Configuration.load(parse_dynamic(ns.dynamic), Path(ns.config_dir) if ns.config_dir else None)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    args = [a for a in ns.args if a != "--"]
    return asyncio.run(serve(config, ns.address_file, ns.python, args))


if __name__ == "__main__":
    sys.exit(main())
