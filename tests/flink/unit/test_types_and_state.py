"""Types as PyFlink prints and converts them, and the keyed state backend (pure: no tasks, no network)."""

from __future__ import annotations

import pickle
from typing import Any

import pytest

from flink_on_yarn.common import Row, Time, Types
from flink_on_yarn.common.typeinfo import RecordFormatter, java_float_string, to_float32
from flink_on_yarn.datastream.functions import AggregateFunction
from flink_on_yarn.datastream.state import (
    AggregatingStateDescriptor,
    ListStateDescriptor,
    MapStateDescriptor,
    ReducingStateDescriptor,
    StateTtlConfig,
    ValueStateDescriptor,
)
from flink_on_yarn.graph.operators import KeyedProcessOperator, KeyedReduceOperator, SumReducer
from flink_on_yarn.graph.task_context import NOT_KEYED, TaskContext
from flink_on_yarn.runtime.state_backend import KeyedStateBackend


def test_typed_records_print_as_javas_to_string() -> None:
    assert Types.TUPLE([Types.STRING(), Types.INT()]).to_string(("hello", 3)) == "(hello,3)"
    assert Types.TUPLE([Types.INT(), Types.BOOLEAN(), Types.DOUBLE()]).to_string((1, True, 2.0)) == "(1,true,2.0)"
    assert Types.ROW([Types.INT(), Types.STRING()]).to_string(Row(1, "abc")) == "+I[1, abc]"
    assert Types.ROW_NAMED(["a", "b"], [Types.INT(), Types.STRING()]).to_string((1, "x")) == "+I[1, x]"
    assert Types.MAP(Types.STRING(), Types.INT()).to_string({"a": 1, "b": 2}) == "{a=1, b=2}"
    assert Types.LIST(Types.LONG()).to_string([1, 2]) == "[1, 2]"
    assert Types.STRING().to_string(None) == "null"


def test_untyped_records_print_as_python_does() -> None:
    fmt = RecordFormatter(None)
    assert fmt((2, {"tel": 136})) == "(2, {'tel': 136})"
    assert fmt(("hello", 3)) == "('hello', 3)"
    assert fmt("plain") == "plain"


def test_java_float_and_double_text() -> None:
    assert [java_float_string(x) for x in (1.0, 0.5, 100.0, 1e7, 1.5e-4, -3.25, 1e21)] == \
        ["1.0", "0.5", "100.0", "1.0E7", "1.5E-4", "-3.25", "1.0E21"]
    # FLOAT is 32 bits: the value a Java float holds, printed with the digits that identify it as a float.
    assert to_float32(110.1) == 110.0999984741211
    assert Types.FLOAT().to_string(to_float32(110.1)) == "110.1"
    assert java_float_string(float("nan")) == "NaN" and java_float_string(float("-inf")) == "-Infinity"


def test_from_python_makes_rows_and_32_bit_floats() -> None:
    t = Types.ROW_NAMED(["id", "amount"], [Types.INT(), Types.FLOAT()])
    r = t.from_python((1, 0.1))
    assert isinstance(r, Row) and r.id == 1 and r["amount"] == to_float32(0.1) and r[0] == 1
    assert repr(r) == "Row(id=1, amount=0.10000000149011612)"
    assert pickle.loads(pickle.dumps(r)).amount == r.amount
    assert not Types.TUPLE([Types.STRING(), Types.INT()]).needs_conversion
    assert Types.TUPLE([Types.STRING(), Types.FLOAT()]).needs_conversion
    assert repr(Row(1, "a")) == "<Row(1, 'a')>" and Row(b=2, a=1).as_dict() == {"a": 1, "b": 2}
    with pytest.raises(AttributeError):
        _ = r.missing


def test_value_list_map_state_scoped_by_key() -> None:
    b = KeyedStateBackend()
    v = b.get_state(ValueStateDescriptor("v"))
    lst = b.get_state(ListStateDescriptor("l"))
    m = b.get_state(MapStateDescriptor("m"))
    b.set_current_key("a")
    v.update(1)
    lst.add(1)
    lst.add_all([2, 3])
    m.put("x", 10)
    b.set_current_key("b")
    assert v.value() is None and list(lst.get()) == [] and m.is_empty()
    m["y"] = 5
    b.set_current_key("a")
    assert v.value() == 1 and list(lst.get()) == [1, 2, 3] and dict(m.items()) == {"x": 10}
    assert "x" in m and m.contains("x") and not m.contains("y") and list(m.keys()) == ["x"]
    lst.update([9])
    m.remove("x")
    v.clear()
    assert list(lst.get()) == [9] and m.is_empty() and v.value() is None
    with pytest.raises(ValueError, match="null"):
        lst.add(None)
    with pytest.raises(ValueError, match="is a value state"):
        b.get_state(ListStateDescriptor("v"))


class Average(AggregateFunction):
    def create_accumulator(self) -> tuple[int, int]:
        return 0, 0

    def add(self, value: int, accumulator: tuple[int, int]) -> tuple[int, int]:
        return accumulator[0] + value, accumulator[1] + 1

    def get_result(self, accumulator: tuple[int, int]) -> float:
        return accumulator[0] / accumulator[1]


