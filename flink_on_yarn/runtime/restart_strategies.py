"""Flink's restart strategies, pure: which one a job's configuration names, and for each failure whether the
job restarts and after how long.

Keys as Flink names them: `restart-strategy.type` (or the older `restart-strategy`) = `none` | `off` |
`disable`, `fixed-delay` | `fixeddelay`, `failure-rate` | `failurerate`, `exponential-delay` |
`exponentialdelay`, each with its `restart-strategy.<name>.*` keys and Flink's defaults. With no strategy
set, a job with checkpointing on gets fixed-delay with Integer.MAX_VALUE attempts 1 s apart (Flink's default
before 1.19), and one without gets `none`.

>>> s = from_config({"restart-strategy.type": "fixed-delay", "restart-strategy.fixed-delay.attempts": "2"})
>>> [s.on_failure(now_ms=0) for _ in range(3)]
[1000, 1000, None]
>>> s.description()
'Restart with fixed delay (1000 ms). #2 restart attempts.'
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field

from flink_on_yarn.common.config import parse_duration_ms, parsed_value

INTEGER_MAX = 2**31 - 1
TYPE_KEY = "restart-strategy.type"
LEGACY_KEY = "restart-strategy"
CHECKPOINT_INTERVAL_KEY = "execution.checkpointing.interval"


class RestartStrategy:
    """`on_failure(now_ms)` is called once per failure: the delay before the restart in ms, or None to fail."""

    def on_failure(self, now_ms: int) -> int | None:
        raise NotImplementedError

    def description(self) -> str:
        raise NotImplementedError


class NoRestart(RestartStrategy):
    def on_failure(self, now_ms: int) -> int | None:
        return None

    def description(self) -> str:
        return "Restart deactivated."


@dataclass
class FixedDelay(RestartStrategy):
    attempts: int = 1
    delay_ms: int = 1000
    failures: int = 0

    def on_failure(self, now_ms: int) -> int | None:
        self.failures += 1
        return self.delay_ms if self.failures <= self.attempts else None

    def description(self) -> str:
        return f"Restart with fixed delay ({self.delay_ms} ms). #{self.attempts} restart attempts."


@dataclass
class FailureRate(RestartStrategy):
    """Fails once more than `max_failures` failures fall within `interval_ms` (Flink counts the current one)."""

    max_failures: int = 1
    interval_ms: int = 60_000
    delay_ms: int = 1000
    times: deque[int] = field(default_factory=deque)

    def on_failure(self, now_ms: int) -> int | None:
        self.times.append(now_ms)
        while self.times and self.times[0] <= now_ms - self.interval_ms:
            self.times.popleft()
        return self.delay_ms if len(self.times) <= self.max_failures else None

    def description(self) -> str:
        return (f"Failure rate restart with maximum of {self.max_failures} failures within interval "
                f"{self.interval_ms} ms and fixed delay {self.delay_ms} ms.")


@dataclass
class ExponentialDelay(RestartStrategy):
    """Flink's exponential-delay: the backoff grows by `multiplier` up to `max_backoff_ms`, with ± `jitter`,
    and starts over at `initial_backoff_ms` once the job ran `reset_threshold_ms` without failing."""

    initial_backoff_ms: int = 1000
    max_backoff_ms: int = 60_000
    multiplier: float = 1.5
    reset_threshold_ms: int = 3_600_000
    jitter: float = 0.1
    attempts_before_reset: int = INTEGER_MAX
    current_ms: int = 0
    last_failure_ms: int | None = None
    attempts: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def on_failure(self, now_ms: int) -> int | None:
        if self.last_failure_ms is not None and now_ms - self.last_failure_ms >= self.reset_threshold_ms:
            self.current_ms, self.attempts = 0, 0
        self.last_failure_ms = now_ms
        self.attempts += 1
        if self.attempts > self.attempts_before_reset:
            return None
        self.current_ms = self.initial_backoff_ms if self.current_ms == 0 else \
            min(int(self.current_ms * self.multiplier), self.max_backoff_ms)
        spread = int(self.current_ms * self.jitter)
        return max(0, self.current_ms + (self.rng.randint(-spread, spread) if spread else 0))

    def description(self) -> str:
        return (f"Restart with exponential delay: starting at {self.initial_backoff_ms} ms, increasing by "
                f"{self.multiplier}, with maximum {self.max_backoff_ms} ms.")


class RestartStrategyError(ValueError):
    """An unknown strategy name or a malformed value; the message names the key."""


def _int(conf: dict[str, str], key: str, default: int) -> int:
    return parsed_value(conf, key, default, int, "an integer", RestartStrategyError)


def _ms(conf: dict[str, str], key: str, default: int) -> int:
    return parsed_value(conf, key, default, parse_duration_ms, error=RestartStrategyError)


def _float(conf: dict[str, str], key: str, default: float) -> float:
    return parsed_value(conf, key, default, float, "a number", RestartStrategyError)


def checkpointing_enabled(conf: dict[str, str]) -> bool:
    raw = conf.get(CHECKPOINT_INTERVAL_KEY, "")
    return bool(raw) and parse_duration_ms(raw) > 0


def from_config(conf: dict[str, str]) -> RestartStrategy:
    """The strategy the explicitly set keys in `conf` name (the cluster's merged with the job's)."""
    name = (conf.get(TYPE_KEY) or conf.get(LEGACY_KEY) or "").strip().lower().replace("_", "-")
    if not name:
        return FixedDelay(INTEGER_MAX, 1000) if checkpointing_enabled(conf) else NoRestart()
    p = "restart-strategy."
    if name in ("none", "off", "disable"):
        return NoRestart()
    if name in ("fixed-delay", "fixeddelay"):
        return FixedDelay(_int(conf, p + "fixed-delay.attempts", 1), _ms(conf, p + "fixed-delay.delay", 1000))
    if name in ("failure-rate", "failurerate"):
        return FailureRate(_int(conf, p + "failure-rate.max-failures-per-interval", 1),
                           _ms(conf, p + "failure-rate.failure-rate-interval", 60_000),
                           _ms(conf, p + "failure-rate.delay", 1000))
    if name in ("exponential-delay", "exponentialdelay"):
        e = p + "exponential-delay."
        return ExponentialDelay(_ms(conf, e + "initial-backoff", 1000), _ms(conf, e + "max-backoff", 60_000),
                                _float(conf, e + "backoff-multiplier", 1.5),
                                _ms(conf, e + "reset-backoff-threshold", 3_600_000),
                                _float(conf, e + "jitter-factor", 0.1),
                                _int(conf, e + "attempts-before-reset-backoff", INTEGER_MAX))
    raise RestartStrategyError(
        f"configuration {TYPE_KEY}: unknown restart strategy {name!r} (expected none, fixed-delay, "
        f"failure-rate or exponential-delay)")
