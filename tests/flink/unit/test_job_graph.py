"""Graph building: chaining where Flink chains, edges, slot-sharing groups and required slots."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from flink_on_yarn.datastream import RuntimeExecutionMode, StreamExecutionEnvironment
from flink_on_yarn.graph.chaining import ShipError
from flink_on_yarn.graph.job_graph import JobGraphSpec, required_slots


def env(p: int = 2) -> StreamExecutionEnvironment:
    e = StreamExecutionEnvironment.get_execution_environment()
    e.set_parallelism(p)
    return e


def test_seed_wordcount_graph() -> None:
    e = env(2)
    e.socket_text_stream("localhost", 7777).flat_map(lambda s: [(w, 1) for w in s.split()]) \
        .key_by(lambda t: t[0]).sum(1).print()
    g = e.get_job_graph("wc")
    names = [v.name for v in g.vertices]
    assert names == ["Source: Socket Stream", "Flat Map", "Keyed Aggregation -> Print to Std. Out"]
    assert [v.parallelism for v in g.vertices] == [1, 2, 2]
    assert [e.shipStrategy for e in g.edges] == ["REBALANCE", "HASH"]
    assert g.required_slots() == 2


def test_forward_same_parallelism_chains() -> None:
    e = env(3)
    e.read_text_file("/x").map(str.upper).filter(bool).print()
    g = e.get_job_graph()
    assert len(g.vertices) == 1
    assert g.vertices[0].name == "Source: FileSource /x -> Map -> Filter -> Print to Std. Out"


def test_parallelism_change_and_rebalance_break_chains() -> None:
    e = env(2)
    e.read_text_file("/x").map(str.upper).set_parallelism(4).rebalance().filter(bool).print()
    g = e.get_job_graph()
    assert [v.parallelism for v in g.vertices] == [2, 4, 2]
    assert [x.shipStrategy for x in g.edges] == ["REBALANCE", "REBALANCE"]


def test_slot_sharing_groups_add_up() -> None:
    e = env(2)
    e.read_text_file("/x").map(str.upper).set_parallelism(3).slot_sharing_group("heavy").print()
    g = e.get_job_graph()
    # default group: source (2); heavy: map (3) and the sink that inherits it (2)
    assert g.required_slots() == 2 + 3
    assert required_slots([("a", 1), ("a", 4), ("b", 2)]) == 6


def test_union_has_two_inputs() -> None:
    e = env(1)
    a = e.from_collection([1])
    b = e.from_collection([2])
    a.union(b).map(lambda x: x).print()
    g = e.get_job_graph()
    assert len(g.edges) == 2 and g.edges[0].target == g.edges[1].target


def test_batch_mode_adds_a_combiner() -> None:
    e = env(2)
    e.set_runtime_mode(RuntimeExecutionMode.BATCH)
    e.read_text_file("/x").flat_map(str.split).map(lambda w: (w, 1)).key_by(lambda t: t[0]).sum(1).print()
    g = e.get_job_graph()
    assert [o.name for o in g.vertices[0].operators][-1] == "Combine"
    assert g.runtimeMode == "BATCH"


def test_unpicklable_function_is_named() -> None:
    import threading

    lock = threading.Lock()
    e = env(1)
    e.from_collection([1]).map(lambda x: (lock, x)).print()
    with pytest.raises(ShipError, match="function of operator 'Map'"):
        e.get_job_graph()


def test_empty_topology_is_an_error() -> None:
    with pytest.raises(ValueError, match="no operators"):
        env(1).get_job_graph()


def test_json_round_trip_and_validation() -> None:
    e = env(2)
    e.from_collection([1, 2]).map(lambda x: x).print()
    g = e.get_job_graph()
    again = JobGraphSpec.model_validate_json(g.model_dump_json())
    assert again.topological_order() == g.topological_order()
    bad = g.model_dump()
    bad["edges"].append({"source": g.vertices[-1].id, "target": g.vertices[0].id, "shipStrategy": "REBALANCE"})
    with pytest.raises(ValidationError):
        JobGraphSpec.model_validate(bad)


def test_restart_strategy_goes_into_job_config() -> None:
    from flink_on_yarn.common import RestartStrategies

    e = env(1)
    e.set_restart_strategy(RestartStrategies.fixed_delay_restart(3, 1000))
    e.from_collection([1]).print()
    cfg = e.get_job_graph().config
    assert cfg["restart-strategy"] == "fixed-delay" and cfg["restart-strategy.fixed-delay.attempts"] == "3"
