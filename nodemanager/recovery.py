"""What a NodeManager keeps on disk about its containers so that its next run (same node id, same dirs)
can take them back or, when it will not recover them, end them (YARN's NMStateStoreService plus the pid
and exit-code files of its container-executor).

One directory per launched container, `<first local dir>/nmPrivate/<appId>/<containerId>/`:

- `container.json`: the grant the NM ran it under (a ContainerRecord), written before the launch;
- `<containerId>.pid`: the container's root process id, written by the container's own wrapper shell;
- `<containerId>.pid.exitcode`: its exit code, written by the same wrapper when the command ends (only
  with recovery on: then the container is not the NM's child and the NM cannot wait for it).

Files are written whole (temp file + rename), so a reader never sees half a number.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import psutil
from pydantic import BaseModel, ValidationError

from miniyarn.records import Resource

log = logging.getLogger("nodemanager.NMStateStore")

PRIVATE_DIR = "nmPrivate"  # YARN's name for the NM's own part of a local dir
RECORD_FILE = "container.json"
# YARN's ContainerExecutor.ExitCode.LOST: a recovered container that is gone but never wrote an exit code.
EXIT_CODE_LOST = 154


class ContainerRecord(BaseModel):
    """What the NM needs to take a container back: who, what, and the token its start carried."""

    container_id: str
    node_id: str  # the NM that ran it: dirs another NM shares hold containers that are not ours to judge
    app_id: str
    user: str
    resource: Resource
    token_digest: str
    runtime: str  # the executor that ran it ("process", "docker")


@dataclass(frozen=True)
class Found:
    """One container a previous run left, as found now."""

    record: ContainerRecord
    dir: Path
    pid: int | None  # None: no pid file (killed before its wrapper wrote one)
    exit_code: int | None  # None: not written (still running, or killed without a chance to write it)
    alive: bool  # its pid is a live process of this container (not a reused pid)


def container_dir(private: Path, app_id: str, container_id: str) -> Path:
    return private / app_id / container_id


def pid_file(cdir: Path, container_id: str) -> Path:
    return cdir / f"{container_id}.pid"


def exit_code_file(cdir: Path, container_id: str) -> Path:
    return cdir / f"{container_id}.pid.exitcode"


def write_record(cdir: Path, record: ContainerRecord) -> None:
    cdir.mkdir(parents=True, exist_ok=True)
    tmp = cdir / (RECORD_FILE + ".tmp")
    tmp.write_text(record.model_dump_json())
    tmp.replace(cdir / RECORD_FILE)


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def is_container_process(pid: int, container_id: str) -> bool:
    """Whether `pid` is alive and is this container's (its environment names it): a pid file outlives its
    process, and the pid may belong to someone else by now."""
    try:
        p = psutil.Process(pid)
        if p.status() == psutil.STATUS_ZOMBIE:
            return False
        return p.environ().get("CONTAINER_ID") == container_id
    except (psutil.Error, OSError):
        return False


def scan(private: Path, node_id: str) -> list[Found]:
    """Every container record of `node_id` under `private`; unreadable ones are logged and removed."""
    found: list[Found] = []
    if not private.is_dir():
        return found
    for record_path in sorted(private.glob(f"*/*/{RECORD_FILE}")):
        cdir = record_path.parent
        try:
            record = ContainerRecord.model_validate_json(record_path.read_text())
        except (OSError, ValidationError) as e:
            log.warning("Removing unreadable container record %s: %s", record_path, e)
            shutil.rmtree(cdir, ignore_errors=True)
            continue
        if record.node_id != node_id:
            continue
        cid = record.container_id
        pid = _read_int(pid_file(cdir, cid))
        found.append(Found(record=record, dir=cdir, pid=pid, exit_code=_read_int(exit_code_file(cdir, cid)),
                           alive=pid is not None and is_container_process(pid, cid)))
    return found


def remove(cdir: Path) -> None:
    shutil.rmtree(cdir, ignore_errors=True)
    try:
        cdir.parent.rmdir()  # the app's dir, once its last container is gone
    except OSError:
        pass


def kill_group(pid: int, sig: int) -> None:
    """Signal the container's process group (its root leads it); no error if it is gone."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


class Decision(StrEnum):
    RECOVER = "RECOVER"  # alive, still granted, recovery on: take it back
    KILL = "KILL"  # alive but not to be recovered: end it, report it aborted
    EXITED = "EXITED"  # ended while the NM was down and wrote its exit code: report that code
    LOST = "LOST"  # ended without an exit code (recovery on): report EXIT_CODE_LOST
    ABORTED = "ABORTED"  # died with the NM (recovery off) or its runtime removed it: report -100


def decide(found: Found, enabled: bool, still_granted: bool) -> Decision:
    """What a starting NM does with a container an earlier run left.

    Process containers are found by their pid and exit-code files, Docker ones by their labels (the
    engine's state and exit code); both are judged alike.

    >>> rec = ContainerRecord(container_id="c", node_id="n:1", app_id="a", user="u",
    ...                       resource=Resource(memory=1, vcores=1), token_digest="d", runtime="process")
    >>> decide(Found(rec, Path("."), 7, None, True), enabled=True, still_granted=True).value
    'RECOVER'
    >>> decide(Found(rec, Path("."), 7, None, True), enabled=True, still_granted=False).value
    'KILL'
    >>> decide(Found(rec, Path("."), 7, None, True), enabled=False, still_granted=True).value
    'KILL'
    >>> decide(Found(rec, Path("."), 7, 3, False), enabled=True, still_granted=True).value
    'EXITED'
    >>> decide(Found(rec, Path("."), 7, None, False), enabled=True, still_granted=True).value
    'LOST'
    >>> decide(Found(rec, Path("."), None, None, False), enabled=False, still_granted=True).value
    'ABORTED'
    """
    if found.alive:
        return Decision.RECOVER if enabled and still_granted else Decision.KILL
    if found.exit_code is not None:
        return Decision.EXITED
    return Decision.LOST if enabled else Decision.ABORTED
