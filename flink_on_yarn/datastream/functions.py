"""PyFlink's user-function base classes; a plain callable works wherever one of these is accepted."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class Function:
    def open(self, runtime_context: Any) -> None:
        pass

    def close(self) -> None:
        pass


class MapFunction(Function):
    def map(self, value: Any) -> Any:
        raise NotImplementedError


class FlatMapFunction(Function):
    def flat_map(self, value: Any) -> Iterable[Any]:
        raise NotImplementedError


class FilterFunction(Function):
    def filter(self, value: Any) -> bool:
        raise NotImplementedError


class ReduceFunction(Function):
    def reduce(self, value1: Any, value2: Any) -> Any:
        raise NotImplementedError


class KeySelector(Function):
    def get_key(self, value: Any) -> Any:
        raise NotImplementedError


class SinkFunction(Function):
    def invoke(self, value: Any, context: Any) -> None:
        raise NotImplementedError


class RuntimeContext:
    """Documented for signatures; the runtime passes a flink_on_yarn.graph.task_context.TaskContext."""
