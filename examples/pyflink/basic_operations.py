"""The basic DataStream operations, as PyFlink's `basic_operations` example shows them: a collection typed as
named rows (`data.id`, `data.info`), then map, filter, key_by + sum and union, each printed (untyped results
print as Python prints them: `(1, '...')`).

    python examples/pyflink/basic_operations.py
"""

from __future__ import annotations

import json

from flink_on_yarn.common import Row, Types
from flink_on_yarn.datastream import DataStream, StreamExecutionEnvironment

PEOPLE = [
    (1, '{"name": "Flink", "tel": 123, "addr": {"country": "Germany", "city": "Berlin"}}'),
    (2, '{"name": "hello", "tel": 135, "addr": {"country": "China", "city": "Shanghai"}}'),
    (3, '{"name": "world", "tel": 124, "addr": {"country": "USA", "city": "NewYork"}}'),
    (4, '{"name": "PyFlink", "tel": 32, "addr": {"country": "China", "city": "Hangzhou"}}'),
]


def show(ds: DataStream, env: StreamExecutionEnvironment) -> None:
    ds.print()
    env.execute()


def update_tel(data: Row) -> tuple[int, str]:
    info = json.loads(data.info)
    info["tel"] += 1
    return data.id, json.dumps(info)


def country_and_tel(data: Row) -> tuple[str, int]:
    info = json.loads(data.info)
    return info["addr"]["country"], info["tel"]


def basic_operations() -> None:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1)
    ds = env.from_collection(PEOPLE, type_info=Types.ROW_NAMED(["id", "info"], [Types.INT(), Types.STRING()]))

    show(ds.map(update_tel), env)
    show(ds.filter(lambda data: data.id == 1).map(update_tel), env)
    show(ds.map(country_and_tel).key_by(lambda data: data[0]).sum(1), env)
    show(ds.map(lambda data: data.id).union(ds.map(lambda data: data.id * 10)).filter(lambda i: i % 2 == 0), env)


if __name__ == "__main__":
    basic_operations()
