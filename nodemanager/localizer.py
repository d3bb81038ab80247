"""Resource localization (YARN's ResourceLocalizationService, simplified): every local resource of a
launch context is written into the container's work dir under its link name, from Redis
(`blob://`) or the NM's own disk (`file://`). ARCHIVE resources are unpacked into a directory.
"""

from __future__ import annotations

import logging
import shutil
import tarfile
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path

import redis

from miniyarn import blobs
from miniyarn.records import LocalResource, LocalResourceType
from miniyarn.redisconn import ride_out

log = logging.getLogger("nodemanager.ResourceLocalizationService")

# A blob read while Redis restarts (from its AOF, a few seconds) or fails over waits for it instead of failing
# the container (a lost AM container fails its whole app). A minute covers both; a container that cannot be
# localized in a minute is better reported failed than left waiting. Each container localizes on its own thread.
REDIS_WAIT_S = 60.0
RETRY_S = 0.5


class LocalizationError(Exception):
    """A resource could not be localized; `name` and `url` say which."""

    def __init__(self, name: str, url: str, message: str) -> None:
        super().__init__(message)
        self.name = name
        self.url = url


def link_path(work_dir: Path, name: str) -> Path:
    """Where `name` goes; names may hold sub-directories but never leave the work dir."""
    dest = (work_dir / name).resolve()
    if name.startswith("/") or not dest.is_relative_to(work_dir.resolve()) or dest == work_dir.resolve():
        raise ValueError(f"Invalid local resource name {name!r}: it must be a relative path inside the work dir")
    return dest


def _unpack(archive: Path, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as z:
            z.extractall(dest)
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as t:
            t.extractall(dest, filter="data")
    else:
        raise ValueError(f"Resource is an ARCHIVE but neither zip nor tar: {archive.name}")


def localize_all(client: redis.Redis, resources: Mapping[str, LocalResource], work_dir: Path,
                 redis_wait_s: float = REDIS_WAIT_S, give_up: Callable[[], bool] | None = None) -> None:
    """Every resource into `work_dir`. A Redis that cannot answer (restarting, failing over) is waited for up to
    `redis_wait_s` per resource, or until `give_up()` (the container killed meanwhile)."""
    for name, resource in resources.items():
        try:
            dest = link_path(work_dir, name)
            dest.parent.mkdir(parents=True, exist_ok=True)
            if resource.type is LocalResourceType.ARCHIVE:
                tmp = dest.with_name(f".{dest.name}.download")
                _fetch(client, name, resource, tmp, redis_wait_s, give_up)
                _unpack(tmp, dest)
                tmp.unlink()
            else:
                _fetch(client, name, resource, dest, redis_wait_s, give_up)
        except (OSError, ValueError, TypeError, tarfile.TarError, zipfile.BadZipFile, shutil.Error) as e:
            raise LocalizationError(name, resource.resource, str(e)) from e


def _fetch(client: redis.Redis, name: str, resource: LocalResource, dest: Path, redis_wait_s: float,
           give_up: Callable[[], bool] | None) -> None:
    try:
        ride_out(f"Localizing {resource.resource}", lambda: blobs.localize(client, resource, dest), redis_wait_s,
                 interval_s=RETRY_S, give_up=give_up, logger=log)
    except (redis.ConnectionError, redis.TimeoutError) as e:
        raise LocalizationError(name, resource.resource, f"Redis unreachable for {redis_wait_s:.0f}s while "
                                f"localizing ({type(e).__name__}: {e})") from e
