"""Batches between tasks over real loopback sockets: the wire format a producer picks."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


def test_batches_travel_marshalled_until_one_holds_what_marshal_cannot() -> None:
    import socket
    import threading

    from flink_on_yarn.runtime.network import InputGate, RecordWriter

    secret = b"s" * 64
    gate = InputGate("127.0.0.1", 1, secret)
    got: list[list[object]] = []
    reader = threading.Thread(target=lambda: got.extend(gate.batches()))
    reader.start()
    writer = RecordWriter("FORWARD", [("127.0.0.1", gate.port)], None, "producer", secret)
    writer.emit([("a", 1), ("b", 2)])
    assert writer.marshal_ok
    writer.emit([socket.AF_INET])  # an enum member: pickle only
    assert not writer.marshal_ok
    writer.emit([("c", 3)])
    writer.close()
    reader.join(10)
    assert got == [[("a", 1), ("b", 2)], [socket.AF_INET], [("c", 3)]]
