"""Sockets: server sockets bound before they are served: port 0 resolves to a real port before any address (a
tracking URL, an AM registration) is made from it, and clients that come early wait in the backlog."""

from __future__ import annotations

import socket


def listening_socket(host: str, port: int, backlog: int = 256) -> socket.socket:
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets whose proto says TCP, and without it
    # every keep-alive response waits 40 ms for a delayed ACK (Nagle).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    return sock


def free_port() -> int:
    """A loopback port nothing listens on right now (for a daemon or a test to take)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])

