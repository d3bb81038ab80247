"""The one secret of a Flink cluster, shared by its JobManager, TaskManagers and the clients that may drive it.

Where it comes from, first found wins:

- `$MINIFLINK_CLUSTER_SECRET`: what the YARN ApplicationMaster puts in its TaskManagers' launch context
  (never on a command line, never in `flink-conf.yaml`, so neither `ps` nor `/jobmanager/config` shows it);
- `$MINIYARN_CLIENT_TO_AM_SECRET`: on YARN the application's client-to-AM secret, which the RM gives the AM
  container and presents on every `/proxy/<appId>/` request;
- `security.cluster.secret.file` (our key; Flink itself has no shared secret, only TLS keystores): a file
  holding it;
- standalone: `<env.pid.dir>/flink-<user>-cluster.secret` (next to the daemons' pid files, `/tmp` by default),
  made 0600 by the first JobManager, TaskManager or `start-cluster` that needs it.

A secret file must be a regular file of ours that no one else can read: otherwise it is refused rather
than trusted, since a squatter in `/tmp` could otherwise choose our secret.
"""

from __future__ import annotations

import getpass
import os
import secrets
import stat
from pathlib import Path

from flink_on_yarn.common.config import Configuration

ENV = "MINIFLINK_CLUSTER_SECRET"
YARN_ENV = "MINIYARN_CLIENT_TO_AM_SECRET"
FILE_KEY = "security.cluster.secret.file"
# On YARN, the RM's per-user key (resourcemanager/secret_managers.py) that savepoints are sealed with, so a
# later application of the same user (a new per-job cluster, `run -s`) can verify them.
STATE_ENV = "MINIYARN_USER_STATE_SECRET"


class SecretError(RuntimeError):
    """The secret file is missing, unsafe or unreadable; the message names the file and what to do."""


def default_file(config: Configuration) -> Path:
    d = Path(config.get("env.pid.dir", "") or os.environ.get("FLINK_PID_DIR", "") or "/tmp")
    return d / f"flink-{getpass.getuser()}-cluster.secret"


def secret_file(config: Configuration) -> Path:
    explicit = config.get(FILE_KEY, "")
    return Path(explicit) if explicit else default_file(config)


def _check(path: Path, fd: int) -> None:
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise SecretError(f"Refusing the cluster secret file {path}: it must be a regular file owned by "
                          f"{getpass.getuser()} with mode 0600; remove it and start the cluster again")


def read_file(path: Path) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as e:
        raise SecretError(f"Cannot read the cluster secret file {path} ({e.strerror}); start the cluster "
                          f"(`miniflink start-cluster`) or set {FILE_KEY}") from None
    try:
        _check(path, fd)
        value = os.read(fd, 4096).strip()
    finally:
        os.close(fd)
    if len(value) < 32:
        raise SecretError(f"The cluster secret file {path} holds fewer than 32 characters; remove it and "
                          "start the cluster again")
    return value


def ensure_file(path: Path) -> bytes:
    """The secret in `path`, made (0600, never replacing one) if there is none yet."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        return read_file(path)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(32) + "\n")
    return read_file(path)


def from_env() -> bytes | None:
    value = os.environ.get(ENV) or os.environ.get(YARN_ENV)
    return value.encode() if value else None


def state_secret(cluster: bytes) -> bytes:
    """What savepoints are sealed with: on YARN the user's state key, else the cluster secret (a standalone
    cluster's lives in its file as long as the file does)."""
    value = os.environ.get(STATE_ENV)
    return value.encode() if value else cluster


def load(config: Configuration, create: bool = True) -> bytes:
    """The daemons' view: the environment's secret, else the file's (made when `create`)."""
    found = from_env()
    if found is not None:
        return found
    path = secret_file(config)
    return ensure_file(path) if create else read_file(path)


def for_client(config: Configuration) -> bytes | None:
    """A standalone client's view: the same user's secret file if there is one, else nothing."""
    found = from_env()
    if found is not None:
        return found
    path = secret_file(config)
    try:
        return read_file(path)
    except SecretError:
        return None
