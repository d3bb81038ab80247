"""Resource localization (YARN's ResourceLocalizationService, simplified): every local resource of a
launch context is written into the container's work dir under its link name, from Redis
(`blob://`) or the NM's own disk (`file://`). ARCHIVE resources are unpacked into a directory.
"""

from __future__ import annotations

import shutil
import tarfile
import zipfile
from collections.abc import Mapping
from pathlib import Path

import redis

from miniyarn import blobs
from miniyarn.records import LocalResource, LocalResourceType


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


def localize_all(client: redis.Redis, resources: Mapping[str, LocalResource], work_dir: Path) -> None:
    for name, resource in resources.items():
        try:
            dest = link_path(work_dir, name)
            dest.parent.mkdir(parents=True, exist_ok=True)
            if resource.type is LocalResourceType.ARCHIVE:
                tmp = dest.with_name(f".{dest.name}.download")
                blobs.localize(client, resource, tmp)
                _unpack(tmp, dest)
                tmp.unlink()
            else:
                blobs.localize(client, resource, dest)
        except (OSError, ValueError, TypeError, tarfile.TarError, zipfile.BadZipFile, shutil.Error) as e:
            raise LocalizationError(name, resource.resource, str(e)) from e
