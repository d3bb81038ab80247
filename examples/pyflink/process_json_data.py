"""JSON in a string field, as PyFlink's `process_json_data` example: a collection typed as rows, a map that
parses the JSON and bumps a field, a filter on the parsed value; results print as Python prints them.

    python examples/pyflink/process_json_data.py
"""

from __future__ import annotations

import json
from typing import Any

from flink_on_yarn.common import Row, Types
from flink_on_yarn.datastream import StreamExecutionEnvironment

PEOPLE = [
    (1, '{"name": "Flink", "tel": 123, "addr": {"country": "Germany", "city": "Berlin"}}'),
    (2, '{"name": "hello", "tel": 135, "addr": {"country": "China", "city": "Shanghai"}}'),
    (3, '{"name": "world", "tel": 124, "addr": {"country": "USA", "city": "NewYork"}}'),
    (4, '{"name": "PyFlink", "tel": 32, "addr": {"country": "China", "city": "Hangzhou"}}'),
]


def update_tel(data: Row) -> tuple[int, dict[str, Any]]:
    info = json.loads(data[1])
    info["tel"] += 1
    return data[0], info


def in_china(data: tuple[int, dict[str, Any]]) -> bool:
    return bool(data[1]["addr"]["country"] == "China")


def process_json_data() -> None:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1)
    ds = env.from_collection(PEOPLE, type_info=Types.ROW([Types.INT(), Types.STRING()]))
    ds.map(update_tel).filter(in_china).print()
    env.execute()


if __name__ == "__main__":
    process_json_data()
