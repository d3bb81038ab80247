"""Checkpoint files in Flink's layout, `<state.checkpoints.dir>/<job-id>/chk-<n>/`, each file authenticated.

A subtask writes its state (pickled: user objects) to one file in the checkpoint's directory; the JobManager
writes `_metadata` (JSON) naming every subtask's file once all have acknowledged. Every file starts with a
magic line and an HMAC-SHA256 over the rest under the cluster secret, and is refused with
`CheckpointIntegrityError` when the MAC fails: a file anyone but this cluster wrote (the directory may be a
shared volume) is never unpickled.

>>> import tempfile
>>> s = CheckpointStorage(tempfile.mkdtemp(), "0" * 32, b"secret")
>>> path = s.write_state(1, "v_0", b"state")
>>> s.read_state(path)
b'state'
>>> CheckpointStorage(s.base, "0" * 32, b"other").read_state(path)
Traceback (most recent call last):
...
flink_on_yarn.runtime.checkpoint_storage.CheckpointIntegrityError: ...
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

MAGIC = b"MINIFLINK-CHECKPOINT-1\n"
MAC_SIZE = 32
METADATA = "_metadata"
_CHK = re.compile(r"chk-(\d+)")


class CheckpointIntegrityError(RuntimeError):
    """A checkpoint file whose MAC does not verify: not written by this cluster, or altered since."""


def _mac(secret: bytes, payload: bytes) -> bytes:
    return hmac.new(secret, MAGIC + payload, hashlib.sha256).digest()


def seal(secret: bytes, payload: bytes) -> bytes:
    return MAGIC + _mac(secret, payload) + payload


def unseal(secret: bytes, data: bytes, where: str) -> bytes:
    """The payload of a sealed file, or CheckpointIntegrityError naming `where`."""
    if not secret:
        raise CheckpointIntegrityError(f"cannot verify checkpoint file {where}: this process has no cluster secret")
    if not data.startswith(MAGIC) or len(data) < len(MAGIC) + MAC_SIZE:
        raise CheckpointIntegrityError(f"checkpoint file {where} is not a miniflink checkpoint file")
    mac = data[len(MAGIC):len(MAGIC) + MAC_SIZE]
    payload = data[len(MAGIC) + MAC_SIZE:]
    if not hmac.compare_digest(mac, _mac(secret, payload)):
        raise CheckpointIntegrityError(
            f"checkpoint file {where} failed its integrity check (HMAC): it was not written by this cluster "
            f"with its secret, or was altered since; refusing to restore from it")
    return payload


def _write_atomic(path: Path, data: bytes) -> None:
    """Written whole or not at all; readable by this user alone (a checkpoint holds the job's records)."""
    tmp = path.with_name(f".{path.name}.inprogress")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class CheckpointStorage:
    """One job's checkpoints under `base` (`state.checkpoints.dir`)."""

    def __init__(self, base: str | Path, job_id: str, secret: bytes) -> None:
        self.base = Path(base)
        self.job_id = job_id
        self.secret = secret
        self.job_dir = self.base / job_id

    def chk_dir(self, checkpoint_id: int) -> Path:
        return self.job_dir / f"chk-{checkpoint_id}"

    def _make_dir(self, checkpoint_id: int) -> Path:
        self.base.mkdir(parents=True, exist_ok=True)
        self.job_dir.mkdir(mode=0o700, exist_ok=True)
        d = self.chk_dir(checkpoint_id)
        d.mkdir(mode=0o700, exist_ok=True)
        return d

    def write_state(self, checkpoint_id: int, name: str, data: bytes) -> Path:
        d = self._make_dir(checkpoint_id)
        path = d / name
        _write_atomic(path, seal(self.secret, data))
        return path

    def read_state(self, path: str | Path) -> bytes:
        p = Path(path)
        return unseal(self.secret, p.read_bytes(), str(p))

    def write_metadata(self, checkpoint_id: int, metadata: dict[str, Any]) -> Path:
        d = self._make_dir(checkpoint_id)
        path = d / METADATA
        _write_atomic(path, seal(self.secret, json.dumps(metadata, sort_keys=True).encode()))
        return path

    def read_metadata(self, chk_dir: str | Path) -> dict[str, Any]:
        path = Path(chk_dir) / METADATA
        meta = json.loads(unseal(self.secret, path.read_bytes(), str(path)))
        if not isinstance(meta, dict):
            raise CheckpointIntegrityError(f"checkpoint metadata {path} is not an object")
        return meta

    def latest(self) -> Path | None:
        """The newest `chk-<n>` of this job with a `_metadata` file (a completed checkpoint), if any."""
        if not self.job_dir.is_dir():
            return None
        done = [(int(m.group(1)), p) for p in self.job_dir.iterdir()
                if (m := _CHK.fullmatch(p.name)) and (p / METADATA).is_file()]
        return max(done)[1] if done else None

    def discard(self, checkpoint_id: int) -> None:
        shutil.rmtree(self.chk_dir(checkpoint_id), ignore_errors=True)

    def size(self, checkpoint_id: int) -> int:
        d = self.chk_dir(checkpoint_id)
        return sum(p.stat().st_size for p in d.iterdir() if p.is_file()) if d.is_dir() else 0
