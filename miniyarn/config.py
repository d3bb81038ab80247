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

# How long a client of the RM (AMRMClient, NMClient, and the NM's localization) waits for the RM or Redis to
# answer again, as YARN's RMProxy does.
MAX_WAIT_KEY = "yarn.resourcemanager.connect.max-wait.ms"
# YARN waits 15 minutes. Ours is 2 minutes: twice the AM liveness expiry, long enough to ride out an RM
# restart or failover and a Redis restart or pause (seconds to tens of seconds), short enough that an AM
# whose cluster is really gone exits instead of hanging; a finished job's unregister must not give up at 10 s.
DEFAULT_MAX_WAIT_MS = 120_000
# Between tries (YARN's yarn.resourcemanager.connect.retry-interval.ms is 30 s; our RM restarts in ~2 s).
RETRY_INTERVAL_S = 1.0
# Behind Redis Sentinel a refused password may only mean a new master the RM has not re-created this
# attempt's user on yet (ACL SETUSER is not replicated; the RM re-creates every live attempt's user as soon as
# it is back, within a few seconds): retry that long before taking the refusal as the attempt's end.
SENTINEL_AUTH_GRACE_S = 15.0

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
    # RM HA (resourcemanager/ha/): off by default, as in YARN. With it on, each RM's id is
    # yarn.resourcemanager.ha.id (or `--rm-id`), its address yarn.resourcemanager.webapp.address.<id>.
    "yarn.resourcemanager.ha.enabled": "false",
    "yarn.resourcemanager.ha.rm-ids": "",
    "yarn.resourcemanager.ha.id": "",
    "yarn.resourcemanager.ha.automatic-failover.enabled": "true",
    # Ours (Redis in ZooKeeper's place, a lease in place of yarn.resourcemanager.zk-timeout-ms): how long the
    # active's lease lasts without a renewal. The standby takes over at most this long after the active
    # died, plus its own recovery: 2 s keeps a failover under 3 s, and is still 4 renewals (every 500 ms)
    # and far above a full GC pause of a busy RM (~150 ms).
    "yarn.resourcemanager.ha.lease-ms": "2000",
    MAX_WAIT_KEY: str(DEFAULT_MAX_WAIT_MS),
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

def redis_url(explicit: str | None = None) -> str:
    return explicit or os.environ.get("MINIYARN_REDIS_URL") or DEFAULT_REDIS_URL


def rm_address(explicit: str | None = None) -> str:
    """The RM's URL, or with RM HA the comma-separated URLs of every RM (`http://a:8088,http://b:8088`),
    which YarnClient tries in turn as YARN's ConfiguredRMFailoverProxyProvider does."""
    addr = explicit or os.environ.get("MINIYARN_RM_ADDRESS") or DEFAULT_RM_ADDRESS
    return ",".join(_http(a) for a in addr.split(",") if a.strip())


def connect_max_wait_s(explicit_ms: int | None = None) -> float:
    """yarn.resourcemanager.connect.max-wait.ms in seconds: `explicit_ms` when given, else the configured one."""
    ms = explicit_ms if explicit_ms is not None else YarnConfiguration().get_int(MAX_WAIT_KEY, DEFAULT_MAX_WAIT_MS)
    return ms / 1000


def _http(addr: str) -> str:
    addr = addr.strip()
    if not addr.startswith(("http://", "https://")):
        addr = "http://" + addr
    return addr.rstrip("/")


def ha_enabled(conf: YarnConfiguration) -> bool:
    return conf.get_bool("yarn.resourcemanager.ha.enabled")


def rm_ids(conf: YarnConfiguration) -> list[str]:
    """yarn.resourcemanager.ha.rm-ids, in order (empty without HA)."""
    if not ha_enabled(conf):
        return []
    return [i.strip() for i in conf.get_str("yarn.resourcemanager.ha.rm-ids").split(",") if i.strip()]


def rm_webapp_address(conf: YarnConfiguration, rm_id: str) -> str:
    """An RM's web address by its id (yarn.resourcemanager.webapp.address.<id>), as a URL a client can
    reach: a wildcard bind address means this host. "" when the id has no address configured."""
    addr = conf.get_str(f"yarn.resourcemanager.webapp.address.{rm_id}")
    if not addr:
        return ""
    host, _, port = addr.rpartition(":")
    return _http(f"{'127.0.0.1' if host in ('', '0.0.0.0') else host}:{port}")


def parse_define(text: str) -> tuple[str, str]:
    """`-D key=value` / `--conf key=value`."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ValueError(f"-D expects key=value, got {text!r}")
    return key.strip(), value.strip()
