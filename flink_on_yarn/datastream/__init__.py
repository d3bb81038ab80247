"""PyFlink's `pyflink.datastream`, the subset this runtime supports; porting a PyFlink program is a rename."""

from __future__ import annotations

from flink_on_yarn.client.executor import JobClient
from flink_on_yarn.datastream.data_stream import DataStream, DataStreamSink, KeyedStream
from flink_on_yarn.datastream.execution_mode import RuntimeExecutionMode
from flink_on_yarn.datastream.functions import (
    AggregateFunction,
    FilterFunction,
    FlatMapFunction,
    KeyedProcessFunction,
    KeySelector,
    MapFunction,
    ProcessFunction,
    ReduceFunction,
    RuntimeContext,
    SinkFunction,
)
from flink_on_yarn.datastream.stream_execution_environment import (
    JobExecutionException,
    StreamExecutionEnvironment,
)

__all__ = ["AggregateFunction", "DataStream", "DataStreamSink", "FilterFunction", "FlatMapFunction", "JobClient",
           "JobExecutionException", "KeySelector", "KeyedProcessFunction", "KeyedStream", "MapFunction",
           "ProcessFunction", "ReduceFunction", "RuntimeContext", "RuntimeExecutionMode", "SinkFunction",
           "StreamExecutionEnvironment"]
