"""The default executor (YARN's DefaultContainerExecutor): each container is a child process of the
NM, in its own session and process group, cwd its work dir, stdout/stderr in its log dir.

The NM owns every child's Popen handle, which is why commands reach the NM on a plain Redis list
read by the NM process itself rather than by forked queue workers.
"""

from __future__ import annotations

import os
import signal
import subprocess

import psutil

from nodemanager.diagnostics import ProcessRow
from nodemanager.executor.base import ContainerExecutor, ContainerProcess, LaunchSpec, Usage

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class ChildProcess(ContainerProcess):
    def __init__(self, popen: subprocess.Popen[bytes]) -> None:
        self.popen = popen
        # With start_new_session the child leads its own group: its pid is the group id.
        self.pgid = popen.pid

    @property
    def pid(self) -> int:
        return self.popen.pid

    def wait(self) -> int:
        code = self.popen.wait()
        return 128 - code if code < 0 else code

    def signal(self, sig: int) -> None:
        try:
            os.killpg(self.pgid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def alive(self) -> bool:
        return self.popen.poll() is None

    def _tree(self) -> list[psutil.Process]:
        try:
            root = psutil.Process(self.popen.pid)
            return [root, *root.children(recursive=True)]
        except psutil.Error:
            return []

    def usage(self) -> Usage | None:
        procs = self._tree()
        if not procs:
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

    def cleanup(self) -> None:
        # Children the command left running in its group (daemons, `sleep &`) would outlive the
        # container and its memory accounting; YARN's cgroups would end them too.
        self.signal(signal.SIGKILL)


class ProcessExecutor(ContainerExecutor):
    name = "process"

    def launch(self, spec: LaunchSpec) -> ContainerProcess:
        spec.log_dir.mkdir(parents=True, exist_ok=True)
        # Default stdout/stderr files; a command's own `1><LOG_DIR>/stdout` opens the same file.
        with open(spec.log_dir / "stdout", "ab") as out, open(spec.log_dir / "stderr", "ab") as err:
            popen = subprocess.Popen(["/bin/bash", str(spec.script)], cwd=spec.work_dir, env=spec.env,
                                     stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True,
                                     close_fds=True)
        return ChildProcess(popen)
