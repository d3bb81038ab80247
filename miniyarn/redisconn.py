"""Connecting to the one Redis every daemon meets in, with retries that say where and why.

URLs: `redis://` and `rediss://` (TLS) as redis-py reads them, and, where one Redis is not enough, a
master found through Redis Sentinel:

    redis+sentinel://[user:password@]host:port[,host:port...]/<master name>[/<db>][?sentinel_password=...]

(`rediss+sentinel://` for TLS to the Sentinels and the master). `user:password` is the master's ACL user,
the part role_url() fills in from the credentials dir as for a plain URL; Sentinels that want a password
of their own (`requirepass` in sentinel.conf) get `sentinel_password` (and `sentinel_username`). A client
made from such a URL asks the Sentinels for the master on every new connection, so after a failover the
next command reaches the new master.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

import redis
import redis.sentinel

from miniyarn.security.credentials import Credentials, without_user

log = logging.getLogger(__name__)

# Every read gives up after this long, so a Redis that stops answering (paused, a dead peer behind a live TCP
# connection) raises redis.TimeoutError instead of hanging a daemon loop forever. It must be longer than any
# blocking pop we issue (the AMRM reply wait is 10 s, the NM command wait shorter): a socket timeout below a
# pop's own timeout cut that wait short and turned a slow RM into a failed call.
SOCKET_TIMEOUT_S = 30.0


T = TypeVar("T")

SENTINEL_SCHEMES = {"redis+sentinel": False, "rediss+sentinel": True}  # scheme -> TLS
SENTINEL_PORT = 26379  # redis-sentinel's own default


@dataclass(frozen=True)
class SentinelURL:
    """A `redis+sentinel://` URL, parsed.

    >>> u = SentinelURL.parse("redis+sentinel://nm:s3cret@10.0.0.1:26379,10.0.0.2/mymaster/2")
    >>> u.sentinels, u.service, u.db, u.username, u.password, u.ssl
    ((('10.0.0.1', 26379), ('10.0.0.2', 26379)), 'mymaster', 2, 'nm', 's3cret', False)
    >>> SentinelURL.parse("redis://127.0.0.1:6379/0") is None
    True
    >>> SentinelURL.parse("redis+sentinel://10.0.0.1:26379")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: redis+sentinel://10.0.0.1:26379 names no master: write redis+sentinel://host:port[,host:port]/...
    """

    sentinels: tuple[tuple[str, int], ...]
    service: str
    db: int = 0
    username: str | None = None
    password: str | None = None
    sentinel_username: str | None = None
    sentinel_password: str | None = None
    ssl: bool = False

    @classmethod
    def parse(cls, url: str) -> SentinelURL | None:
        """The parts of `url`, or None for a URL that is not a Sentinel one."""
        parts = urlsplit(url)
        if parts.scheme not in SENTINEL_SCHEMES:
            return None
        userinfo, _, hostlist = parts.netloc.rpartition("@")
        user, _, password = userinfo.partition(":")
        sentinels = []
        for item in (i.strip() for i in hostlist.split(",")):
            if item.startswith("["):  # [v6 address]:port
                host, _, port_s = item[1:].partition("]")
                port_s = port_s.removeprefix(":")
            else:
                host, _, port_s = item.partition(":")
            if not host:
                raise ValueError(f"{_shown(url)} has an empty Sentinel address")
            try:
                sentinels.append((host, int(port_s) if port_s else SENTINEL_PORT))
            except ValueError:
                raise ValueError(f"{_shown(url)}: Sentinel port {port_s!r} is not a number") from None
        path = [unquote(p) for p in parts.path.split("/") if p]
        if not path:
            raise ValueError(f"{_shown(url)} names no master: write "
                             f"{parts.scheme}://host:port[,host:port]/<master name>[/db]")
        try:
            db = int(path[1]) if len(path) > 1 else 0
        except ValueError:
            raise ValueError(f"{_shown(url)}: database {path[1]!r} is not a number") from None
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        return cls(tuple(sentinels), path[0], db, unquote(user) or None, unquote(password) or None,
                   query.get("sentinel_username"), query.get("sentinel_password"), SENTINEL_SCHEMES[parts.scheme])


def _shown(url: str) -> str:
    """`url` fit for a message: no credential, no query (where a Sentinel password may be)."""
    return without_user(url).split("?", 1)[0]


def client_for(url: str, **kwargs: Any) -> redis.Redis:
    """A client for `url` (any scheme above), not yet connected; `kwargs` as redis.Redis takes them."""
    target = SentinelURL.parse(url)
    if target is None:
        client: redis.Redis = redis.Redis.from_url(url, **kwargs)
        return client
    timeouts = {k: kwargs[k] for k in ("socket_connect_timeout", "socket_timeout") if k in kwargs}
    sentinel = redis.sentinel.Sentinel(  # type: ignore[no-untyped-call]
        list(target.sentinels),
        sentinel_kwargs={**timeouts, "username": target.sentinel_username, "password": target.sentinel_password,
                         "ssl": target.ssl},
    )
    master: redis.Redis = sentinel.master_for(  # type: ignore[no-untyped-call]
        target.service, db=target.db, username=target.username, password=target.password, ssl=target.ssl, **kwargs)
    return master


def _sentinel_hosts(pool: redis.sentinel.SentinelConnectionPool) -> str:
    def address(kw: dict[str, Any]) -> str:
        host = str(kw.get("host"))
        return f"[{host}]:{kw.get('port')}" if ":" in host else f"{host}:{kw.get('port')}"

    return ",".join(address(s.connection_pool.connection_kwargs) for s in pool.sentinel_manager.sentinels)


def where(client: redis.Redis) -> str:
    """Whom `client` talks to, for messages: host:port, or the Sentinels' master."""
    pool = client.connection_pool
    if isinstance(pool, redis.sentinel.SentinelConnectionPool):
        return f"master {pool.service_name!r} of the Sentinels at {_sentinel_hosts(pool)}"
    conn = pool.connection_kwargs
    return f"{conn.get('host', '?')}:{conn.get('port', '?')}"


