from __future__ import annotations

import pytest

from miniyarn.config import YarnConfiguration
from miniyarn.records import ANY, Resource, ResourceRequest
from resourcemanager.scheduler.model import SchedulerApp, SchedulerNode
from resourcemanager.scheduler.normalize import InvalidResourceRequestError, normalize, validate
from resourcemanager.scheduler.queues import QueueConfigError, leaves, load_queues
from resourcemanager.scheduler.scheduler import Scheduler

MIN = Resource(memory=1024, vcores=1)
MAX = Resource(memory=8192, vcores=4)


def r(mb: int, vc: int = 1) -> Resource:
    return Resource(memory=mb, vcores=vc)


def test_normalize_rounds_up_to_minimum_allocation() -> None:
    assert normalize(r(1, 0), MIN, MAX) == r(1024, 1)
    assert normalize(r(1025), MIN, MAX) == r(2048)
    assert normalize(r(2048, 2), MIN, MAX) == r(2048, 2)


def test_over_max_ask_refused_with_yarns_message() -> None:
    with pytest.raises(InvalidResourceRequestError, match=r"requested resource type=\[memory-mb\] < 0 or greater"):
        validate(r(9000), MAX)
    with pytest.raises(InvalidResourceRequestError, match="vcores"):
        validate(r(1024, 5), MAX)
    with pytest.raises(InvalidResourceRequestError):
        validate(r(-1), MAX)


def conf(**props: str) -> YarnConfiguration:
    return YarnConfiguration(props, load_files=False)


def app(app_id: str, queue: str = "root.default", order: int = 1, am: bool = False) -> SchedulerApp:
    a = SchedulerApp(app_id=app_id, queue=queue, user="u", order=order, am_resource=r(1024), am_pending=am)
    if not am:
        a.am_active = True
    return a


def ask(n: int, mb: int = 1024, name: str = ANY, prio: int = 1) -> ResourceRequest:
    return ResourceRequest(priority=prio, resource_name=name, capability=r(mb), num_containers=n)


def test_fifo_places_asks_and_spreads_over_nodes() -> None:
    sched = Scheduler(leaves(load_queues(conf(**{"yarn.resourcemanager.scheduler.class": "fifo"}))))
    nodes = [SchedulerNode("n1:1", r(4096, 4)), SchedulerNode("n2:1", r(4096, 4))]
    a = app("a1")
    a.set_ask(ask(4))
    result = sched.schedule(nodes, [a])
    assert len(result.allocations) == 4
    assert {x.node_id for x in result.allocations} == {"n1:1", "n2:1"}
    assert not a.has_pending()
    assert nodes[0].used.memory + nodes[1].used.memory == 4096


def test_pending_reason_names_ask_and_largest_free_node() -> None:
    sched = Scheduler(leaves(load_queues(conf())))
    nodes = [SchedulerNode("n1:1", r(4096, 4), used=r(3072, 1))]
    a = app("a1")
    a.set_ask(ask(2, 2048))
    result = sched.schedule(nodes, [a])
    assert result.allocations == []
    assert result.reasons["a1"] == "wants 2 × <memory:2048, vCores:1>; largest free node has <memory:1024, vCores:3>"


def test_reason_when_no_node_could_ever_fit_or_none_exist() -> None:
    sched = Scheduler(leaves(load_queues(conf())))
    a = app("a1")
    a.set_ask(ask(1, 8192))
    assert "no node is big enough" in sched.schedule([SchedulerNode("n:1", r(4096))], [a]).reasons["a1"]
    assert "no NodeManager is running" in sched.schedule([], [a]).reasons["a1"]


def test_node_local_ask_is_preferred() -> None:
    sched = Scheduler(leaves(load_queues(conf())))
    nodes = [SchedulerNode("n1:1", r(4096, 4)), SchedulerNode("n2:1", r(4096, 4))]
    a = app("a1")
    a.set_ask(ask(1))
    a.set_ask(ask(1, name="n2:1"))
    result = sched.schedule(nodes, [a])
    assert [x.node_id for x in result.allocations] == ["n2:1"]
    assert a.asks == {}


def test_asks_are_absolute() -> None:
    a = app("a1")
    a.set_ask(ask(3))
    a.set_ask(ask(1))
    assert [x.num_containers for x in a.pending_any()] == [1]
    a.set_ask(ask(0))
    assert not a.has_pending()


def capacity_conf() -> YarnConfiguration:
    return conf(**{
        "yarn.scheduler.capacity.root.queues": "a,b",
        "yarn.scheduler.capacity.root.a.capacity": "50",
        "yarn.scheduler.capacity.root.a.maximum-capacity": "50",
        "yarn.scheduler.capacity.root.b.capacity": "50",
        "yarn.scheduler.capacity.root.b.maximum-am-resource-percent": "0.2",
    })


