"""The TaskManager process: registers its slots with the JobManager, heartbeats, runs each subtask in a
process of its own, and serves its stdout/log files to the JobManager's REST API.

    python -m flink_on_yarn.runtime.taskmanager [-D key=value]... [--configDir DIR]

Keys: `jobmanager.rpc.address`, `jobmanager.rpc.port`, `taskmanager.numberOfTaskSlots`, `taskmanager.host`,
`taskmanager.bind-host` (where its tasks' input gates listen; default `taskmanager.host`),
`taskmanager.resource-id`, `taskmanager.cpu.cores` (its container's vcores, caps the cores it reports),
`taskmanager.log.dir` (else the files behind fd 1 and 2 are served). It proves
the cluster secret (flink_on_yarn.security.secret) to the JobManager, and hands it to its task processes
in their environment.
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
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flink_on_yarn.common.config import Configuration, parse_dynamic
from flink_on_yarn.common.memory import jvm_overhead_mb
from flink_on_yarn.runtime import rpc
from flink_on_yarn.runtime.hardware import cpu_cores_of, hardware
from flink_on_yarn.runtime.messages import (
    FOR_TASKMANAGER,
    AcknowledgeCheckpoint,
    Cancel,
    DeclineCheckpoint,
    Deploy,
    Disconnect,
    FileText,
    Heartbeat,
    NotifyCheckpointComplete,
    ReadFile,
    Register,
    Registered,
    Shutdown,
    TaskManagerBound,
    TaskState,
    TriggerCheckpoint,
)
from flink_on_yarn.runtime.process_metrics import thread_infos, tree_figures
from flink_on_yarn.runtime.task_deployment import DEPLOYMENT, TaskDeployment
from flink_on_yarn.runtime.task_launcher import ForkServer, TaskProcess
from flink_on_yarn.security import handshake
from flink_on_yarn.security import secret as cluster_secret

log = logging.getLogger("flink_on_yarn.taskmanager")

# The JobManager's REST answer carries at most this much of a file: the tail is what users look at.
MAX_FILE_BYTES = 4 << 20
# Every task process hashes keys alike, so all producers route a key to the same consumer.
TASK_HASH_SEED = "0"
# Task processes come from a fork server (task_forkserver.py: the runtime imported once, a fork per
# deployment in milliseconds), so a deployment, and so a restart after a failure, does not wait a second of
# CPU for an interpreter to import the runtime, however many subtasks a slot holds. `taskmanager.
# task-fork-server` (ours, true/false) overrides the default: on. In a YARN container, whose memory limit
# counts every process, the server is budgeted as Flink budgets native memory, in the TaskManager's
# JVM-overhead share (common/memory.py: at least 192 MB by Flink's defaults): on when it fits there.
FORK_SERVER_KEY = "taskmanager.task-fork-server"
# The fork server's RSS, measured (35 MB; its forked children are smaller than spawned interpreters).
FORK_SERVER_MB = 40


@dataclass
class RunningTask:
    dep: TaskDeployment
    proc: TaskProcess
    cancel_requested: bool = False
    last_state: str = "DEPLOYING"
    error: str | None = None
    watcher: asyncio.Task[None] | None = field(default=None)


def _file_of_fd(fd: int) -> Path | None:
    try:
        target = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return None
    path = Path(target)
    return path if path.is_file() else None


class TaskManager:
    def __init__(self, config: Configuration, secret: bytes | None = None) -> None:
        self.config = config
        self.secret = secret if secret is not None else cluster_secret.load(config)
        self.slots = config.get_int("taskmanager.numberOfTaskSlots")
        # The vcores of its YARN container (0: not known); caps the cores its hardware reports. Flink's
        # key is a double ("1.5" cores): a fraction of a core is still a core to run on.
        self.cpu_cores = cpu_cores_of(config.get("taskmanager.cpu.cores", "0"))
        self.host = config.get("taskmanager.host", "") or socket.gethostname()
        if self.host in ("localhost",) or config.get("jobmanager.rpc.address") in ("localhost", "127.0.0.1"):
            self.host = config.get("taskmanager.host", "") or "127.0.0.1"
        self.bind_host = config.get("taskmanager.bind-host", "") or self.host
        self.id = config.get("taskmanager.resource-id", "") or f"{self.host}-{uuid.uuid4().hex[:6]}"
        self.tasks: dict[str, RunningTask] = {}
        self.gateway: rpc.Gateway | None = None
        self.stopping = False
        # In a YARN container (YARN sets CONTAINER_ID; Flink's YarnTaskExecutorRunner reads it too) this
        # TaskManager belongs to one JobManager attempt: its JobManager's address is fixed in its config, a
        # new attempt starts its own TaskManagers and the JobManager refuses a released container's. So it
        # ends when it loses its JobManager instead of retrying a dead address for the registration timeout.
        self.in_yarn_container = bool(os.environ.get("CONTAINER_ID"))
        self.stdout_file, self.log_file = self._setup_files()
        fork = config.get(FORK_SERVER_KEY, self._fork_server_default()).strip().lower()
        if fork not in ("true", "false"):
            raise ValueError(f"configuration {FORK_SERVER_KEY}: expected true or false, got {fork!r}")
        self.forkserver = ForkServer(self._task_env()) if fork == "true" else None

    def _fork_server_default(self) -> str:
        if not self.in_yarn_container:
            return "true"
        return "true" if jvm_overhead_mb(self.config.as_dict()) >= FORK_SERVER_MB else "false"

    def _setup_files(self) -> tuple[Path | None, Path | None]:
        log_dir = self.config.get("taskmanager.log.dir", "") or os.environ.get("FLINK_LOG_DIR", "")
        if log_dir:
            d = Path(log_dir)
            d.mkdir(parents=True, exist_ok=True)
            out, err = d / f"taskmanager-{self.id}.out", d / f"taskmanager-{self.id}.log"
            os.dup2(os.open(out, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644), 1)
            os.dup2(os.open(err, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644), 2)
            return out, err
        return _file_of_fd(1), _file_of_fd(2)

    async def run(self) -> int:
        jm = (self.config.get("jobmanager.rpc.address"), self.config.get_int("jobmanager.rpc.port"))
        timeout_s = self.config.get_duration_ms("taskmanager.registration.timeout") / 1000
        deadline = time.monotonic() + timeout_s
        refused = False
        while not self.stopping:
            try:
                reader, writer = await asyncio.open_connection(*jm)
            except OSError as e:
                if time.monotonic() > deadline:
                    log.error("could not register at the JobManager %s:%d within %.0f s: %s", *jm, timeout_s, e)
                    return 1
                await asyncio.sleep(0.5)
                continue
            try:
                await handshake.connect(reader, writer, self.secret)
            except (handshake.HandshakeError, OSError) as e:
                writer.close()
                if time.monotonic() > deadline:
                    log.error("the JobManager at %s:%d kept refusing this TaskManager (%s); giving up", *jm, e)
                    return 1
                # Said once, then retried quietly: a JobManager that restarts mid-handshake recovers by itself.
                (log.debug if refused else log.error)(
                    "the JobManager at %s:%d refused this TaskManager (%s); is it another cluster's, or is %s set "
                    "to another cluster's secret?", *jm, e, cluster_secret.FILE_KEY)
                refused = True
                await asyncio.sleep(2.0)
                continue
            refused = False
            await self._session(reader, writer)
            await self._kill_all()
            deadline = time.monotonic() + timeout_s
            if not self.stopping and self.in_yarn_container:
                log.error("lost the JobManager at %s:%d; a TaskManager of a YARN application ends with its "
                          "JobManager", *jm)
                return 1
            if not self.stopping:
                log.info("lost the JobManager at %s:%d; reconnecting", *jm)
                await asyncio.sleep(0.5)
        await self._kill_all()
        return 0

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.gateway = rpc.Gateway(writer)
        await self.gateway.tell(Register(id=self.id, host=self.host, slots=self.slots, pid=os.getpid(),
                                         hardware=hardware(self.cpu_cores)))
        reply = await rpc.recv(reader, FOR_TASKMANAGER, "the JobManager")
        if isinstance(reply, Shutdown):
            # Flink's declined registration: fatal, the TaskManager exits.
            log.error("the registration of TaskManager %s at the JobManager was rejected: %s", self.id, reply.reason)
            self.stopping = True
        if not isinstance(reply, Registered):
            writer.close()
            return
        log.info("registered at the JobManager as %s with %d slots", self.id, self.slots)
        if self.forkserver is not None and not self.forkserver.alive:
            try:
                await self.forkserver.start()  # its imports run while the JobManager has nothing to deploy yet
            except OSError as e:
                log.warning("cannot start the task fork server (task processes are spawned instead): %s", e)
        beat = asyncio.create_task(self._heartbeats(reply.heartbeat_interval_ms / 1000))
        try:
            while True:
                msg = await rpc.recv(reader, FOR_TASKMANAGER, "the JobManager")
                if msg is None:
                    return
                await self._handle(msg)
                if isinstance(msg, (Shutdown, Disconnect)):
                    return
        finally:
            beat.cancel()
            writer.close()

    async def _heartbeats(self, interval: float) -> None:
        while self.gateway is not None:
            await self.gateway.tell(Heartbeat(id=self.id, tasks=list(self.tasks), metrics=tree_figures()))
            await asyncio.sleep(interval)

    async def _handle(self, msg: TaskManagerBound) -> None:
        if isinstance(msg, (TriggerCheckpoint, NotifyCheckpointComplete)):
            await self._command(msg)
        elif isinstance(msg, Deploy):
            await self._deploy(msg.deployment)
        elif isinstance(msg, Cancel):
            task = self.tasks.get(msg.execution_id)
            if task is not None:
                task.cancel_requested = True
                if task.proc.returncode is None:
                    task.proc.send_signal(signal.SIGTERM)
        elif isinstance(msg, ReadFile):
            if msg.which == "threads":
                text = json.dumps(thread_infos())
            else:
                text = _tail(self.stdout_file if msg.which == "stdout" else self.log_file)
            if self.gateway is not None:
                await self.gateway.tell(FileText(reply_to=msg.rid, text=text))
        elif isinstance(msg, Shutdown):
            log.info("the JobManager released this TaskManager: %s", msg.reason)
            self.stopping = True

    async def _report(self, dep: TaskDeployment, state: str, **extra: Any) -> None:
        if self.gateway is not None:
            await self.gateway.tell(TaskState(job_id=dep.job_id, execution_id=dep.execution_id, state=state,
                                              **extra))

    async def _command(self, msg: TriggerCheckpoint | NotifyCheckpointComplete) -> None:
        """To the task process's stdin, one JSON line (task_main reads them after its deployment)."""
        task = self.tasks.get(msg.execution_id)
        if task is None or task.proc.stdin is None or task.proc.returncode is not None:
            return
        cmd: dict[str, Any] = {"complete": msg.checkpoint_id}
        if isinstance(msg, TriggerCheckpoint):
            cmd = {"trigger": msg.checkpoint_id, "timestamp": msg.timestamp}
            if msg.stop:
                cmd.update(stop=True, drain=msg.drain)
        try:
            task.proc.stdin.write(json.dumps(cmd).encode() + b"\n")
            await task.proc.stdin.drain()
        except (ConnectionError, OSError):
            pass  # the task is going away; its end reaches the JobManager through _watch

    def _task_env(self) -> dict[str, str]:
        env = dict(os.environ, PYTHONHASHSEED=TASK_HASH_SEED)
        env[cluster_secret.ENV] = self.secret.decode()
        return env

    async def _spawn(self) -> tuple[TaskProcess, int]:
        """A task process waiting for its deployment line, and the read end of its status pipe."""
        r, w = os.pipe()
        try:
            if self.forkserver is not None:
                try:
                    return await self.forkserver.fork(w), r
                except OSError as e:
                    log.warning("the task fork server failed (%s); spawning the task process instead", e)
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "flink_on_yarn.runtime.task_main", str(w), stdin=asyncio.subprocess.PIPE,
                pass_fds=(w,), env=self._task_env())
            return proc, r
        except OSError:
            os.close(r)
            raise
        finally:
            os.close(w)  # the child holds its own copy; ours would keep the pipe from reaching EOF

    async def _deploy(self, dep: TaskDeployment) -> None:
        # The task's input gate listens where this TaskManager was told to, whatever the JobManager wrote.
        dep.bind_host = self.bind_host
        try:
            proc, r = await self._spawn()
        except OSError as e:
            await self._report(dep, "FAILED", error=f"cannot start the task process: {e}")
            return
        assert proc.stdin is not None
        proc.stdin.write(DEPLOYMENT.dump_json(dep) + b"\n")
        await proc.stdin.drain()
        task = RunningTask(dep, proc)
        self.tasks[dep.execution_id] = task
        task.watcher = asyncio.create_task(self._watch(task, r))

    async def _watch(self, task: RunningTask, status_fd: int) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader),
                                                    os.fdopen(status_fd, "rb"))
        try:
            while line := await reader.readline():
                try:
                    msg = json.loads(line)
                except ValueError:
                    continue
                if not isinstance(msg, dict):
                    continue
                if "checkpoint" in msg or "decline" in msg:
                    await self._checkpoint_report(task.dep, msg)
                    continue
                task.last_state = str(msg.get("state"))
                if task.last_state == "FAILED":
                    task.error = msg.get("error")
                    continue
                await self._report(task.dep, task.last_state, port=msg.get("port"), metrics=msg.get("metrics"),
                                   input_ended=bool(msg.get("input_ended")))
        finally:
            transport.close()
        code = await task.proc.wait()
        self.tasks.pop(task.dep.execution_id, None)
        if task.last_state == "FINISHED" and code == 0:
            return
        if task.cancel_requested:
            await self._report(task.dep, "CANCELED")
        else:
            await self._report(task.dep, "FAILED", error=task.error or f"task process exited with code {code}")

    async def _checkpoint_report(self, dep: TaskDeployment, msg: dict[str, Any]) -> None:
        if self.gateway is None:
            return
        try:
            if "checkpoint" in msg:
                await self.gateway.tell(AcknowledgeCheckpoint(
                    job_id=dep.job_id, execution_id=dep.execution_id, checkpoint_id=int(msg["checkpoint"]),
                    path=str(msg["path"]), size=int(msg["size"])))
            else:
                await self.gateway.tell(DeclineCheckpoint(
                    job_id=dep.job_id, execution_id=dep.execution_id, checkpoint_id=int(msg["decline"]),
                    reason=str(msg.get("reason", ""))))
        except (KeyError, TypeError, ValueError) as e:
            log.warning("a malformed checkpoint report from task %s: %s", dep.execution_id, e)

    async def _kill_all(self) -> None:
        for task in list(self.tasks.values()):
            task.cancel_requested = True
            if task.proc.returncode is None:
                task.proc.kill()
        for task in list(self.tasks.values()):
            await task.proc.wait()
        if self.forkserver is not None:
            await self.forkserver.stop()
        self.gateway = None


def _tail(path: Path | None) -> str:
    if path is None or not path.exists():
        return ""
    with open(path, "rb") as f:
        size = f.seek(0, os.SEEK_END)
        f.seek(max(0, size - MAX_FILE_BYTES))
        return f.read().decode("utf-8", errors="replace")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="taskmanager", description="Run a Flink TaskManager in the foreground.")
    p.add_argument("-D", dest="dynamic", action="append", default=[], metavar="key=value")
    p.add_argument("--configDir", "--config-dir", dest="config_dir", default=None)
    ns = p.parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s - %(message)s")
    try:
        config = Configuration.load(parse_dynamic(ns.dynamic), Path(ns.config_dir) if ns.config_dir else None)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        tm = TaskManager(config)
    except (cluster_secret.SecretError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    async def run() -> int:
        loop = asyncio.get_running_loop()

        def stop() -> None:
            tm.stopping = True
            for t in asyncio.all_tasks(loop):
                if t is not asyncio.current_task(loop):
                    t.cancel()

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop)
        try:
            return await tm.run()
        except asyncio.CancelledError:
            await tm._kill_all()
            return 0

    return asyncio.run(run())


if __name__ == "__main__":
    sys.exit(main())
