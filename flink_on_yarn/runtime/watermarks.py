"""Watermarks between tasks: each input channel's latest watermark, and the task's event time as their minimum
(Flink's StatusWatermarkValve, without idleness). A channel that has ended counts as Long.MAX.

>>> v = WatermarkValve(2)
>>> v.on_watermark(0, 10) is None   # channel 1 has not spoken: event time stays at Long.MIN
True
>>> v.on_watermark(1, 7), v.on_watermark(1, 12), v.on_end(0)
(7, 10, 12)
"""

from __future__ import annotations

from dataclasses import dataclass

from flink_on_yarn.common.watermark_strategy import LONG_MAX, LONG_MIN


@dataclass(frozen=True)
class Watermark:
    """What an input gate yields between record batches: event time has reached `timestamp`."""

    timestamp: int


class WatermarkValve:
    def __init__(self, channels: int) -> None:
        self.channels = [LONG_MIN] * channels
        self.current = LONG_MIN

    def on_watermark(self, channel: int, timestamp: int) -> int | None:
        """The task's new event time if this watermark advanced it, else None."""
        if timestamp > self.channels[channel]:
            self.channels[channel] = timestamp
        low = min(self.channels)
        if low > self.current:
            self.current = low
            return low
        return None

    def on_end(self, channel: int) -> int | None:
        return self.on_watermark(channel, LONG_MAX)
