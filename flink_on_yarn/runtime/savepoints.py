"""Savepoints as Flink's: where they go, what their `_metadata` says, and how a job graph takes their state.

A savepoint is a checkpoint the user triggers (`POST /jobs/<jid>/savepoints`, `flink savepoint`, stop-with-
savepoint) into its own self-contained directory, `<dir>/savepoint-<jobid6>-<random12>/`: the subtasks' state
files (sealed with the cluster secret like every checkpoint file) and a `_metadata` that names them by bare
file name, so the directory can be moved. `_metadata` keys the state by OperatorID (graph/operator_ids.py),
not by job vertex, so another version of the program (`flink run -s PATH`) finds each operator's state by its
uid even when chains changed: `plan_restore` maps it, pure, and refuses state no operator takes as Flink does
(unless `--allowNonRestoredState`). Checkpoint `_metadata` carries the same operator lists, so a retained
checkpoint can be restored with `-s` too. A keyed operator at another parallelism gets every old subtask's
file and splits them by key group (state_rescale.py); operator state and parallel sources cannot, and say so.

>>> meta = {"job_id": "a" * 32, "checkpoint_id": 3, "tasks": {"v1:0": {"file": "f0", "size": 1,
...         "operators": ["1" * 32, "2" * 32], "source": ""}},
...         "operators": {"1" * 32: {"name": "Map", "uid": None, "stateful": False, "parallelism": 1},
...                       "2" * 32: {"name": "Count", "uid": "count", "stateful": True, "parallelism": 1}}}
>>> plan = plan_restore(meta, [TaskOperators("w", 0, ["9" * 32, "2" * 32], "")], "/sp", False)
>>> plan[("w", 0)].files, plan[("w", 0)].operators
(['/sp/f0'], [None, (0, 1)])
>>> plan_restore(meta, [TaskOperators("w", 0, ["9" * 32], "")], "/sp", False)
Traceback (most recent call last):
...
flink_on_yarn.runtime.savepoints.SavepointRestoreError: Failed to rollback to checkpoint/savepoint /sp. ...
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flink_on_yarn.graph.partitioning import DEFAULT_MAX_PARALLELISM
from flink_on_yarn.runtime.checkpoint_storage import METADATA, CheckpointIntegrityError, _write_atomic, seal, unseal
from flink_on_yarn.runtime.task_deployment import RestorePlan

# Flink 2's key for the default savepoint directory, and the key it replaced (still read, as Flink does).
SAVEPOINT_DIR = "execution.checkpointing.savepoint-dir"
SAVEPOINT_DIR_OLD = "state.savepoints.dir"
# `flink run -s PATH [-n]`: Flink 2's keys and the 1.x ones.
RESTORE_PATH = "execution.state-recovery.path"
RESTORE_PATH_OLD = "execution.savepoint.path"
IGNORE_UNCLAIMED = "execution.state-recovery.ignore-unclaimed-state"
IGNORE_UNCLAIMED_OLD = "execution.savepoint.ignore-unclaimed-state"
RESTORE_KEYS = (RESTORE_PATH, RESTORE_PATH_OLD, IGNORE_UNCLAIMED, IGNORE_UNCLAIMED_OLD)


class SavepointRestoreError(ValueError):
    """A savepoint (or checkpoint) whose state does not fit the job restored from it."""


def default_directory(conf: Mapping[str, str]) -> str | None:
    value = conf.get(SAVEPOINT_DIR) or conf.get(SAVEPOINT_DIR_OLD)
    return value or None


def no_directory_error(field: str) -> str:
    """Flink's text when neither the request (`field`) nor the configuration names a savepoint directory."""
    return f"Config key [{SAVEPOINT_DIR}] is not set. Property [{field}] must be provided."


def local_path(location: str) -> str:
    """A `file:` URI (Flink prints `file:/sp/...`, users write `file:///sp/...`) as a local path."""
    for prefix in ("file://", "file:"):
        if location.startswith(prefix):
            return location[len(prefix):] or "/"
    return location


def restore_settings(conf: Mapping[str, str]) -> tuple[str | None, bool]:
    """(`run -s`'s path, `--allowNonRestoredState`) from a job's configuration."""
    path = conf.get(RESTORE_PATH) or conf.get(RESTORE_PATH_OLD) or None
    allow = (conf.get(IGNORE_UNCLAIMED) or conf.get(IGNORE_UNCLAIMED_OLD) or "false").strip().lower() == "true"
    return (local_path(path) if path else None), allow


def new_savepoint_dir(base: str, job_id: str) -> Path:
    """Flink's `<dir>/savepoint-<first 6 of the job id>-<12 random hex>`."""
    return Path(local_path(base)) / f"savepoint-{job_id[:6]}-{secrets.token_hex(6)}"


@dataclass(frozen=True)
class TaskOperators:
    """What one subtask of a job graph runs, by OperatorID: its chain's operators and its source ("": none)."""

    vertex_id: str
    subtask: int
    operators: list[str]
    source: str
    max_parallelism: int = DEFAULT_MAX_PARALLELISM


