"""JobManager↔TaskManager connections: the cluster handshake first, then length-prefixed JSON messages
(`messages.py`), one TCP connection per TaskManager.

Requests that expect an answer carry an `rid`; the answer echoes it (see Gateway.request).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import struct
from typing import Any

from pydantic import TypeAdapter, ValidationError

from flink_on_yarn.runtime.messages import FileText, Message, ReadFile, encode

_LEN = struct.Struct("!I")
# The largest control message is a deployment, whose operators carry the user's serialized functions:
# a few MB for big closures. 64 MB keeps a confused peer from making us buffer gigabytes.
MAX_FRAME = 64 << 20

log = logging.getLogger("flink_on_yarn.rpc")


async def send(writer: asyncio.StreamWriter, msg: Message) -> None:
    data = encode(msg)
    writer.write(_LEN.pack(len(data)) + data)
    await writer.drain()


async def recv(reader: asyncio.StreamReader, adapter: TypeAdapter[Any], peer: str = "") -> Any | None:
    """The next message `adapter` accepts, or None when the peer has gone or sent something else (which
    is logged and ends the connection: a peer past the handshake that sends garbage is broken)."""
    try:
        header = await reader.readexactly(_LEN.size)
        (n,) = _LEN.unpack(header)
        if n > MAX_FRAME:
            log.warning("Closing the connection from %s: a %d-byte message is over the %d-byte limit", peer, n,
                        MAX_FRAME)
            return None
        data = await reader.readexactly(n)
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    try:
        return adapter.validate_json(data)
    except ValidationError as e:
        log.warning("Closing the connection from %s: not a valid message (%s)", peer,
                    "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors()[:3]))
        return None


class Gateway:
    """One side's handle on the other: fire-and-forget `tell`, and `request` awaiting the reply."""

    _ids = itertools.count(1)

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.pending: dict[int, asyncio.Future[FileText]] = {}
        self.lock = asyncio.Lock()

    async def tell(self, msg: Message) -> None:
        async with self.lock:
            try:
                await send(self.writer, msg)
            except (ConnectionError, RuntimeError):
                pass

    async def request(self, msg: ReadFile, timeout: float = 10.0) -> FileText:
        rid = next(self._ids)
        fut: asyncio.Future[FileText] = asyncio.get_running_loop().create_future()
        self.pending[rid] = fut
        try:
            await self.tell(msg.model_copy(update={"rid": rid}))
            return await asyncio.wait_for(fut, timeout)
        finally:
            self.pending.pop(rid, None)

    def on_reply(self, msg: FileText) -> bool:
        """Completes a pending request; False if none waits for this reply."""
        fut = self.pending.get(msg.reply_to)
        if fut is None:
            return False
        if not fut.done():
            fut.set_result(msg)
        return True

    def close(self) -> None:
        for fut in self.pending.values():
            if not fut.done():
                fut.set_exception(ConnectionError("TaskManager connection closed"))
        self.writer.close()
