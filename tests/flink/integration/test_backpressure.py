"""Back-pressure over real TCP: a paused consumer stops its producer; once it reads again nothing is missing."""

from __future__ import annotations

import threading
import time

import pytest

from flink_on_yarn.runtime.network import InputGate, RecordWriter

pytestmark = pytest.mark.integration

BATCHES = 400
BATCH = list(range(20_000))  # ~100 KB pickled: 400 of them far exceed any socket buffer
SECRET = b"s" * 64


def test_slow_consumer_blocks_producer_without_loss() -> None:
    gate = InputGate("127.0.0.1", expected=1, secret=SECRET)
    sent = [0]

    def produce() -> None:
        writer = RecordWriter("FORWARD", [("127.0.0.1", gate.port)], None, "producer", SECRET)
        for _ in range(BATCHES):
            writer.emit(BATCH)
            sent[0] += 1
        writer.close()

    t = threading.Thread(target=produce, daemon=True)
    t.start()
    batches = gate.batches()
    first = next(batches)  # accept the producer, read one frame, then pause
    time.sleep(1.0)
    paused_at = sent[0]
    assert paused_at < BATCHES, "the producer was not held back by the paused consumer"
    received = len(first) + sum(len(b) for b in batches)
    t.join(10)
    assert received == BATCHES * len(BATCH)
    assert sent[0] == BATCHES
