"""The default executor (YARN's DefaultContainerExecutor): each container is a child process of the
NM, in its own session and process group, cwd its work dir, stdout/stderr in its log dir.

The NM owns every child's Popen handle, which is why commands reach the NM on a plain Redis list
read by the NM process itself rather than by forked queue workers.

A container never outlives its NM unless NM recovery is on (YARN's containers do not either: a
container of a dead NM runs beside the replacement the AM is given). Each container's wrapper shell
writes its pid file and, with recovery off, leaves a watchdog in the container's process group that
blocks reading a pipe whose only write end the NM holds: when the NM process ends, however it ends
(SIGKILL included), the kernel closes that end, the read returns and the watchdog kills the group.
A pipe rather than PR_SET_PDEATHSIG (which fires when the forking *thread* ends, covers one process,
and needs a preexec_fn that is unsafe in a threaded NM) or polling the NM's pid (which can be reused).
With recovery on, the wrapper instead waits for the command and writes its exit code to a file, as
YARN's container-executor does, so the NM's next run can read it (nodemanager.recovery).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from typing import TYPE_CHECKING

import psutil

from nodemanager import recovery
from nodemanager.diagnostics import ProcessRow
from nodemanager.executor.base import ContainerExecutor, ContainerProcess, LaunchSpec, Usage

if TYPE_CHECKING:
    from nodemanager.context import NMContext

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def watched(fd: int) -> str:
    """The wrapper with a watchdog on pipe `fd`: $0 the launch script, $1 the pid file. The watchdog's
    `read` returns only at EOF (the NM never writes); `kill -KILL 0` ends the whole process group, the
    watchdog included. The command is exec'd with the pipe closed, so its exit status is the container's.

    >>> "read -r -u 7 _" in watched(7)
    True
    """
    return (f'printf "%d\\n" $$ > "$1.tmp" && mv -f "$1.tmp" "$1"; '
            f'{{ read -r -u {fd} _; kill -KILL 0; }} & exec {fd}<&-; exec /bin/bash "$0"')

# $0 the launch script, $1 the pid file, $2 the exit-code file. TERM/INT are trapped, not ignored, so the
# command gets the default dispositions and the wrapper, after the command ends, still writes its code.
RECOVERABLE = ('printf "%d\\n" $$ > "$1.tmp" && mv -f "$1.tmp" "$1"; trap : TERM INT; /bin/bash "$0"; rc=$?; '
               'printf "%d\\n" "$rc" > "$2.tmp" && mv -f "$2.tmp" "$2"; exit "$rc"')
# How often a recovered container (not our child: no wait()) is checked for its exit.
RECOVERED_POLL_S = 0.2


def tree_usage(pid: int) -> Usage | None:
    """Memory of `pid` and its descendants, or None when it is gone."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return None
    rss = vms = 0
    rows: list[ProcessRow] = []
    for p in procs:
        try:
            with p.oneshot():
                mem = p.memory_info()
                cpu = p.cpu_times()
                rows.append(ProcessRow(
                    pid=p.pid, ppid=p.ppid(), pgrp=os.getpgid(p.pid), sid=os.getsid(p.pid), name=p.name(),
                    user_millis=int(cpu.user * 1000), system_millis=int(cpu.system * 1000),
                    vmem_bytes=mem.vms, rss_pages=mem.rss // PAGE_SIZE, cmdline=" ".join(p.cmdline())))
            rss += mem.rss
            vms += mem.vms
        except (psutil.Error, ProcessLookupError):
            continue  # exited between listing and reading: it uses nothing now
    return Usage(rss_bytes=rss, vmem_bytes=vms, rows=tuple(rows))


class ChildProcess(ContainerProcess):
    def __init__(self, popen: subprocess.Popen[bytes], recoverable: bool = False) -> None:
        self.popen = popen
        self.recoverable = recoverable
        # With start_new_session the child leads its own group: its pid is the group id.
        self.pgid = popen.pid

    @property
    def pid(self) -> int:
        return self.popen.pid

    def wait(self) -> int:
        code = self.popen.wait()
        return 128 - code if code < 0 else code

    def signal(self, sig: int) -> None:
        recovery.kill_group(self.pgid, sig)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def usage(self) -> Usage | None:
        return tree_usage(self.popen.pid)

    def cleanup(self) -> None:
        # Children the command left running in its group (daemons, `sleep &`, the watchdog) would outlive
        # the container and its memory accounting; YARN's cgroups would end them too.
        self.signal(signal.SIGKILL)


class RecoveredProcess(ContainerProcess):
    """A container an earlier run of this NM launched (with recovery on): not our child, so its end is
    seen by polling its pid and its exit code read from the file its wrapper writes."""

    recoverable = True

    def __init__(self, pid: int, container_id: str, exit_code_file: os.PathLike[str]) -> None:
        self._pid = pid
        self.container_id = container_id
        self.exit_code_file = exit_code_file

    @property
    def pid(self) -> int:
        return self._pid

    def alive(self) -> bool:
        return recovery.is_container_process(self._pid, self.container_id)

    def wait(self) -> int:
        while self.alive():
            time.sleep(RECOVERED_POLL_S)
        try:
            with open(self.exit_code_file) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return recovery.EXIT_CODE_LOST  # killed (SIGKILL) before its wrapper could write the code

    def signal(self, sig: int) -> None:
        recovery.kill_group(self._pid, sig)

    def usage(self) -> Usage | None:
        return tree_usage(self._pid)

    def cleanup(self) -> None:
        self.signal(signal.SIGKILL)


class ProcessExecutor(ContainerExecutor):
    name = "process"

    def __init__(self) -> None:
        self.recovery = False
        self._watch_read: int | None = None
        self._watch_write: int | None = None

    def prepare(self, ctx: NMContext) -> None:
        self.recovery = ctx.recovery_enabled
        if not self.recovery and self._watch_read is None:
            # Non-inheritable both: the read end reaches a container only through pass_fds, and the
            # write end never leaves this process, so only our own death closes it.
            self._watch_read, self._watch_write = os.pipe()

    def launch(self, spec: LaunchSpec) -> ContainerProcess:
        spec.log_dir.mkdir(parents=True, exist_ok=True)
        private = spec.private_dir or spec.work_dir
        private.mkdir(parents=True, exist_ok=True)
        pid_path = str(recovery.pid_file(private, spec.container_id))
        if self.recovery:
            args = ["/bin/bash", "-c", RECOVERABLE, str(spec.script), pid_path,
                    str(recovery.exit_code_file(private, spec.container_id))]
            fds: tuple[int, ...] = ()
        else:
            if self._watch_read is None:
                self._watch_read, self._watch_write = os.pipe()
            args = ["/bin/bash", "-c", watched(self._watch_read), str(spec.script), pid_path]
            fds = (self._watch_read,)
        # Default stdout/stderr files; a command's own `1><LOG_DIR>/stdout` opens the same file.
        with open(spec.log_dir / "stdout", "ab") as out, open(spec.log_dir / "stderr", "ab") as err:
            popen = subprocess.Popen(args, cwd=spec.work_dir, env=spec.env, stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=err, start_new_session=True, close_fds=True, pass_fds=fds)
        return ChildProcess(popen, recoverable=self.recovery)