def location(client: redis.Redis) -> str:
    """The URL `client` was made from, without any credential: what the RM hands its AMs (each adds its
    own user), so an AM meets the same Redis (the same Sentinels) as the RM."""
    pool = client.connection_pool
    kw = pool.connection_kwargs
    tls = issubclass(pool.connection_class, redis.SSLConnection)
    if isinstance(pool, redis.sentinel.SentinelConnectionPool):
        scheme = "rediss+sentinel" if tls else "redis+sentinel"
        return f"{scheme}://{_sentinel_hosts(pool)}/{pool.service_name}/{kw.get('db', 0)}"
    scheme = "rediss" if tls else "redis"
    return f"{scheme}://{kw.get('host', '127.0.0.1')}:{kw.get('port', 6379)}/{kw.get('db', 0)}"


def connect(url: str, retries: int = 30, delay_s: float = 0.5) -> redis.Redis:
    """A client for `url`, pinged; retries while Redis is starting (compose starts us together)."""
    try:
        client = client_for(url, socket_connect_timeout=5, socket_timeout=SOCKET_TIMEOUT_S, socket_keepalive=True,
                            health_check_interval=30)
    except ValueError as e:  # a malformed URL: the daemons report a ConnectionError's message and exit
        raise ConnectionError(f"Bad Redis URL {_shown(url)}: {e}") from None
    where_to = where(client)
    for left in range(retries, -1, -1):
        try:
            client.ping()
            return client
        except redis.AuthenticationError as e:
            # Not a Redis that is still starting: retrying a wrong password only delays the message.
            raise ConnectionError(
                f"Redis at {where_to} refused our credentials ({e}); the daemons connect as the users of "
                "--credentials-dir ($MINIYARN_CREDENTIALS_DIR), which redis-server must load with --aclfile "
                "<dir>/redis.acl (see docs/security.md)") from e
        except redis.ConnectionError as e:
            if left == 0:
                raise ConnectionError(
                    f"Cannot reach Redis at {where_to} ({e}); start redis-server or set MINIYARN_REDIS_URL"
                ) from e
            log.warning("Redis at %s not answering (%s); %d retries left", where_to, e, left)
            time.sleep(delay_s)
    raise AssertionError("unreachable")