def metadata(job_id: str, checkpoint_id: int, timestamp: int, is_savepoint: bool,
             tasks: Mapping[tuple[str, int], tuple[str, int]], layout: Iterable[TaskOperators],
             operators: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    """A `_metadata` body: each subtask's state file (bare name, size) with its operators' ids in chain
    order, and every operator's name, uid, statefulness, parallelism, max parallelism and whether its state
    can be rescaled (`rescalable`: keyed state and timers, or broadcast state, only)."""
    by_task = {(t.vertex_id, t.subtask): t for t in layout}
    entries: dict[str, dict[str, Any]] = {}
    for (vid, subtask), (name, size) in tasks.items():
        t = by_task.get((vid, subtask))
        entries[f"{vid}:{subtask}"] = {"file": name, "size": size, "operators": t.operators if t else [],
                                       "source": t.source if t else ""}
    return {"job_id": job_id, "checkpoint_id": checkpoint_id, "timestamp": timestamp, "savepoint": is_savepoint,
            "tasks": entries, "operators": dict(operators)}


def _unmapped(location: str, op: str, info: Mapping[str, Any]) -> str:
    return (f"Failed to rollback to checkpoint/savepoint {location}. Cannot map checkpoint/savepoint state for "
            f"operator {_named(op, info)} to the new program, because the operator is not available in the new "
            f"program. If you want to allow to skip this, you can set the --allowNonRestoredState option on the CLI.")


def _index(files: list[str], location: str, name: str) -> int:
    """The index of the savepoint's file `name` in a plan's `files`, added on first use."""
    path = str(Path(location) / name)
    if path not in files:
        files.append(path)
    return files.index(path)


def plan_restore(meta: Mapping[str, Any], layout: list[TaskOperators], location: str,
                 allow_non_restored: bool, files_at: str | None = None) -> dict[tuple[str, int], RestorePlan]:
    """Each subtask's RestorePlan from a `_metadata` keyed by OperatorID (its files under `files_at`, by
    default the savepoint's `location`). An operator of the new job that the savepoint lacks starts empty;
    state of the savepoint no operator takes fails unless allowed."""
    files_dir = files_at or location
    old_ops: Mapping[str, Any] = meta.get("operators") or {}
    new_ids = {op for t in layout for op in t.operators} | {t.source for t in layout if t.source}
    if not allow_non_restored:
        for op, info in sorted(old_ops.items()):
            if op not in new_ids and info.get("stateful"):
                raise SavepointRestoreError(_unmapped(location, op, info))
    # (operator id, subtask) -> (file name, index in that file's chain); the sources' files the same way.
    where: dict[tuple[str, int], tuple[str, int]] = {}
    sources: dict[tuple[str, int], str] = {}
    old_vertex: dict[str, str] = {}
    for key, entry in (meta.get("tasks") or {}).items():
        vid, _, sub = str(key).rpartition(":")
        subtask = int(sub)
        old_vertex.update({str(op): vid for op in entry.get("operators") or []})
        name = Path(str(entry["file"])).name  # a bare name: nothing outside the savepoint's directory
        for index, op in enumerate(entry.get("operators") or []):
            where[(str(op), subtask)] = (name, index)
        if entry.get("source"):
            sources[(str(entry["source"]), subtask)] = name
    parallelism = {t.vertex_id: 0 for t in layout}
    for t in layout:
        parallelism[t.vertex_id] = max(parallelism[t.vertex_id], t.subtask + 1)
    finished = {str(k) for k in meta.get("finished") or []}
    plans: dict[tuple[str, int], RestorePlan] = {}
    for t in layout:
        files: list[str] = []
        mapped: list[tuple[int, int] | None] = []
        rescaled: list[list[tuple[int, int]]] = []
        for op in t.operators:
            info = old_ops.get(op)
            _check_max_parallelism(location, op, info, t.max_parallelism)
            olds: list[tuple[int, int]] = []
            if info is not None and info.get("stateful") and int(info.get("parallelism", 0)) != \
                    parallelism[t.vertex_id]:
                _check_rescalable(location, op, info, parallelism[t.vertex_id])
                for s in range(int(info["parallelism"])):
                    found = where.get((op, s))
                    if found is not None:
                        olds.append((_index(files, files_dir, found[0]), found[1]))
                    elif f"{old_vertex.get(op)}:{s}" not in finished:
                        raise SavepointRestoreError(
                            f"Failed to rollback to checkpoint/savepoint {location}. It holds no state of subtask "
                            f"{s} of operator {op} ({info.get('name', '')}), which ran with parallelism "
                            f"{info['parallelism']}: it cannot be rescaled to {parallelism[t.vertex_id]}.")
                mapped.append(None)
            else:
                found = where.get((op, t.subtask))
                mapped.append(None if found is None else (_index(files, files_dir, found[0]), found[1]))
            rescaled.append(olds)
        if t.source:
            _check_source(location, t.source, old_ops.get(t.source), parallelism[t.vertex_id], sources)
        source_file = sources.get((t.source, t.subtask)) if t.source else None
        source = None if source_file is None else _index(files, files_dir, source_file)
        plans[(t.vertex_id, t.subtask)] = RestorePlan(files=files, operators=mapped, source=source,
                                                      rescaled=rescaled if any(rescaled) else [])
    return plans


def _named(op: str, info: Mapping[str, Any]) -> str:
    return f"{op} (uid {info['uid']!r}, {info.get('name', '')})" if info.get("uid") else \
        f"{op} ({info.get('name', '')})"


def _check_max_parallelism(location: str, op: str, info: Mapping[str, Any] | None, new: int) -> None:
    """Flink's refusal: key groups are the unit of rescaling, so their number may never change. A
    `_metadata` from before it was recorded had the only one miniflink ever used. Only state is checked:
    an operator without any has no key groups to map."""
    if info is None or not info.get("stateful"):
        return
    old = int(info.get("max_parallelism", DEFAULT_MAX_PARALLELISM))
    if old != new:
        raise SavepointRestoreError(
            f"Failed to rollback to checkpoint/savepoint {location}. Max parallelism mismatch between "
            f"checkpoint/savepoint state and new program. Cannot map operator {op} with max parallelism {old} "
            f"to new program with max parallelism {new}. This indicates that the program has been changed in "
            f"a non-compatible way after the checkpoint/savepoint.")


def _check_rescalable(location: str, op: str, info: Mapping[str, Any], new: int) -> None:
    """Keyed state and timers split by key group; operator state only when it is broadcast state. An
    operator recorded before `rescalable` was is taken to hold operator state (never drop state silently)."""
    if info.get("rescalable"):
        return
    old = info.get("parallelism")
    raise SavepointRestoreError(
        f"Failed to rollback to checkpoint/savepoint {location}. The operator {_named(op, info)} ran with "
        f"parallelism {old} and now has {new}: it holds operator state (not keyed state), which miniflink "
        f"cannot redistribute; restore with the savepoint's parallelism (-p {old}) or give that operator "
        f"set_parallelism({old}).")


def _check_source(location: str, op: str, info: Mapping[str, Any] | None, new: int,
                  sources: Mapping[tuple[str, int], str]) -> None:
    """A parallel source's position is its own split's (a file's byte range at that parallelism)."""
    if info is None or not any(src == op for src, _ in sources):
        return
    old = int(info.get("parallelism", new))
    if old != new:
        raise SavepointRestoreError(
            f"Failed to rollback to checkpoint/savepoint {location}. The source {_named(op, info)} ran with "
            f"parallelism {old} and now has {new}: its read positions belong to its old splits, which "
            f"miniflink cannot redistribute; restore with the savepoint's parallelism (-p {old}) or give the "
            f"source set_parallelism({old}).")


def _reseal(src: Path, dst: Path, verify: bytes, sign: bytes) -> None:
    """`src` verified under `verify`, written to `dst` sealed under `sign` (its payload never unpickled)."""
    _write_atomic(dst, seal(sign, unseal(verify, src.read_bytes(), str(src))))


def write_savepoint(target: Path, chk_dir: Path, cluster_secret: bytes, savepoint_secret: bytes,
                    meta: dict[str, Any]) -> Path:
    """Copies a completed savepoint's state files from its checkpoint directory into `target`, re-sealed
    under the savepoint key (on YARN the user's, which a later application shares), and writes `_metadata`
    there last (a directory without one is not a savepoint); returns `target`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    target.mkdir(mode=0o700)
    for entry in meta["tasks"].values():
        name = Path(str(entry["file"])).name
        _reseal(chk_dir / name, target / name, cluster_secret, savepoint_secret)
    _write_atomic(target / METADATA, seal(savepoint_secret, json.dumps(meta, sort_keys=True).encode()))
    return target


def read_savepoint(location: str, keys: list[bytes]) -> tuple[dict[str, Any], bytes]:
    """A savepoint's (or retained checkpoint's) `_metadata` and the key it verified under: the savepoint
    key, else this cluster's secret (a checkpoint it retained). CheckpointIntegrityError if neither."""
    path = Path(location) / METADATA
    data = path.read_bytes()
    failure: CheckpointIntegrityError | None = None
    for key in keys:
        try:
            meta = json.loads(unseal(key, data, str(path)))
        except CheckpointIntegrityError as e:
            failure = e
            continue
        if not isinstance(meta, dict):
            raise CheckpointIntegrityError(f"checkpoint metadata {path} is not an object")
        return meta, key
    assert failure is not None
    raise failure


def stage_restore(location: str, meta: dict[str, Any], verify: bytes, staged: Path, cluster_secret: bytes) -> None:
    """Copies the savepoint's state files into `staged` (this job's own checkpoint directory) re-sealed
    under the cluster secret, which is what the TaskManagers verify their restore files with."""
    staged.mkdir(parents=True, mode=0o700, exist_ok=True)
    for entry in meta.get("tasks", {}).values():
        name = Path(str(entry["file"])).name
        _reseal(Path(location) / name, staged / name, verify, cluster_secret)
