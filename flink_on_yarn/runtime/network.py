"""Records between tasks over TCP: framed batches (marshal or pickle), one connection per producer→consumer channel.

Every connection starts with the cluster handshake (flink_on_yarn.security.handshake): an input gate reads
no frame, and so unpickles nothing, from a peer that has not proven it holds the cluster secret; such a
peer is logged and closed, and does not count as one of the gate's producers. Batches after it stay
marshal/pickle: they are the application's own records between its own authenticated tasks.

Back-pressure is TCP's own: a consumer reads a frame only when it has processed the previous one, so a slow
consumer fills its socket buffers and the producer's `sendall` blocks. Nothing is dropped; the memory held
per channel is bounded by the kernel's socket buffers plus one frame.
"""

from __future__ import annotations

import logging
import marshal
import pickle
import selectors
import socket
import struct
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from flink_on_yarn.common.watermark_strategy import LONG_MIN
from flink_on_yarn.graph.partitioning import hash_partition, key_group_table, rebalance_partition
from flink_on_yarn.runtime.checkpoint_barrier import BarrierAligner, CheckpointBarrier
from flink_on_yarn.runtime.watermarks import Watermark, WatermarkStatus, WatermarkValve
from flink_on_yarn.security import handshake

log = logging.getLogger("flink_on_yarn.network")

HEADER = struct.Struct("!IB")
# DATA carries a pickled batch; MARSHALLED one in marshal's format, five times cheaper to write for what
# most jobs ship (tuples of str/int/float), used until a batch holds anything else. WATERMARK carries a
# watermark (a signed 64-bit timestamp): its own frame, in order with the batches around it. BARRIER
# carries a checkpoint barrier (checkpoint_barrier.py), likewise in order. END_OF_DATA (Flink's EndOfData
# event): the producer has sent its last record and finished its operators, but stays connected until its final
# checkpoint completes (it still sends that checkpoint's barrier); END follows then.
# WATERMARK_STATUS: the producer's output became idle (payload 1: `with_idleness` saw no record for its
# timeout) or active again (0), in order with the batches.
DATA, END, HELLO, MARSHALLED, WATERMARK, BARRIER, END_OF_DATA, WATERMARK_STATUS = 1, 2, 3, 4, 5, 6, 7, 8
TIMESTAMP = struct.Struct("!q")
# A gate with processing-time timers waits for input at most this long past a timer's time.
TICK_SLACK_S = 0.005
# What a gate yields when a processing-time timer is due and no input came.
TICK = object()
# What a gate yields once every producer has sent END_OF_DATA: the task's input has ended, its final
# checkpoint is still to come.
INPUT_ENDED = object()
# Producers connect right after their consumers reported listening; a few seconds covers a slow accept.
CONNECT_TIMEOUT_S = 10.0


def send_frame(sock: socket.socket, kind: int, payload: bytes = b"") -> None:
    header = HEADER.pack(len(payload), kind)
    if len(payload) < 65536:
        sock.sendall(header + payload)
    else:
        sock.sendall(header)
        sock.sendall(payload)


def recv_exact(sock: socket.socket, n: int) -> bytes | None:
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = sock.recv_into(view[got:], n - got)
        if k == 0:
            return None
        got += k
    return bytes(buf)


def recv_frame(sock: socket.socket) -> tuple[int, bytes] | None:
    header = recv_exact(sock, HEADER.size)
    if header is None:
        return None
    length, kind = HEADER.unpack(header)
    payload = recv_exact(sock, length) if length else b""
    if payload is None:
        return None
    return kind, payload


