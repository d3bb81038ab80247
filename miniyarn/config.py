"""Configuration with Hadoop's key names: defaults, then `yarn-site.xml` and
`capacity-scheduler.xml` from `$YARN_CONF_DIR` / `$HADOOP_CONF_DIR`, then environment and flags.

>>> conf = YarnConfiguration(load_files=False)
>>> conf.get_int("yarn.scheduler.minimum-allocation-mb")
1024
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_RM_ADDRESS = "http://127.0.0.1:8088"

DEFAULTS: dict[str, str] = {
    "yarn.resourcemanager.webapp.address": "0.0.0.0:8088",
    "yarn.resourcemanager.scheduler.class": "capacity",
    "yarn.scheduler.minimum-allocation-mb": "1024",
    "yarn.scheduler.maximum-allocation-mb": "8192",
    "yarn.scheduler.minimum-allocation-vcores": "1",
    "yarn.scheduler.maximum-allocation-vcores": "4",
    "yarn.resourcemanager.am.max-attempts": "2",
    # YARN waits 10 minutes for both; on one laptop a dead process is dead, so we say so sooner.
    "yarn.nm.liveness-monitor.expiry-interval-ms": "10000",
    "yarn.am.liveness-monitor.expiry-interval-ms": "60000",
    "yarn.resourcemanager.nodemanagers.heartbeat-interval-ms": "1000",
    "yarn.nodemanager.resource.memory-mb": "8192",
    "yarn.nodemanager.resource.cpu-vcores": "8",
    "yarn.nodemanager.pmem-check-enabled": "true",
    # YARN polls every 3 s; 1 s catches a runaway container before it takes the laptop down.
    "yarn.nodemanager.container-monitor.interval-ms": "1000",
    "yarn.nodemanager.local-dirs": "",
    "yarn.nodemanager.log-dirs": "",
    "yarn.nodemanager.hostname": "",
    "yarn.log-aggregation-enable": "true",
    "yarn.scheduler.capacity.root.queues": "default",
    "yarn.scheduler.capacity.root.default.capacity": "100",
    # YARN says 0.1; on a laptop-sized cluster that admits one AM at a time, so a Flink session
    # blocks every per-job cluster. Half the queue keeps room for TaskManagers and for several AMs.
    "yarn.scheduler.capacity.maximum-am-resource-percent": "0.5",
}


def conf_dirs() -> list[Path]:
    dirs = []
    for var in ("YARN_CONF_DIR", "HADOOP_CONF_DIR"):
        value = os.environ.get(var)
        if value:
            dirs.append(Path(value))
    return dirs


def read_site_xml(path: Path) -> dict[str, str]:
    """Hadoop's `<configuration><property><name/><value/></property>…` format."""
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        raise ValueError(f"{path}: not a Hadoop configuration file ({e})") from e
    props: dict[str, str] = {}
    for prop in root.iter("property"):
        name = prop.findtext("name")
        value = prop.findtext("value")
        if name is not None and value is not None:
            props[name.strip()] = value.strip()
    return props


class YarnConfiguration:
    def __init__(self, overrides: Mapping[str, str] | None = None, load_files: bool = True) -> None:
        self.props: dict[str, str] = dict(DEFAULTS)
        self.sources: list[str] = []
        if load_files:
            for d in conf_dirs():
                for name in ("yarn-site.xml", "capacity-scheduler.xml"):
                    path = d / name
                    if path.is_file():
                        self.props.update(read_site_xml(path))
                        self.sources.append(str(path))
                if self.sources:
                    break
        if overrides:
            self.props.update(overrides)

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.props.get(key, default)

    def get_str(self, key: str, default: str = "") -> str:
        return self.props.get(key, default)

    def get_int(self, key: str, default: int = 0) -> int:
        value = self.props.get(key)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except ValueError:
            raise ValueError(f"{key}={value!r} is not an integer") from None

    def get_float(self, key: str, default: float = 0.0) -> float:
        value = self.props.get(key)
        if value is None or value == "":
            return default
        try:
            return float(value)
        except ValueError:
            raise ValueError(f"{key}={value!r} is not a number") from None

    def get_bool(self, key: str, default: bool = False) -> bool:
        value = self.props.get(key)
        if value is None or value == "":
            return default
        return value.strip().lower() == "true"

    def set(self, key: str, value: str | int | float | bool) -> None:
        self.props[key] = str(value).lower() if isinstance(value, bool) else str(value)

    def with_prefix(self, prefix: str) -> dict[str, str]:
        return {k: v for k, v in self.props.items() if k.startswith(prefix)}


def redis_url(explicit: str | None = None) -> str:
    return explicit or os.environ.get("MINIYARN_REDIS_URL") or DEFAULT_REDIS_URL


def rm_address(explicit: str | None = None) -> str:
    addr = explicit or os.environ.get("MINIYARN_RM_ADDRESS") or DEFAULT_RM_ADDRESS
    if not addr.startswith(("http://", "https://")):
        addr = "http://" + addr
    return addr.rstrip("/")


def parse_define(text: str) -> tuple[str, str]:
    """`-D key=value` / `--conf key=value`."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ValueError(f"-D expects key=value, got {text!r}")
    return key.strip(), value.strip()
