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
    return free_ports(1)[0]


def free_ports(n: int) -> list[int]:
    """`n` loopback ports nothing listens on right now, all different: each is held until all are picked.
    Daemons started side by side get these, not port 0 or one `free_port()` after another: the kernel may
    hand one of them a port just picked for another still importing (an NM once took its RM's)."""
    held: list[socket.socket] = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            held.append(s)
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in held]
    finally:
        for s in held:
            s.close()



def bound_note(advertised: str, bound: tuple[object, ...]) -> str:
    """What a start-up line adds when the address it names (`host:port`, what clients are told) is not the
    one the socket listens on: a wildcard bind, or a bind beyond the advertised name.

    >>> bound_note("127.0.0.1:8088", ("0.0.0.0", 8088)), bound_note("127.0.0.1:8088", ("127.0.0.1", 8088))
    (', listening on 0.0.0.0:8088', '')
    """
    host, port = str(bound[0]), int(str(bound[1]))
    return "" if advertised == f"{host}:{port}" else f", listening on {host}:{port}"
