"""PyFlink's `pyflink.datastream.state`: state descriptors and `StateTtlConfig`."""

from __future__ import annotations

from flink_on_yarn.runtime.state import (
    AggregatingStateDescriptor,
    ListStateDescriptor,
    MapStateDescriptor,
    ReducingStateDescriptor,
    StateDescriptor,
    StateTtlConfig,
    ValueStateDescriptor,
)
from flink_on_yarn.runtime.state_backend import (
    AggregatingState,
    ListState,
    MapState,
    ReducingState,
    State,
    ValueState,
)

__all__ = ["AggregatingState", "AggregatingStateDescriptor", "ListState", "ListStateDescriptor", "MapState",
           "MapStateDescriptor", "ReducingState", "ReducingStateDescriptor", "State", "StateDescriptor",
           "StateTtlConfig", "ValueState", "ValueStateDescriptor"]
