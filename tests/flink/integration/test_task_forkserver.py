"""The TaskManager's task fork server (task_forkserver.py, task_launcher.py): real processes and pipes."""

from __future__ import annotations

import asyncio
import os
import signal

from flink_on_yarn.runtime.task_launcher import ForkServer


async def _forked_lifecycle() -> None:
    server = ForkServer(dict(os.environ, PYTHONHASHSEED="0"))
    await server.start()
    try:
        # A task given an empty deployment line ends at once with 0 (a task process whose TaskManager ended
        # before it got a task), and its status pipe reaches EOF: nothing else holds its write end.
        r, w = os.pipe()
        try:
            proc = await server.fork(w)
        finally:
            os.close(w)
        assert server.proc is not None and proc.pid not in (server.proc.pid, os.getpid())
        assert proc.stdin is not None
        proc.stdin.write(b"\n")
        await proc.stdin.drain()
        assert await asyncio.wait_for(proc.wait(), 30) == 0
        assert os.read(r, 100) == b""
        os.close(r)

        # One blocked on its stdin is killed by a signal; the exit code says which, as asyncio's does.
        r, w = os.pipe()
        try:
            waiting = await server.fork(w)
        finally:
            os.close(w)
        assert waiting.returncode is None
        waiting.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(waiting.wait(), 10) == -signal.SIGTERM
        waiting.kill()  # after its end: nothing is signalled (its pid may be another process's by now)
        os.close(r)

        # The TaskManager's end closing (the TaskManager died) ends the server, and a task waiting for its
        # deployment ends with the EOF of its stdin.
        r, w = os.pipe()
        try:
            orphan = await server.fork(w)
        finally:
            os.close(w)
        assert server.proc is not None
        server_proc = server.proc
        assert server.control is not None
        server.control.close()
        server.control = None
        assert await asyncio.wait_for(server_proc.wait(), 10) == 0
        assert orphan.stdin is not None
        orphan.stdin.close()
        code = await asyncio.wait_for(orphan.wait(), 10)
        assert code in (0, -signal.SIGKILL)  # reaped by the server before it ended, or ended by us after
        os.close(r)
    finally:
        await server.stop()


def test_fork_server_forks_task_processes_and_reports_their_exit() -> None:
    asyncio.run(_forked_lifecycle())
