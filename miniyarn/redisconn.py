"""Connecting to the one Redis every daemon meets in, with retries that say where and why."""

from __future__ import annotations

import logging
import time

import redis

from miniyarn.security.credentials import Credentials, without_user

log = logging.getLogger(__name__)

# Every read gives up after this long, so a Redis that stops answering (paused, a dead peer behind a live TCP
# connection) raises redis.TimeoutError instead of hanging a daemon loop forever. It must be longer than any
# blocking pop we issue (the AMRM reply wait is 10 s, the NM command wait shorter): a socket timeout below a
# pop's own timeout cut that wait short and turned a slow RM into a failed call.
SOCKET_TIMEOUT_S = 30.0


def connect(url: str, retries: int = 30, delay_s: float = 0.5) -> redis.Redis:
    """A client for `url`, pinged; retries while Redis is starting (compose starts us together)."""
    client: redis.Redis = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=SOCKET_TIMEOUT_S,
                                               socket_keepalive=True, health_check_interval=30)
    conn = client.connection_pool.connection_kwargs
    where = f"{conn.get('host', '?')}:{conn.get('port', '?')}"
    for left in range(retries, -1, -1):
        try:
            client.ping()
            return client
        except redis.AuthenticationError as e:
            # Not a Redis that is still starting: retrying a wrong password only delays the message.
            raise ConnectionError(
                f"Redis at {where} refused our credentials ({e}); the daemons connect as the users of "
                "--credentials-dir ($MINIYARN_CREDENTIALS_DIR), which redis-server must load with --aclfile "
                "<dir>/redis.acl (see docs/security.md)") from e
        except redis.ConnectionError as e:
            if left == 0:
                raise ConnectionError(
                    f"Cannot reach Redis at {where} ({e}); start redis-server or set MINIYARN_REDIS_URL"
                ) from e
            log.warning("Redis at %s not answering (%s); %d retries left", where, e, left)
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
