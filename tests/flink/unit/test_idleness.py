"""`with_idleness`'s pure parts: the idle-aware generator on a fake clock, and the valve's channel statuses
(Flink's StatusWatermarkValve), plus the two modules' doctests."""

from __future__ import annotations

import doctest

import pytest

from flink_on_yarn.common import watermark_strategy
from flink_on_yarn.common.watermark_strategy import LONG_MAX, Duration, IdleAwareGenerator, WatermarkStrategy
from flink_on_yarn.runtime import watermarks
from flink_on_yarn.runtime.watermarks import WatermarkValve


@pytest.mark.parametrize("module", [watermark_strategy, watermarks])
def test_doctests(module: object) -> None:
    assert doctest.testmod(module).failed == 0  # type: ignore[arg-type]


class First:
    def extract_timestamp(self, value: int, record_timestamp: int) -> int:
        return value


def test_idle_generator_goes_quiet_after_the_timeout_and_back_with_a_record() -> None:
    now = [0]
    strategy = WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_millis(5)) \
        .with_idleness(Duration.of_millis(100)).with_timestamp_assigner(First())
    assert strategy.timestamp_assigner is not None and strategy.idle_timeout_ms == 100
    g = strategy.create_generator(lambda: now[0])
    assert isinstance(g, IdleAwareGenerator)
    g.on_event(50)
    assert g.on_periodic_emit() == 44 and not g.idle
    now[0] = 200
    assert g.on_periodic_emit() == 44  # the quiet starts being measured here
    now[0] = 301
    assert g.on_periodic_emit() is None and g.idle
    g.on_event(60)
    assert not g.idle and g.on_periodic_emit() == 54
    with pytest.raises(ValueError, match="greater than zero"):
        WatermarkStrategy.for_monotonous_timestamps().with_idleness(Duration.of_millis(0))
    assert WatermarkStrategy.for_monotonous_timestamps().with_timestamp_assigner(First()) \
        .with_idleness(Duration.of_seconds(1)).timestamp_assigner is not None


def test_valve_without_statuses_is_the_minimum_over_channels() -> None:
    v = WatermarkValve(3)
    assert [v.on_watermark(0, 5), v.on_watermark(1, 7), v.on_watermark(2, 6), v.on_watermark(0, 9)] == \
        [None, None, 5, 6]
    assert [v.on_end(2), v.on_end(1), v.on_end(0)] == [7, 9, LONG_MAX]


def test_an_idle_channel_does_not_hold_event_time_back() -> None:
    v = WatermarkValve(2)
    assert v.on_watermark(0, 100) is None  # channel 1 has said nothing
    assert v.on_status(1, True) == (100, None)
    assert v.on_watermark(1, 50) is None  # an idle channel's watermarks are ignored
    assert v.on_watermark(0, 150) == 150
    assert v.on_status(0, True) == (None, True)
    assert v.on_status(0, False) == (None, False)
    assert v.on_watermark(0, 160) == 160
    # the last active channel going idle at the current minimum flushes the maximum of all channels
    w = WatermarkValve(2)
    w.on_watermark(0, 10)
    w.on_watermark(1, 30)
    assert w.current == 10
    assert w.on_status(1, True) == (None, None)
    assert w.on_status(0, True) == (30, True)