def test_capacity_queue_cannot_pass_its_maximum() -> None:
    sched = Scheduler(leaves(load_queues(capacity_conf())))
    nodes = [SchedulerNode("n1:1", r(8192, 8))]
    a = app("a1", queue="root.a")
    a.set_ask(ask(6))
    result = sched.schedule(nodes, [a])
    assert len(result.allocations) == 4
    assert "queue root.a is at its maximum capacity <memory:4096, vCores:4>" in result.reasons["a1"]


def test_am_limit_holds_second_am_with_yarns_reason() -> None:
    sched = Scheduler(leaves(load_queues(capacity_conf())))
    nodes = [SchedulerNode("n1:1", r(8192, 8))]
    first, second = app("a1", "root.b", 1, am=True), app("a2", "root.b", 2, am=True)
    result = sched.schedule(nodes, [first, second])
    assert [x.app_id for x in result.allocations] == ["a1"]
    assert result.allocations[0].is_am
    assert "Queue's AM resource limit exceeded" in result.reasons["a2"]


def test_least_used_queue_is_served_first() -> None:
    sched = Scheduler(leaves(load_queues(capacity_conf())))
    nodes = [SchedulerNode("n1:1", r(4096, 8))]
    busy = app("a1", "root.a", 1)
    busy.used = r(2048)
    busy.set_ask(ask(2))
    idle = app("b1", "root.b", 2)
    idle.set_ask(ask(2))
    result = sched.schedule(nodes, [busy, idle])
    assert [x.app_id for x in result.allocations][:2] == ["b1", "b1"]


def test_bad_queue_config_is_refused() -> None:
    with pytest.raises(QueueConfigError, match="capacity sum"):
        load_queues(conf(**{"yarn.scheduler.capacity.root.queues": "a,b",
                            "yarn.scheduler.capacity.root.a.capacity": "50",
                            "yarn.scheduler.capacity.root.b.capacity": "20"}))


def test_a_pass_stops_at_its_allocation_limit_and_leaves_the_rest_for_the_next() -> None:
    sched = Scheduler(leaves(load_queues(conf(**{"yarn.resourcemanager.scheduler.class": "fifo"}))),
                      max_allocations=3)
    nodes = [SchedulerNode(f"n{i}:1", r(4096, 4)) for i in range(2)]
    a = app("a1")
    a.set_ask(ask(5))
    first = sched.schedule(nodes, [a])
    assert len(first.allocations) == 3 and first.truncated
    assert "a1" not in first.reasons  # not waiting for room: the pass ran out of turns
    second = sched.schedule(nodes, [a])
    assert len(second.allocations) == 2 and not second.truncated
    assert not a.has_pending()


def test_the_am_limit_counts_running_ams_without_pending_asks() -> None:
    # 16 vcores, an AM limit of half: 8 AMs. Eight run already, their asks all granted (so not pending).
    sched = Scheduler(leaves(load_queues(conf(**{"yarn.scheduler.capacity.maximum-am-resource-percent": "0.5"}))))
    nodes = [SchedulerNode(f"n{i}:1", r(8192, 8)) for i in range(2)]
    running = [app(f"r{i}", order=i) for i in range(8)]
    for a in running:
        a.used = r(1024)
        nodes[0].used = nodes[0].used + r(1024)
    waiting = [app(f"w{i}", order=100 + i, am=True) for i in range(4)]
    result = sched.schedule(nodes, waiting, running)
    assert result.allocations == []
    assert set(result.reasons) == {"w0", "w1", "w2", "w3"}
    assert "Queue's AM resource limit exceeded" in result.reasons["w0"]
    assert "Queue AM Resource Usage = <memory:8192, vCores:8>" in result.reasons["w0"]
    # One AM finishes: one waiting AM starts, the others still queue.
    running[0].am_active = False
    result = sched.schedule(nodes, waiting, running[1:])
    assert [a.app_id for a in result.allocations] == ["w0"]
    assert set(result.reasons) == {"w1", "w2", "w3"}


def test_queue_capacity_counts_apps_without_pending_asks() -> None:
    sched = Scheduler(leaves(load_queues(capacity_conf())))
    nodes = [SchedulerNode("n1:1", r(8192, 8))]
    busy = app("busy", queue="root.a")  # holds queue a's maximum, all its asks granted
    busy.used = r(4096)
    nodes[0].used = r(4096)
    a = app("a1", queue="root.a", order=2)
    a.set_ask(ask(1))
    result = sched.schedule(nodes, [a], [busy])
    assert result.allocations == []
    assert "is at its maximum capacity" in result.reasons["a1"]
