"""The cluster's secrets on disk, generated at first start and read only by the daemons.

One directory (mode 0700, `--credentials-dir` or `$MINIYARN_CREDENTIALS_DIR`), one file per secret
(mode 0600), so a deployment can hand each daemon only the files of its role (compose mounts the NM's
without the RM's):

| file | read by | what |
|---|---|---|
| `redis-rm.password` | RM | the Redis ACL user `rm` (all keys, all commands) |
| `redis-nm.password` | NMs | the Redis ACL user `nm` (what a NodeManager does, `redis_acl`) |
| `rm-master.key` | RM | HMAC key the AMRM, container and client-to-AM tokens are derived from |
| `http-signature.secret` | RM, NMs | `hadoop.http.authentication.signature.secret.file`: signs user tokens |
| `redis.acl` | redis-server | `--aclfile`: the users above, `default` off; the RM adds attempt users |

>>> import tempfile; creds = ensure(tempfile.mkdtemp())
>>> len(creds.redis_password("rm")) == 64 and creds.redis_password("rm") != creds.redis_password("nm")
True
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

ENV = "MINIYARN_CREDENTIALS_DIR"
ROLES = ("rm", "nm")
RM_MASTER_KEY = "rm-master.key"
HTTP_SECRET = "http-signature.secret"
REDIS_ACL = "redis.acl"


class CredentialsError(RuntimeError):
    """A secret a daemon needs is missing or unreadable; the message names the file."""


def redis_password_file(role: str) -> str:
    return f"redis-{role}.password"


# The NM's background services are an rq queue of its own (nodemanager.services): the keys rq makes for a
# queue, its jobs and its worker, all named after keys.NM_SERVICES_PREFIX, and rq's two shared sets (the
# queues and the workers, read by `rq info`), the suspension flag read-only, and the worker's command channel.
_NM_RQ = "yarn-nm-*"
_NM_RQ_KEYS = " ".join(
    [f"~rq:{kind}:{_NM_RQ}" for kind in ("queue", "wip", "finished", "failed", "deferred", "scheduled", "canceled",
                                          "ready", "job", "results", "execution", "executions", "worker",
                                          "workers", "clean_registries")]
    # rq writes a job's dependencies under `rq:job::<id>:dependencies` (its own double colon).
    + [f"~rq:job::{_NM_RQ}", "~rq:queues", "~rq:workers", "~rq:clean_groups", "~rq:groups", "%R~rq:suspended",
       "%R~rq:rl-keys", f"&rq:pubsub:{_NM_RQ}"])
# What rq's queue, jobs, registries and SimpleWorker send, as MONITOR showed for enqueue, run, retry, schedule
# and fail (no EVAL: rq's Lua is its scheduler's locks, which nodemanager.services does not take; no KEYS or
# SCAN; CLIENT only to name and describe its own connection; INFO for rq's check of the server's version).
_NM_RQ_COMMANDS = ("+sadd +smembers +srem +del +exists +persist +set +watch +unwatch +hgetall +hincrby "
                   "+hincrbyfloat +zadd +zrem +zrange +zrangebyscore +zremrangebyscore +zcard +llen +xadd "
                   "+subscribe +unsubscribe +client|setname +client|info +info")


def redis_acl(rm_password: str, nm_password: str) -> list[str]:
    """The static users of the ACL file. The NM's rules follow what an NM does: heartbeats onto the RM
    inbox, its command lists (BLMOVE/LREM/LRANGE), grants, app records and blobs read-only (to check a
    start, an application-finished command and to localize), aggregated logs written."""
    nm_keys = ("%W~yarn:rm:inbox ~yarn:nm:* %R~yarn:container:* %R~yarn:app:* %R~yarn:blob:* "
               "~yarn:logs:* " + _NM_RQ_KEYS)
    # +select: a URL may name a database other than 0; +multi +exec: log aggregation is one transaction.
    nm_cmds = ("-@all +ping +hello +auth +select +rpush +blmove +lmove +lrem +lrange "
               "+get +exists +hset +srem +scard +expire +multi +exec " + _NM_RQ_COMMANDS)
    return [
        # `default` is off and has no password (resetpass): nobody can log in as it, so unauthenticated
        # connections get NOAUTH. Its permissions matter only inside Redis: 7.0 replays a MULTI/EXEC or a
        # script from the AOF checking the ACL of `default` (redis/redis#14541), so with `-@all` a restart
        # silently dropped every transaction the RM had written (its whole store pipeline, the fencing script).
        "user default off resetpass ~* &* +@all",
        f"user rm on #{_sha256(rm_password)} ~* &* +@all",
        f"user nm on #{_sha256(nm_password)} resetchannels {nm_keys} {nm_cmds}",
    ]


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def derive(key: bytes, purpose: str, subject: str) -> str:
    """A secret for one `subject` (an attempt id, a container id, ...) under one `purpose`: whoever holds
    `key` (the RM) recomputes it, so none need be stored and an RM restart knows them all again."""
    # hmac.digest is the one-shot C path: the RM derives a token per allocated container.
    return hmac.digest(key, f"{purpose}\0{subject}".encode(), "sha256").hex()


def digest(token: str) -> str:
    """What a verifier that must not learn the token stores instead (a container grant's)."""
    return _sha256(token)


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def with_user(url: str, user: str, password: str) -> str:
    """`url` with `user:password@` in place of whatever credentials it had."""
    parts = urlsplit(url)
    # The host part as written: one host[:port], or a redis+sentinel:// URL's list of them.
    hosts = parts.netloc.rsplit("@", 1)[-1] or "127.0.0.1"
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{hosts}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def without_user(url: str) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


@dataclass(frozen=True)
class Credentials:
    dir: Path

    def _read(self, name: str) -> str:
        path = self.dir / name
        try:
            return path.read_text().strip()
        except OSError as e:
            raise CredentialsError(f"Cannot read {path} ({e.strerror}): the daemons' credentials live in "
                                   f"{self.dir}; start the cluster with the same --credentials-dir") from None

    def redis_password(self, role: str) -> str:
        return self._read(redis_password_file(role))

    def redis_url(self, url: str, role: str) -> str:
        return with_user(url, role, self.redis_password(role))

    def rm_master_key(self) -> bytes:
        return bytes.fromhex(self._read(RM_MASTER_KEY))

    def http_secret(self) -> bytes:
        return self._read(HTTP_SECRET).encode()

    @property
    def acl_file(self) -> Path:
        return self.dir / REDIS_ACL


def _write_secret(path: Path, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")


def ensure(directory: str | Path) -> Credentials:
    """The credentials in `directory`, generating any that are missing (never replacing one: a restart
    must find the secrets its Redis, tokens and running AMs were made with)."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    d.chmod(0o700)
    for role in ROLES:
        if not (d / redis_password_file(role)).exists():
            _write_secret(d / redis_password_file(role), secrets.token_hex(32))
    for name in (RM_MASTER_KEY, HTTP_SECRET):
        if not (d / name).exists():
            _write_secret(d / name, secrets.token_hex(32))
    creds = Credentials(d)
    acl = d / REDIS_ACL
    users = redis_acl(creds.redis_password("rm"), creds.redis_password("nm"))
    if not acl.exists():
        # redis-server rewrites this file on ACL SAVE (the RM's attempt users), so it is made once.
        _write_secret(acl, "\n".join(users))
    else:
        # Only `default`'s line is ours to renew (a file from before its rule changed would let a Redis
        # restart drop transactions); every other user, the RM's attempt users included, is kept as saved.
        lines = acl.read_text().splitlines()
        renewed = [users[0] if line.startswith("user default ") else line for line in lines]
        if renewed != lines:
            tmp = acl.with_name(f".{acl.name}.renew")
            tmp.unlink(missing_ok=True)
            _write_secret(tmp, "\n".join(renewed))
            os.replace(tmp, acl)
    return creds


def from_env(explicit: str | Path | None = None) -> Credentials | None:
    """The credentials named by `explicit` or `$MINIYARN_CREDENTIALS_DIR`, None when neither is set."""
    where = explicit or os.environ.get(ENV)
    if not where:
        return None
    d = Path(where)
    if not d.is_dir():
        raise CredentialsError(f"Credentials directory {d} does not exist; `miniyarn minicluster` makes one, "
                               "or run `miniyarn credentials -init DIR`")
    return Credentials(d)
