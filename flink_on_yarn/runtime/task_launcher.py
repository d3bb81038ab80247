"""How a TaskManager starts its task processes: forked by its fork server (task_forkserver.py) in a few
milliseconds, or, without one, as a fresh interpreter (`python -m flink_on_yarn.runtime.task_main`).

Either way the TaskManager gets a `TaskProcess`: the task's stdin to write its deployment and commands to,
its exit code, and signals. A forked task is the fork server's child, not the TaskManager's, so its exit code
comes through an exit pipe the server writes when it reaps the child.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
from typing import Protocol

from flink_on_yarn.runtime.task_forkserver import PID, REQUEST

log = logging.getLogger("flink_on_yarn.taskmanager")

# A fork takes milliseconds; the first request also waits for the server's imports (a second or two of CPU
# on a loaded machine). Past this the server counts as wedged and the task is spawned instead.
FORK_TIMEOUT_S = 20.0


class TaskProcess(Protocol):
    """What the TaskManager uses of a task process (asyncio's `Process` is one)."""

    @property
    def pid(self) -> int: ...

    @property
    def stdin(self) -> asyncio.StreamWriter | None: ...

    @property
    def returncode(self) -> int | None: ...

    async def wait(self) -> int: ...

    def send_signal(self, sig: int) -> None: ...

    def kill(self) -> None: ...


class ForkedProcess:
    """A task process the fork server forked: asyncio's `Process` interface over its pid and pipes."""

    def __init__(self, pid: int, stdin: asyncio.StreamWriter, exit_fd: int) -> None:
        self.pid = pid
        self.stdin: asyncio.StreamWriter | None = stdin
        self.returncode: int | None = None
        self._ended = asyncio.get_running_loop().create_task(self._read_exit(exit_fd))

    async def _read_exit(self, exit_fd: int) -> None:
        # Read on the loop, not in a thread: a thread per running task would use up asyncio's default
        # executor (a handful of threads on 2 cores) that the fork requests themselves need.
        reader = asyncio.StreamReader()
        transport, _ = await asyncio.get_running_loop().connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(exit_fd, "rb"))
        try:
            data = await reader.read()
        finally:
            transport.close()
        try:
            self.returncode = int(data)
        except ValueError:
            # The fork server died before reaping the child: it cannot report, so the child is ended here.
            self._signal(signal.SIGKILL)
            self.returncode = -signal.SIGKILL
        if self.stdin is not None:
            self.stdin.close()

    async def wait(self) -> int:
        try:
            await asyncio.shield(self._ended)
        except asyncio.CancelledError:
            if not self._ended.cancelled():
                raise  # the caller itself is cancelled
            # The exit reader was cancelled (a TaskManager shutting down cancels all its tasks, then kills
            # and waits for its task processes): wait for the pid to go instead.
            while self.returncode is None:
                try:
                    os.kill(self.pid, 0)
                except ProcessLookupError:
                    self.returncode = -signal.SIGKILL
                    break
                await asyncio.sleep(0.01)
        assert self.returncode is not None
        return self.returncode

    def _signal(self, sig: int) -> None:
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            pass

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:  # after it, the pid may be another process's
            self._signal(sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class ForkServer:
    """The TaskManager's end of its fork server."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.proc: asyncio.subprocess.Process | None = None
        self.control: socket.socket | None = None
        self.lock = asyncio.Lock()

    async def start(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "flink_on_yarn.runtime.task_forkserver", str(theirs.fileno()),
                stdin=asyncio.subprocess.DEVNULL, pass_fds=(theirs.fileno(),), env=self.env)
        except OSError:
            ours.close()
            raise
        finally:
            theirs.close()
        ours.settimeout(FORK_TIMEOUT_S)
        self.control = ours

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None and self.control is not None

    async def fork(self, status_w: int) -> ForkedProcess:
        """A task process reporting to `status_w`; OSError if the server cannot fork one."""
        if not self.alive:
            await self.start()
        control = self.control
        assert control is not None
        stdin_r, stdin_w = os.pipe()
        exit_r, exit_w = os.pipe()
        try:
            async with self.lock:
                pid = await asyncio.to_thread(_request, control, [stdin_r, status_w, exit_w])
        except OSError:
            os.close(stdin_w)
            os.close(exit_r)
            await self.stop()  # wedged or dead: the next request starts a new one
            raise
        finally:
            os.close(stdin_r)
            os.close(exit_w)
        loop = asyncio.get_running_loop()
        transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin,
                                                            os.fdopen(stdin_w, "wb"))
        writer = asyncio.StreamWriter(transport, protocol, None, loop)
        return ForkedProcess(pid, writer, exit_r)

    async def stop(self) -> None:
        if self.control is not None:
            self.control.close()  # its EOF ends the server
            self.control = None
        if self.proc is not None:
            if self.proc.returncode is None:
                self.proc.kill()
            await self.proc.wait()
            self.proc = None


def _request(control: socket.socket, fds: list[int]) -> int:
    socket.send_fds(control, [REQUEST], fds)
    data = b""
    while len(data) < PID.size:
        chunk = control.recv(PID.size - len(data))
        if not chunk:
            raise ConnectionError("the task fork server closed its control socket")
        data += chunk
    pid = int(PID.unpack(data)[0])
    if pid <= 0:
        raise OSError("the task fork server refused the request")
    return pid
