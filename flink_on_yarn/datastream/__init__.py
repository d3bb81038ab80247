"""PyFlink's `pyflink.datastream`, the subset this runtime supports; porting a PyFlink program is a rename."""

from __future__ import annotations

from flink_on_yarn.client.executor import JobClient
from flink_on_yarn.datastream.data_stream import DataStream, DataStreamSink, KeyedStream
from flink_on_yarn.datastream.execution_mode import RuntimeExecutionMode
from flink_on_yarn.datastream.functions import (
    FilterFunction,
    FlatMapFunction,
    KeySelector,
    MapFunction,
    ReduceFunction,
    RuntimeContext,
    SinkFunction,
)
from flink_on_yarn.datastream.stream_execution_environment import (
    JobExecutionException,
    StreamExecutionEnvironment,
)

__all__ = ["DataStream", "DataStreamSink", "FilterFunction", "FlatMapFunction", "JobClient",
           "JobExecutionException", "KeySelector", "KeyedStream", "MapFunction", "ReduceFunction",
           "RuntimeContext", "RuntimeExecutionMode", "SinkFunction", "StreamExecutionEnvironment"]
