"""JobManager↔TaskManager messages: length-prefixed pickled dicts over one TCP connection per TaskManager.

Requests that expect an answer carry an `rid`; the answer echoes it (see Gateway.request).
"""

from __future__ import annotations

import asyncio
import itertools
import pickle
import struct
from typing import Any

_LEN = struct.Struct("!I")
Message = dict[str, Any]


async def send(writer: asyncio.StreamWriter, msg: Message) -> None:
    data = pickle.dumps(msg, protocol=5)
    writer.write(_LEN.pack(len(data)) + data)
    await writer.drain()


async def recv(reader: asyncio.StreamReader) -> Message | None:
    """The next message, or None when the peer has gone."""
    try:
        header = await reader.readexactly(_LEN.size)
        (n,) = _LEN.unpack(header)
        msg = pickle.loads(await reader.readexactly(n))
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    if not isinstance(msg, dict):
        return None
    return msg


class Gateway:
    """One side's handle on the other: fire-and-forget `tell`, and `request` awaiting the reply."""

    _ids = itertools.count(1)

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.pending: dict[int, asyncio.Future[Message]] = {}
        self.lock = asyncio.Lock()

    async def tell(self, msg: Message) -> None:
        async with self.lock:
            try:
                await send(self.writer, msg)
            except (ConnectionError, RuntimeError):
                pass

    async def request(self, msg: Message, timeout: float = 10.0) -> Message:
        rid = next(self._ids)
        fut: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self.pending[rid] = fut
        try:
            await self.tell({**msg, "rid": rid})
            return await asyncio.wait_for(fut, timeout)
        finally:
            self.pending.pop(rid, None)

    def on_reply(self, msg: Message) -> bool:
        """Completes a pending request; False if the message was not a reply."""
        fut = self.pending.get(msg.get("reply_to", -1))
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
