"""Queue configuration: the capacity scheduler's keys, or one FIFO queue.

Queues are the leaves under `root` (`yarn.scheduler.capacity.root.queues`, and nested
`yarn.scheduler.capacity.root.<q>.queues`); each has capacity, maximum-capacity and
maximum-am-resource-percent as percentages of the cluster, as YARN's CapacityScheduler has them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from miniyarn.config import YarnConfiguration

PREFIX = "yarn.scheduler.capacity."


class QueueConfigError(ValueError):
    pass


@dataclass
class QueueConf:
    path: str  # root.default
    capacity: float  # percent of the parent's, 0-100
    maximum_capacity: float  # percent of the parent's, 0-100
    max_am_percent: float  # fraction 0-1 of the queue's maximum resource
    state: str = "RUNNING"
    children: list[QueueConf] = field(default_factory=list)
    absolute_capacity: float = 0.0  # fraction of the cluster, 0-1
    absolute_max_capacity: float = 0.0

    @property
    def name(self) -> str:
        return self.path.rsplit(".", 1)[-1]

    @property
    def is_leaf(self) -> bool:
        return not self.children


def _pct(conf: YarnConfiguration, key: str, default: float) -> float:
    value = conf.get_float(PREFIX + key, default)
    if value < 0 or value > 100:
        raise QueueConfigError(f"{PREFIX}{key}={value} must be between 0 and 100")
    return value


def _build(conf: YarnConfiguration, path: str, parent_abs: float, parent_abs_max: float,
           default_am: float) -> QueueConf:
    children_names = [c.strip() for c in conf.get_str(PREFIX + path + ".queues").split(",") if c.strip()]
    cap = 100.0 if path == "root" else _pct(conf, path + ".capacity", 0.0)
    max_cap = 100.0 if path == "root" else _pct(conf, path + ".maximum-capacity", 100.0)
    if max_cap < cap:
        raise QueueConfigError(f"Illegal queue capacity setting (maximum-capacity {max_cap} < capacity {cap}) "
                               f"for queue {path}")
    am = conf.get_float(PREFIX + path + ".maximum-am-resource-percent", default_am)
    q = QueueConf(path=path, capacity=cap, maximum_capacity=max_cap, max_am_percent=am,
                  state=conf.get_str(PREFIX + path + ".state", "RUNNING").upper(),
                  absolute_capacity=parent_abs * cap / 100.0,
                  absolute_max_capacity=parent_abs_max * max_cap / 100.0)
    for child in children_names:
        q.children.append(_build(conf, f"{path}.{child}", q.absolute_capacity, q.absolute_max_capacity, am))
    if q.children:
        total = sum(c.capacity for c in q.children)
        if abs(total - 100.0) > 0.01:
            raise QueueConfigError(f"Illegal capacity sum of {total} for children of queue {path}; it must be 100")
    return q


def load_queues(conf: YarnConfiguration) -> QueueConf:
    """The queue tree; with the FIFO scheduler, one leaf `default` holding the whole cluster."""
    default_am = conf.get_float(PREFIX + "maximum-am-resource-percent", 0.5)
    if scheduler_kind(conf) == "fifo":
        leaf = QueueConf("root.default", 100.0, 100.0, 1.0, absolute_capacity=1.0, absolute_max_capacity=1.0)
        return QueueConf("root", 100.0, 100.0, 1.0, children=[leaf], absolute_capacity=1.0,
                         absolute_max_capacity=1.0)
    return _build(conf, "root", 1.0, 1.0, default_am)


def leaves(root: QueueConf) -> list[QueueConf]:
    if root.is_leaf:
        return [root]
    out: list[QueueConf] = []
    for c in root.children:
        out.extend(leaves(c))
    return out


def scheduler_kind(conf: YarnConfiguration) -> str:
    cls = conf.get_str("yarn.resourcemanager.scheduler.class", "capacity").lower()
    return "fifo" if "fifo" in cls else "capacity"
