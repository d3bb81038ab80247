"""A stand-in for `nc -lk` that tests and their socket word counts share."""

from __future__ import annotations

import socket
import threading


class LineServer:
    """Every connection gets `lines`, then stays open: a socket word count does not end by itself, and a
    restarted job reads the same lines again. `close()` closes every connection, which ends the source
    (and so a job with nothing else to read)."""

    def __init__(self, lines: list[str], host: str = "127.0.0.1") -> None:
        # `host`: the address clients reach it at (a Docker network's gateway for containers on it).
        self.data = "".join(line + "\n" for line in lines).encode()
        self.host = host
        self.sock = socket.create_server((host, 0))
        self.port = int(self.sock.getsockname()[1])
        self.conns: list[socket.socket] = []
        self.connected = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            conn.sendall(self.data)
            self.connected.set()

    def close(self) -> None:
        self.sock.close()
        for c in self.conns:
            c.close()
