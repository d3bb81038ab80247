"""Background daemons as Flink's scripts start them: own process group, `log/flink-<user>-<kind>-<n>-<host>.out`
and `.log`, pids appended to `<env.pid.dir>/flink-<user>-<kind>.pid`.
"""

from __future__ import annotations

import getpass
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from flink_on_yarn.common.config import Configuration, conf_dir

JOBMANAGER = "standalonesession"
TASKMANAGER = "taskexecutor"
STANDALONE_JOB = "standalonejob"
MODULES = {JOBMANAGER: "flink_on_yarn.runtime.jobmanager", STANDALONE_JOB: "flink_on_yarn.runtime.jobmanager",
           TASKMANAGER: "flink_on_yarn.runtime.taskmanager"}
# stop waits this long for a daemon to end after SIGTERM before SIGKILL: TMs need a moment to end their tasks.
STOP_GRACE_S = 10.0


def log_dir(config: Configuration) -> Path:
    explicit = config.get("env.log.dir", "") or os.environ.get("FLINK_LOG_DIR", "")
    if explicit:
        return Path(explicit)
    d = conf_dir()
    return (d.parent / "log") if d is not None else Path("log")


def pid_file(config: Configuration, kind: str) -> Path:
    d = Path(config.get("env.pid.dir", "") or os.environ.get("FLINK_PID_DIR", "") or "/tmp")
    return d / f"flink-{getpass.getuser()}-{kind}.pid"


def read_pids(config: Configuration, kind: str) -> list[int]:
    path = pid_file(config, kind)
    if not path.exists():
        return []
    return [int(x) for x in path.read_text().split() if x.strip().isdigit()]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def start(config: Configuration, kind: str, args: list[str]) -> int:
    """Starts a daemon in the background; returns its pid."""
    host = socket.gethostname()
    logs = log_dir(config)
    logs.mkdir(parents=True, exist_ok=True)
    running = [p for p in read_pids(config, kind) if alive(p)]
    n = len(running)
    stem = logs / f"flink-{getpass.getuser()}-{kind}-{n}-{host}"
    out = open(f"{stem}.out", "ab")
    err = open(f"{stem}.log", "ab")
    proc = subprocess.Popen([sys.executable, "-m", MODULES[kind], *args], stdout=out, stderr=err,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    out.close()
    err.close()
    pf = pid_file(config, kind)
    pf.parent.mkdir(parents=True, exist_ok=True)
    pf.write_text("".join(f"{p}\n" for p in [*running, proc.pid]))
    return proc.pid


def stop(config: Configuration, kind: str, all_instances: bool = True) -> list[int]:
    """Stops the daemons of a kind (the newest only unless `all_instances`); returns the pids stopped."""
    pids = [p for p in read_pids(config, kind) if alive(p)]
    victims = pids if all_instances else pids[-1:]
    for pid in victims:
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + STOP_GRACE_S
    for pid in victims:
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    left = [p for p in pids if p not in victims]
    pf = pid_file(config, kind)
    if left:
        pf.write_text("".join(f"{p}\n" for p in left))
    elif pf.exists():
        pf.unlink()
    return victims
