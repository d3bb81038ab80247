"""Challenge-response over the cluster secret, run on every JobManager and TaskManager connection before
a single byte of the peer's is deserialized (as `multiprocessing.connection`'s authkey handshake does,
in both directions):

    server → client  MAGIC, server nonce (32 bytes)
    client → server  client nonce (32), HMAC-SHA256(secret, "client" | server nonce | client nonce)
    server → client  HMAC-SHA256(secret, "server" | client nonce | server nonce)

Every message has a fixed size, so a stranger cannot make the server read more than 64 bytes, and the
labels keep one side's proof from being replayed as the other's. The cost is one round trip and three
HMACs per connection; frames after it are not touched.

>>> import threading
>>> a, b = socket.socketpair()
>>> t = threading.Thread(target=server_side, args=(a, b"k" * 32)); t.start()
>>> client_side(b, b"k" * 32); t.join()
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import socket

MAGIC = b"MFLKAUTH"
NONCE = 32
MAC = 32
CHALLENGE_SIZE = len(MAGIC) + NONCE
ANSWER_SIZE = NONCE + MAC
# A peer on the same cluster answers within milliseconds; a few seconds bounds how long a silent stranger
# holds an accept slot.
TIMEOUT_S = 5.0


class HandshakeError(ConnectionError):
    """The peer did not prove it holds the cluster secret (wrong answer, closed, or too slow)."""


def _mac(secret: bytes, label: bytes, first: bytes, second: bytes) -> bytes:
    return hmac.new(secret, label + first + second, hashlib.sha256).digest()


def challenge() -> tuple[bytes, bytes]:
    """(the nonce to remember, the bytes to send)."""
    nonce = secrets.token_bytes(NONCE)
    return nonce, MAGIC + nonce


def check_answer(secret: bytes, server_nonce: bytes, answer: bytes) -> bytes:
    """The server's proof to send back, or HandshakeError."""
    client_nonce, proof = answer[:NONCE], answer[NONCE:]
    if len(answer) != ANSWER_SIZE or not hmac.compare_digest(
            proof, _mac(secret, b"client", server_nonce, client_nonce)):
        raise HandshakeError("the peer's answer to the challenge is wrong: it does not hold the cluster secret")
    return _mac(secret, b"server", client_nonce, server_nonce)


def answer(secret: bytes, challenge_bytes: bytes) -> tuple[bytes, bytes]:
    """(the client nonce, the answer to send) for a server's challenge."""
    if len(challenge_bytes) != CHALLENGE_SIZE or not challenge_bytes.startswith(MAGIC):
        raise HandshakeError("the peer did not open with the cluster handshake")
    server_nonce = challenge_bytes[len(MAGIC):]
    client_nonce = secrets.token_bytes(NONCE)
    return client_nonce, client_nonce + _mac(secret, b"client", server_nonce, client_nonce)


def check_server(secret: bytes, server_nonce: bytes, client_nonce: bytes, proof: bytes) -> None:
    if not hmac.compare_digest(proof, _mac(secret, b"server", client_nonce, server_nonce)):
        raise HandshakeError("the server's proof is wrong: it does not hold the cluster secret")


# --- blocking sockets (the data plane) -----------------------------------------------------------------

def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise HandshakeError("the peer closed the connection during the handshake")
        buf += chunk
    return buf


def server_side(sock: socket.socket, secret: bytes, timeout_s: float = TIMEOUT_S) -> None:
    previous = sock.gettimeout()
    sock.settimeout(timeout_s)
    try:
        nonce, data = challenge()
        sock.sendall(data)
        sock.sendall(check_answer(secret, nonce, _recv_exact(sock, ANSWER_SIZE)))
    except TimeoutError:
        raise HandshakeError(f"the peer did not answer the challenge within {timeout_s:.0f} s") from None
    finally:
        sock.settimeout(previous)


def client_side(sock: socket.socket, secret: bytes, timeout_s: float = TIMEOUT_S) -> None:
    previous = sock.gettimeout()
    sock.settimeout(timeout_s)
    try:
        data = _recv_exact(sock, CHALLENGE_SIZE)
        client_nonce, reply = answer(secret, data)
        sock.sendall(reply)
        check_server(secret, data[len(MAGIC):], client_nonce, _recv_exact(sock, MAC))
    except TimeoutError:
        raise HandshakeError(f"the server did not finish the handshake within {timeout_s:.0f} s") from None
    finally:
        sock.settimeout(previous)


# --- asyncio streams (the JobManager's RPC) -------------------------------------------------------------

async def _read(reader: asyncio.StreamReader, n: int) -> bytes:
    try:
        return await reader.readexactly(n)
    except asyncio.IncompleteReadError:
        raise HandshakeError("the peer closed the connection during the handshake") from None


async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, secret: bytes,
                timeout_s: float = TIMEOUT_S) -> None:
    async def run() -> None:
        nonce, data = challenge()
        writer.write(data)
        await writer.drain()
        writer.write(check_answer(secret, nonce, await _read(reader, ANSWER_SIZE)))
        await writer.drain()

    try:
        await asyncio.wait_for(run(), timeout_s)
    except TimeoutError:
        raise HandshakeError(f"the peer did not answer the challenge within {timeout_s:.0f} s") from None


async def connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, secret: bytes,
                  timeout_s: float = TIMEOUT_S) -> None:
    async def run() -> None:
        data = await _read(reader, CHALLENGE_SIZE)
        client_nonce, reply = answer(secret, data)
        writer.write(reply)
        await writer.drain()
        check_server(secret, data[len(MAGIC):], client_nonce, await _read(reader, MAC))

    try:
        await asyncio.wait_for(run(), timeout_s)
    except TimeoutError:
        raise HandshakeError(f"the server did not finish the handshake within {timeout_s:.0f} s") from None
