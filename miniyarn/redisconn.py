"""Connecting to the one Redis every daemon meets in, with retries that say where and why."""

from __future__ import annotations

import logging
import time

import redis

log = logging.getLogger(__name__)


def connect(url: str, retries: int = 30, delay_s: float = 0.5) -> redis.Redis:
    """A client for `url`, pinged; retries while Redis is starting (compose starts us together)."""
    client: redis.Redis = redis.Redis.from_url(url, socket_connect_timeout=5, health_check_interval=30)
    conn = client.connection_pool.connection_kwargs
    where = f"{conn.get('host', '?')}:{conn.get('port', '?')}"
    for left in range(retries, -1, -1):
        try:
            client.ping()
            return client
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
