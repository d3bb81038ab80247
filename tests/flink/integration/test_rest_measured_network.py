"""What the REST API's back-pressure, idle time and bytes figures are made of, measured over real TCP: a
paused consumer shows as the producer's back-pressured time, a producer that waits shows as the
consumer's idle time, and both sides count the same bytes."""

from __future__ import annotations

import threading
import time

import pytest

from flink_on_yarn.runtime.network import HEADER, InputGate, RecordWriter

pytestmark = pytest.mark.integration

SECRET = b"s" * 64
BATCH = list(range(20_000))  # ~100 KB marshalled: 60 of them exceed the socket buffers many times


def test_paused_consumer_is_back_pressure_and_waiting_is_idle_time() -> None:
    gate = InputGate("127.0.0.1", expected=1, secret=SECRET)
    writer: list[RecordWriter] = []

    def produce() -> None:
        w = RecordWriter("FORWARD", [("127.0.0.1", gate.port)], None, "producer", SECRET)
        writer.append(w)
        time.sleep(0.3)  # the consumer waits for input meanwhile: idle
        for _ in range(60):
            w.emit(BATCH)
        w.emit_watermark(1234)
        w.close()

    t = threading.Thread(target=produce, daemon=True)
    t.start()
    events = gate.events()
    first = next(events)
    idle_before_first = gate.idle_s
    time.sleep(0.6)  # paused: the producer's sendall waits on full buffers
    received = len(first) + sum(len(b) for b in events if type(b) is list)
    t.join(10)
    w = writer[0]
    assert received == 60 * len(BATCH)
    assert idle_before_first >= 0.25, idle_before_first
    assert w.backpressured_s >= 0.4, w.backpressured_s
    # Every frame but the END one counted on both sides (the END frame is the close, not data).
    assert gate.bytes_in == w.bytes_out + HEADER.size and w.bytes_out > 60 * 50_000
    assert w.watermark_out == 1234 and gate.valve.current > 1234  # the END lifts the gate's to Long.MAX