def text(value: object) -> str:
    """A Redis reply as str (our clients return bytes; redis-py's stubs allow both)."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, str):
        return value
    raise TypeError(f"expected a string reply, got {type(value).__name__}")


def data(value: object) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    raise TypeError(f"expected a bytes reply, got {type(value).__name__}")


def role_url(url: str, credentials: Credentials | None, role: str) -> str:
    """`url` with the Redis user of `role` from `credentials`; without credentials, `url` as given and a
    warning, since such a Redis trusts whoever reaches it (development against a plain redis-server)."""
    if credentials is None:
        log.warning("No credentials directory (--credentials-dir, $MINIYARN_CREDENTIALS_DIR): connecting to "
                    "Redis as %s says. Anyone who can reach that Redis (a container, a local user) can forge "
                    "every message and owns the cluster; see docs/security.md", without_user(url))
        return url
    return credentials.redis_url(url, role)


def is_sentinel(client: redis.Redis) -> bool:
    return isinstance(client.connection_pool, redis.sentinel.SentinelConnectionPool)


# What ride_out waits through by default: Redis not answering. redis.AuthenticationError is a ConnectionError
# too; ride_out treats it apart (auth_grace_s).
OUTAGES: tuple[type[Exception], ...] = (redis.ConnectionError, redis.TimeoutError)


def ride_out(what: str, call: Callable[[], T], max_wait_s: float, interval_s: float = 1.0,
             auth_grace_s: float = 0.0, give_up: Callable[[], bool] | None = None,
             logger: logging.Logger = log, outages: tuple[type[Exception], ...] = OUTAGES,
             refused: Callable[[redis.AuthenticationError], Exception] | None = None) -> T:
    """`call()`, tried again every `interval_s` while Redis cannot answer (down, restarting, paused, a
    Sentinel failover with no master promoted yet), for up to `max_wait_s`; then its error. redis-py's own
    retries (10, backing off to ~4 s at most) end before a Sentinel has promoted a replica (its
    down-after-milliseconds plus an election), so a command sent as the master dies fails unless its caller
    waits longer. A refused password is retried only for `auth_grace_s` (behind Sentinel: a new master the
    RM has not re-created an attempt's user on yet), and `give_up()` ends the wait early (its last error
    raised). Logs the first failure and then every ~10 s, with the time left.

    `outages` are the errors waited through (a caller whose own protocol times out adds its error, as the
    AMRM client does with RMUnavailableError); `refused(e)`, when given, is what a refusal still standing
    when the grace ends is raised as (for an AM, the end of its attempt), instead of the refusal itself.

    >>> ride_out("ping", lambda: "PONG", max_wait_s=1)
    'PONG'
    """
    start = time.monotonic()
    deadline, auth_deadline = start + max_wait_s, start + auth_grace_s
    last_log = 0.0
    while True:
        try:
            return call()
        except outages as e:
            now = time.monotonic()
            limit = auth_deadline if isinstance(e, redis.AuthenticationError) else deadline
            if now >= limit or (give_up is not None and give_up()):
                if refused is not None and isinstance(e, redis.AuthenticationError):
                    raise refused(e) from e
                raise
            if now - last_log >= 10 or not last_log:
                last_log = now
                logger.warning("%s failed (%s: %s); retrying every %.1fs, %.0fs left", what, type(e).__name__,
                               e, interval_s, limit - now)
            time.sleep(min(interval_s, max(0.0, limit - now)))