def test_reducing_and_aggregating_state() -> None:
    b = KeyedStateBackend()
    r = b.get_state(ReducingStateDescriptor("r", lambda a, c: a + c))
    a = b.get_state(AggregatingStateDescriptor("a", Average()))
    b.set_current_key(1)
    for x in (1, 2, 6):
        r.add(x)
        a.add(x)
    assert r.get() == 9 and a.get() == 3.0
    b.set_current_key(2)
    assert r.get() is None and a.get() is None


def test_ttl_expires_on_processing_time_and_read_refreshes() -> None:
    now = [1_000]
    b = KeyedStateBackend(clock=lambda: now[0])
    write_only = ValueStateDescriptor("w")
    write_only.enable_time_to_live(StateTtlConfig.new_builder(Time.seconds(1)).build())
    on_read = ValueStateDescriptor("r")
    on_read.enable_time_to_live(StateTtlConfig.new_builder(Time.seconds(1))
                                .set_update_type(StateTtlConfig.UpdateType.OnReadAndWrite).build())
    w, r = b.get_state(write_only), b.get_state(on_read)
    b.set_current_key("k")
    w.update("w")
    r.update("r")
    now[0] = 1_600
    assert w.value() == "w" and r.value() == "r"  # the read refreshes r's clock, not w's
    now[0] = 2_100
    assert w.value() is None and r.value() == "r"
    now[0] = 5_000
    assert r.value() is None
    lst_d = ListStateDescriptor("l")
    lst_d.enable_time_to_live(StateTtlConfig.new_builder(Time.milliseconds(100)).build())
    lst = b.get_state(lst_d)
    lst.add(1)
    now[0] = 5_050
    lst.add(2)
    now[0] = 5_120
    assert list(lst.get()) == [2]  # each element has its own TTL


def test_snapshot_and_restore_round_trip_into_live_state_objects() -> None:
    b = KeyedStateBackend()
    v = b.get_state(ValueStateDescriptor("v"))
    b.set_current_key("a")
    v.update(1)
    snap = b.snapshot()
    v.update(2)
    b.set_current_key("b")
    v.update(3)
    b.restore(snap)
    assert v.value() is None
    b.set_current_key("a")
    assert v.value() == 1


def test_keyed_state_off_a_keyed_stream_is_flinks_error() -> None:
    with pytest.raises(RuntimeError) as e:
        TaskContext("j", "t", 0, 1).get_state(ValueStateDescriptor("x"))
    assert str(e.value) == NOT_KEYED


class CountPerKey:
    def open(self, ctx: Any) -> None:
        self.count = ctx.get_state(ValueStateDescriptor("count"))

    def process_element(self, value: str, ctx: Any) -> Any:
        n = (self.count.value() or 0) + 1
        self.count.update(n)
        yield ctx.get_current_key(), n, ctx.timestamp()


def test_keyed_process_operator_gives_each_key_its_state() -> None:
    op = KeyedProcessOperator(lambda s: s[0], CountPerKey(), "KeyedProcess")
    op.open(TaskContext("j", "t", 0, 1))
    assert op.process(["a1", "b1", "a2"]) == [("a", 1, None), ("b", 1, None), ("a", 2, None)]
    assert sorted(op.backend.keys("count")) == ["a", "b"]


def test_keyed_reduce_keeps_its_values_in_the_backend() -> None:
    op = KeyedReduceOperator(lambda r: r[0], SumReducer(1))
    op.open(TaskContext("j", "t", 0, 1))
    op.process([("a", 1), ("a", 2)])
    restored = KeyedReduceOperator(lambda r: r[0], SumReducer(1))
    restored.backend.restore(op.backend.snapshot())
    restored.open(TaskContext("j", "t", 0, 1))
    assert restored.process([("a", 4)]) == [("a", 7)]
    assert SumReducer(1).reduce(Row._make(["a", 1], ["w", "n"]), Row._make(["a", 2], ["w", "n"])).n == 3


def test_keyed_map_functions_get_keyed_state(capsys: pytest.CaptureFixture[str]) -> None:
    from flink_on_yarn.datastream import MapFunction, StreamExecutionEnvironment

    class Nth(MapFunction):
        def open(self, runtime_context: Any) -> None:
            self.seen = runtime_context.get_state(ValueStateDescriptor("seen"))

        def map(self, value: str) -> str:
            n = (self.seen.value() or 0) + 1
            self.seen.update(n)
            return f"{value}#{n}"

    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    env.from_collection(["a", "b", "a", "c", "a"]).key_by(lambda v: v).map(Nth()) \
        .key_by(lambda v: v[0]).filter(lambda v: not v.endswith("#2")).print()
    env.execute("keyed map")
    out = sorted(line.split("> ", 1)[1] for line in capsys.readouterr().out.splitlines())
    assert out == ["a#1", "a#3", "b#1", "c#1"]
