"""Staged files: YARN puts an application's files in HDFS; miniyarn puts them in Redis.

A file is stored once under its sha256 and named in a LocalResource as `blob://<sha256>`, so any
NM that can reach Redis can localize it, wherever it runs.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from urllib.parse import urlparse

import redis

from miniyarn import keys
from miniyarn.records import LocalResource, LocalResourceType

SCHEME = "blob"


def digest_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def put(client: redis.Redis, data: bytes) -> LocalResource:
    digest = digest_of(data)
    client.set(keys.blob(digest), data, ex=keys.BLOB_TTL_S)
    return LocalResource(resource=f"{SCHEME}://{digest}", type=LocalResourceType.FILE, size=len(data))


def localize(client: redis.Redis, resource: LocalResource, dest: Path) -> None:
    """Write `resource` to `dest`; raises FileNotFoundError with the URL when it is gone."""
    url = urlparse(resource.resource)
    if url.scheme == SCHEME:
        data = client.get(keys.blob(url.netloc))
        if data is None:
            raise FileNotFoundError(f"Resource {resource.resource} is not staged (expired or never uploaded)")
        if not isinstance(data, bytes):
            raise TypeError("Redis client must not decode responses")
        if digest_of(data) != url.netloc:
            raise ValueError(f"Resource {resource.resource} changed on src filesystem")
        dest.write_bytes(data)
    elif url.scheme in ("file", ""):
        src = Path(url.path)
        if not src.is_file():
            raise FileNotFoundError(f"File {src} does not exist")
        shutil.copyfile(src, dest)
    else:
        raise ValueError(f"Unsupported resource scheme {url.scheme!r} in {resource.resource}")
    if resource.type is LocalResourceType.FILE and dest.suffix in (".sh", ".py"):
        dest.chmod(0o755)