def connect(address: tuple[str, int]) -> socket.socket:
    deadline = time.monotonic() + CONNECT_TIMEOUT_S
    while True:
        try:
            sock = socket.create_connection(address, timeout=CONNECT_TIMEOUT_S)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    sock.settimeout(None)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class RecordWriter:
    """One output edge of a task: partitions each batch and ships one frame per non-empty target."""

    def __init__(self, strategy: str, targets: list[tuple[str, int]], key_selector: Any, producer: str,
                 secret: bytes) -> None:
        self.strategy = strategy
        self.channels = [connect(t) for t in targets]
        for ch in self.channels:
            handshake.client_side(ch, secret)
            send_frame(ch, HELLO, producer.encode())
        self.n = len(self.channels)
        self.key = getattr(key_selector, "get_key", key_selector)
        self.table = key_group_table(self.n)
        self.next = 0
        self.records_out = 0
        # Counted for task_metrics.py: bytes sent (headers included), time `sendall` waited, last watermark.
        self.bytes_out = 0
        self.backpressured_s = 0.0
        self.watermark_out = LONG_MIN
        self.marshal_ok = True

    def _send(self, channel: socket.socket, batch: list[Any]) -> None:
        if self.marshal_ok:
            try:
                self._frame(channel, MARSHALLED, marshal.dumps(batch))
                return
            except ValueError:  # an object marshal does not know (a class instance, a namedtuple)
                self.marshal_ok = False
        self._frame(channel, DATA, pickle.dumps(batch, protocol=5))

    def _frame(self, channel: socket.socket, kind: int, payload: bytes) -> None:
        started = time.perf_counter()
        send_frame(channel, kind, payload)
        self.backpressured_s += time.perf_counter() - started
        self.bytes_out += HEADER.size + len(payload)

    def emit(self, batch: list[Any]) -> None:
        self.records_out += len(batch)
        if self.n == 1:
            self._send(self.channels[0], batch)
        elif self.strategy == "HASH":
            for ch, part in zip(self.channels, hash_partition(batch, self.key, self.table, self.n), strict=True):
                if part:
                    self._send(ch, part)
        elif len(batch) < self.n:
            for record in batch:
                self._send(self.channels[self.next], [record])
                self.next = (self.next + 1) % self.n
        else:
            for ch, part in zip(self.channels, rebalance_partition(batch, self.n, self.next), strict=True):
                self._send(ch, part)
            self.next = (self.next + len(batch)) % self.n

    def emit_watermark(self, timestamp: int) -> None:
        """To every channel: each consumer takes the minimum over its producers."""
        payload = TIMESTAMP.pack(timestamp)
        self.watermark_out = timestamp
        for ch in self.channels:
            self._frame(ch, WATERMARK, payload)

    def emit_barrier(self, barrier: CheckpointBarrier) -> None:
        """To every channel, behind every batch sent before it."""
        payload = barrier.pack()
        for ch in self.channels:
            send_frame(ch, BARRIER, payload)

    def emit_status(self, idle: bool) -> None:
        """To every channel: an idle producer does not hold back its consumers' event time."""
        for ch in self.channels:
            self._frame(ch, WATERMARK_STATUS, b"\x01" if idle else b"\x00")

    def emit_end_of_data(self) -> None:
        """To every channel, behind the last batch and watermark: no more records come."""
        for ch in self.channels:
            send_frame(ch, END_OF_DATA)

    def close(self) -> None:
        for ch in self.channels:
            try:
                send_frame(ch, END)
                # The kernel keeps delivering what is buffered after close, so no need to wait for the reader.
                ch.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            finally:
                ch.close()


@dataclass
class _Producer:
    """An authenticated producer of this gate: its name (for errors) and its channel index (for watermarks)."""

    name: str
    index: int


@dataclass
class _Handshaking:
    """An accepted connection that has not yet answered the gate's challenge."""

    peer: str
    nonce: bytes
    deadline: float
    answer: bytearray = field(default_factory=bytearray)


