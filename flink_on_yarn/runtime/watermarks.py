"""Watermarks between tasks: each input channel's latest watermark, and the task's event time as their minimum
(Flink's StatusWatermarkValve; a channel whose producer is idle does not count). A channel that has ended
counts as Long.MAX.

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


@dataclass(frozen=True)
class WatermarkStatus:
    """What an input gate yields when its task's input became idle (every channel idle) or active again; the
    task forwards it (Flink's WatermarkStatus.IDLE / ACTIVE)."""

    idle: bool


class WatermarkValve:
    """Flink's StatusWatermarkValve: event time is the minimum over the channels that are active and aligned
    (caught up with it); an idle channel (WatermarkStatus.IDLE from its producer) does not hold it back and its
    watermarks are ignored until it is active again; with every channel idle the task is idle too."""

    def __init__(self, channels: int) -> None:
        self.channels = [LONG_MIN] * channels
        self.idle = [False] * channels
        self.aligned = [True] * channels
        self.current = LONG_MIN
        self.output_idle = False

    def on_watermark(self, channel: int, timestamp: int) -> int | None:
        """The task's new event time if this watermark advanced it, else None."""
        if self.idle[channel]:
            return None
        if timestamp > self.channels[channel]:
            self.channels[channel] = timestamp
            if timestamp >= self.current:
                self.aligned[channel] = True
        return self._advance()

    def _advance(self) -> int | None:
        live = [w for w, idle, aligned in zip(self.channels, self.idle, self.aligned, strict=True)
                if aligned and not idle]
        if live and min(live) > self.current:
            self.current = min(live)
            return self.current
        return None

    def on_end(self, channel: int) -> int | None:
        self.idle[channel] = False  # an ended channel is done, not idle: Long.MAX for good
        return self.on_watermark(channel, LONG_MAX)

    def on_status(self, channel: int, idle: bool) -> tuple[int | None, bool | None]:
        """A channel became idle (or active again): the task's new event time, if any, and its new status
        (True idle, False active) if it changed.

        >>> v = WatermarkValve(2)
        >>> v.on_watermark(0, 10), v.on_status(1, True)      # channel 1 idle: channel 0 alone decides
        (None, (10, None))
        >>> v.on_status(0, True)                             # both idle: the task is idle
        (None, True)
        >>> v.on_status(1, False), v.on_watermark(1, 5), v.on_watermark(1, 12)  # back; counts once caught up
        ((None, False), None, 12)
        >>> v.on_status(0, False), v.on_watermark(1, 14)     # channel 0 is back but behind (10 < 12)
        ((None, None), 14)
        >>> v.on_watermark(0, 13), v.on_watermark(0, 20), v.on_watermark(1, 30)
        (None, None, 20)
        """
        if idle and not self.idle[channel]:
            self.idle[channel] = True
            self.aligned[channel] = False
            if not any(not i for i in self.idle):
                advanced = None
                if self.channels[channel] == self.current:
                    # The last active channel went idle: no channel holds event time back any more.
                    top = max(self.channels)
                    if top > self.current:
                        self.current = advanced = top
                self.output_idle = True
                return advanced, True
            return (self._advance() if self.channels[channel] == self.current else None), None
        if not idle and self.idle[channel]:
            self.idle[channel] = False
            if self.channels[channel] >= self.current:
                self.aligned[channel] = True
            if self.output_idle:
                self.output_idle = False
                return None, False
        return None, None
