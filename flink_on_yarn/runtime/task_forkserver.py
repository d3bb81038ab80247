"""A TaskManager's fork server: one process with the task runtime imported that forks a task process per
deployment, in milliseconds. A fresh interpreter spends 0.5-1.7 s of CPU importing the runtime on this
project's 2 shared cores, and a restart after a lost TaskManager waited for that once per subtask it moved
(BENCHMARKS.md, "checkpoints and recovery").

    python -m flink_on_yarn.runtime.task_forkserver CONTROL_FD

CONTROL_FD is one end of a Unix socket pair whose other end only the TaskManager holds (nothing a stranger
can reach, as the task process's own pipes). A request is one byte `F` carrying three descriptors
(SCM_RIGHTS): the task's stdin (its deployment line, then commands), the write end of its status pipe, and
the write end of an exit pipe. The server forks, answers the child's pid (8 bytes), and when the child has
ended writes its exit status as asyncio reports one (the code, or minus the signal) to the exit pipe and
closes it. At EOF on CONTROL_FD (its TaskManager is gone) the server exits; its children end at the EOF of
their stdin, as spawned task processes do.
"""

from __future__ import annotations

import os
import selectors
import signal
import socket
import struct
import sys

REQUEST = b"F"
PID = struct.Struct("!q")


def _child(fds: list[int], inherited: list[int]) -> None:
    """In the forked child: the request's descriptors in place of the server's, then the task; never returns."""
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for fd in inherited:  # the server's sockets and its other children's exit pipes
            os.close(fd)
        stdin, status, exit_w = fds
        os.close(exit_w)
        os.dup2(stdin, 0)
        os.close(stdin)
        from flink_on_yarn.runtime import task_main  # loaded already (main): a lookup

        code = task_main.main([str(status)])
    finally:
        os._exit(code)


def serve(control: socket.socket) -> None:
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # only to wake the selector through the wakeup fd
    children: dict[int, int] = {}  # pid -> the write end of its exit pipe
    sel = selectors.DefaultSelector()
    sel.register(control, selectors.EVENT_READ)
    sel.register(wake_r, selectors.EVENT_READ)
    while True:
        for key, _ in sel.select():
            if key.fileobj is control:
                msg, fds, _, _ = socket.recv_fds(control, 1, 3)
                if not msg:
                    return  # the TaskManager is gone
                if msg != REQUEST or len(fds) != 3:
                    for fd in fds:
                        os.close(fd)
                    control.sendall(PID.pack(0))
                    continue
                inherited = [control.fileno(), wake_r, wake_w, sel.fileno(), *children.values()]
                pid = os.fork()
                if pid == 0:
                    _child(fds, inherited)
                os.close(fds[0])
                os.close(fds[1])
                children[pid] = fds[2]
                control.sendall(PID.pack(pid))
            else:
                try:
                    while os.read(wake_r, 512):
                        pass
                except BlockingIOError:
                    pass
        _reap(children)


def _reap(children: dict[int, int]) -> None:
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        exit_w = children.pop(pid, None)
        if exit_w is not None:
            try:
                os.write(exit_w, str(os.waitstatus_to_exitcode(status)).encode())
            except OSError:
                pass  # the TaskManager closed its end: nobody waits for this child any more
            os.close(exit_w)


def main(argv: list[str]) -> int:
    # Imported here, before any fork, so that a child starts with the whole runtime loaded; not at the top,
    # where the TaskManager (task_launcher.py, for REQUEST and PID) would import the runtime too.
    from flink_on_yarn.runtime import task_main  # noqa: F401

    control = socket.socket(fileno=int(argv[0]))
    try:
        serve(control)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