class InputGate:
    """The listening side of a task: accepts its producers and yields their batches until all have ended.
    It stops listening once all its producers are connected."""

    def __init__(self, bind_host: str, expected: int, secret: bytes) -> None:
        self.server = socket.create_server((bind_host, 0), backlog=max(16, expected))
        self.port: int = self.server.getsockname()[1]
        self.expected = expected
        self.secret = secret
        self.records_in = 0
        # Counted for task_metrics.py: bytes received (headers included), time spent waiting for input.
        self.bytes_in = 0
        self.idle_s = 0.0
        self.refused = 0
        self.accepted = 0
        self.valve = WatermarkValve(expected)
        self.aligner = BarrierAligner(expected)
        # Channels that delivered the barrier being aligned: out of the selector, their frames wait in the
        # kernel's buffers (which back-pressures their producers) until the alignment ends.
        self.blocked: dict[int, tuple[socket.socket, _Producer]] = {}

    def _refuse(self, sel: selectors.BaseSelector, conn: socket.socket, peer: str, why: str) -> None:
        log.warning("Refused a connection to the input gate on port %d from %s: %s", self.port, peer, why)
        self.refused += 1
        sel.unregister(conn)
        conn.close()

    def _accept(self, sel: selectors.BaseSelector) -> None:
        conn, addr = self.server.accept()
        peer = f"{addr[0]}:{addr[1]}"
        nonce, challenge = handshake.challenge()
        try:
            conn.sendall(challenge)  # 40 bytes into an empty socket buffer: never blocks
        except OSError:
            conn.close()
            return
        conn.setblocking(False)
        sel.register(conn, selectors.EVENT_READ,
                     _Handshaking(peer, nonce, time.monotonic() + handshake.TIMEOUT_S))

    def _on_answer(self, sel: selectors.BaseSelector, conn: socket.socket, pending: _Handshaking) -> bool:
        """Reads what the peer has sent of its answer; True once it is a producer of this gate."""
        try:
            chunk = conn.recv(handshake.ANSWER_SIZE - len(pending.answer))
        except BlockingIOError:
            return False
        except OSError as e:
            self._refuse(sel, conn, pending.peer, str(e))
            return False
        if not chunk:
            self._refuse(sel, conn, pending.peer, "closed before answering the challenge")
            return False
        pending.answer += chunk
        if len(pending.answer) < handshake.ANSWER_SIZE:
            return False
        try:
            proof = handshake.check_answer(self.secret, pending.nonce, bytes(pending.answer))
            conn.settimeout(handshake.TIMEOUT_S)
            conn.sendall(proof)
            hello = recv_frame(conn)
        except (handshake.HandshakeError, OSError) as e:
            self._refuse(sel, conn, pending.peer, str(e))
            return False
        if hello is None or hello[0] != HELLO:
            self._refuse(sel, conn, pending.peer, "no HELLO after the handshake")
            return False
        conn.settimeout(None)
        sel.modify(conn, selectors.EVENT_READ, _Producer(hello[1].decode(errors="replace"), self.accepted))
        self.accepted += 1
        return True

    def _expire(self, sel: selectors.BaseSelector) -> None:
        now = time.monotonic()
        for key in list(sel.get_map().values()):
            if isinstance(key.data, _Handshaking) and key.data.deadline < now and \
                    isinstance(key.fileobj, socket.socket):
                self._refuse(sel, key.fileobj, key.data.peer,
                             f"no answer to the challenge within {handshake.TIMEOUT_S:.0f} s")

    def batches(self, should_stop: Callable[[], bool] = lambda: False) -> Iterator[list[Any]]:
        """The record batches alone, for a reader without event time: watermarks are left out."""
        for item in self.events(should_stop):
            if type(item) is list:
                yield item

    def events(self, should_stop: Callable[[], bool] = lambda: False,
               next_timer: Callable[[], int | None] | None = None) -> Iterator[Any]:
        """Record batches (lists), `Watermark`s when the minimum over the producers advances, a
        `CheckpointBarrier` once every producer has sent it (aligned), `INPUT_ENDED` once every producer has
        sent END_OF_DATA (a producer that ends without it, as a stop-with-savepoint's, never does), and `TICK`
        when `next_timer()` (epoch ms) has come with no input, until every producer has ended."""
        sel = selectors.DefaultSelector()
        sel.register(self.server, selectors.EVENT_READ, None)
        accepted = ended = 0
        end_of_data: set[int] = set()
        try:
            while ended < self.expected and not should_stop():
                timeout = 1.0
                if next_timer is not None:
                    due = next_timer()
                    if due is not None:
                        timeout = min(timeout, max(0.0, due / 1000 - time.time()) + TICK_SLACK_S)
                waited = time.perf_counter()
                events = sel.select(timeout=timeout)
                self.idle_s += time.perf_counter() - waited
                if not events and next_timer is not None:
                    yield TICK
                for key, _ in events:
                    if key.data is None:
                        self._accept(sel)
                        continue
                    conn = key.fileobj
                    assert isinstance(conn, socket.socket)
                    if isinstance(key.data, _Handshaking):
                        if self._on_answer(sel, conn, key.data):
                            accepted += 1
                            if accepted == self.expected:
                                # Every producer is here: no one else has any business on this port.
                                sel.unregister(self.server)
                                self.server.close()
                        continue
                    frame = recv_frame(conn)
                    producer = key.data
                    assert isinstance(producer, _Producer)
                    if frame is None:
                        raise ConnectionError(f"upstream task {producer.name} went away before the end of its data")
                    kind, payload = frame
                    self.bytes_in += HEADER.size + len(payload)
                    if kind == DATA or kind == MARSHALLED:
                        batch = marshal.loads(payload) if kind == MARSHALLED else pickle.loads(payload)
                        self.records_in += len(batch)
                        yield batch
                    elif kind == WATERMARK:
                        advanced = self.valve.on_watermark(producer.index, TIMESTAMP.unpack(payload)[0])
                        if advanced is not None:
                            yield Watermark(advanced)
                    elif kind == BARRIER:
                        barrier = CheckpointBarrier.unpack(payload)
                        block, aligned = self.aligner.on_barrier(producer.index, barrier.checkpoint_id)
                        self._unblock(sel)
                        if block:
                            sel.unregister(conn)
                            self.blocked[producer.index] = (conn, producer)
                        if aligned is not None:
                            yield barrier
                    elif kind == WATERMARK_STATUS:
                        advanced, status = self.valve.on_status(producer.index, payload == b"\x01")
                        if advanced is not None:
                            yield Watermark(advanced)
                        if status is not None:
                            yield WatermarkStatus(status)
                    elif kind == END_OF_DATA:
                        end_of_data.add(producer.index)
                        if len(end_of_data) == self.expected:
                            yield INPUT_ENDED
                    elif kind == END:
                        sel.unregister(conn)
                        conn.close()
                        ended += 1
                        aligned = self.aligner.on_end(producer.index)
                        self._unblock(sel)
                        if aligned is not None:
                            yield CheckpointBarrier(aligned, int(time.time() * 1000))
                        advanced = self.valve.on_end(producer.index)
                        if advanced is not None:
                            yield Watermark(advanced)
                self._expire(sel)
        finally:
            for key in list(sel.get_map().values()):
                if key.data is not None and isinstance(key.fileobj, socket.socket):
                    key.fileobj.close()
            for conn, _ in self.blocked.values():
                conn.close()
            sel.close()
            self.server.close()

    def _unblock(self, sel: selectors.BaseSelector) -> None:
        """Back into the selector: every blocked channel the aligner no longer holds."""
        for index in [i for i in self.blocked if i not in self.aligner.blocked]:
            conn, producer = self.blocked.pop(index)
            sel.register(conn, selectors.EVENT_READ, producer)
