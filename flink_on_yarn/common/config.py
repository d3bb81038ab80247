"""Flink configuration: `flink-conf.yaml` from `$FLINK_CONF_DIR`, overridden by `-D key=value`, with Flink's keys.

Values stay strings (as Flink's flat YAML file has them); typed getters parse durations (`30 s`, `500ms`)
and sizes the way Flink writes them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

import yaml

DEFAULTS: dict[str, str] = {
    "jobmanager.rpc.address": "localhost",
    "jobmanager.rpc.port": "6123",
    "rest.port": "8081",
    "rest.address": "",
    # Empty: the address the JobManager was given (see bind_address), not every interface.
    "rest.bind-address": "",
    "taskmanager.numberOfTaskSlots": "1",
    "parallelism.default": "1",
    # Flink's defaults: a TM silent for 50 s is lost; it reports every 10 s.
    "heartbeat.interval": "10000",
    "heartbeat.timeout": "50000",
    "slot.request.timeout": "300000",
    "resourcemanager.taskmanager-timeout": "30000",
    "restart-strategy": "none",
    "restart-strategy.fixed-delay.attempts": "1",
    "restart-strategy.fixed-delay.delay": "1 s",
    "taskmanager.registration.timeout": "5 min",
    "jobmanager.memory.process.size": "1600m",
    "taskmanager.memory.process.size": "1728m",
}

_UNITS_MS = {"": 1, "ms": 1, "milli": 1, "millis": 1, "s": 1000, "sec": 1000, "secs": 1000, "second": 1000,
             "seconds": 1000, "min": 60_000, "mins": 60_000, "minute": 60_000, "minutes": 60_000, "m": 60_000,
             "h": 3_600_000, "hour": 3_600_000, "hours": 3_600_000, "d": 86_400_000, "day": 86_400_000}


def parse_duration_ms(value: str | int | float) -> int:
    """Flink's duration syntax: a bare number is milliseconds; `1 s`, `30s`, `5 min` as written."""
    if isinstance(value, (int, float)):
        return int(value)
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", value)
    if m is None or m.group(2).lower() not in _UNITS_MS:
        raise ValueError(f"not a duration: {value!r} (expected e.g. '500 ms', '10 s', '5 min')")
    return int(float(m.group(1)) * _UNITS_MS[m.group(2).lower()])


T = TypeVar("T")


def parsed_value(conf: Mapping[str, str], key: str, default: T, parse: Callable[[str], T],
                 expected: str | None = None, error: type[ValueError] = ValueError) -> T:
    """`conf[key]` through `parse`, `default` when unset or empty. A malformed value is an `error` naming the
    key: "expected <expected>, got '<value>'" or, without `expected`, the parser's own message.

    >>> parsed_value({"a": "7"}, "a", 1, int, "an integer"), parsed_value({"a": ""}, "a", 1, int, "an integer")
    (7, 1)
    """
    raw = conf.get(key)
    if raw is None or raw == "":
        return default
    try:
        return parse(raw)
    except ValueError as e:
        why = str(e) if expected is None else f"expected {expected}, got {raw!r}"
        raise error(f"configuration {key}: {why}") from None


def parse_dynamic(items: list[str]) -> dict[str, str]:
    """`-D key=value` arguments into a dict; a missing `=` is a one-line error."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"-D expects key=value, got {item!r}")
        out[key.strip()] = value.strip()
    return out


def conf_dir() -> Path | None:
    env = os.environ.get("FLINK_CONF_DIR")
    if env:
        return Path(env)
    home = os.environ.get("FLINK_HOME")
    return Path(home) / "conf" if home else None


def load_yaml(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected 'key: value' lines")
    return {str(k): "" if v is None else str(v) for k, v in data.items()}


def bind_address(config: Configuration, key: str) -> str:
    """Where a JobManager socket listens: `key` (`rest.bind-address`, `jobmanager.bind-host`) when set,
    else the address it advertises (`rest.address`, `jobmanager.rpc.address`), so a cluster on loopback
    stays on loopback and one on YARN listens on its container's host alone.

    >>> bind_address(Configuration({"jobmanager.rpc.address": "10.0.0.5"}), "rest.bind-address")
    '10.0.0.5'
    """
    explicit = config.get(key, "")
    if explicit:
        return explicit
    if key == "rest.bind-address" and config.get("rest.address", ""):
        return config.get("rest.address")
    return config.get("jobmanager.rpc.address") or "127.0.0.1"


class Configuration:
    """Flink's flat key/value configuration.

    >>> c = Configuration({"heartbeat.timeout": "5 s"})
    >>> c.get_duration_ms("heartbeat.timeout")
    5000
    """

    def __init__(self, values: dict[str, str] | None = None) -> None:
        self._values: dict[str, str] = dict(values or {})

    @classmethod
    def load(cls, dynamic: dict[str, str] | None = None, directory: Path | None = None) -> Configuration:
        d = directory if directory is not None else conf_dir()
        values = load_yaml(d / "flink-conf.yaml") if d is not None else {}
        if d is not None and not values:
            values = load_yaml(d / "config.yaml")
        values.update(dynamic or {})
        return cls(values)

    def get(self, key: str, default: str | None = None) -> str:
        if key in self._values:
            return self._values[key]
        if default is not None:
            return default
        return DEFAULTS.get(key, "")

    def contains(self, key: str) -> bool:
        return key in self._values

    def set(self, key: str, value: str) -> None:
        self._values[key] = value

    def get_int(self, key: str, default: int | None = None) -> int:
        raw = self.get(key, None if default is None else str(default))
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"configuration {key}: expected an integer, got {raw!r}") from None

    def get_duration_ms(self, key: str) -> int:
        return parse_duration_ms(self.get(key))

    def as_dict(self) -> dict[str, str]:
        merged = dict(DEFAULTS)
        merged.update(self._values)
        return merged

    def explicit(self) -> dict[str, str]:
        return dict(self._values)
