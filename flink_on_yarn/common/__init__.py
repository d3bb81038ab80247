"""PyFlink's `pyflink.common`, the subset this runtime supports: Types, WatermarkStrategy, Encoder, Configuration."""

from __future__ import annotations

from flink_on_yarn.common.config import Configuration
from flink_on_yarn.common.job import JobExecutionResult
from flink_on_yarn.common.restart_strategy import RestartStrategies, RestartStrategyConfiguration
from flink_on_yarn.common.serialization import Encoder, SimpleStringSchema
from flink_on_yarn.common.time import Time
from flink_on_yarn.common.typeinfo import Row, RowKind, TypeInformation, Types
from flink_on_yarn.common.watermark_strategy import Duration, WatermarkStrategy

__all__ = ["Configuration", "Duration", "Encoder", "JobExecutionResult", "RestartStrategies",
           "RestartStrategyConfiguration", "Row", "RowKind", "SimpleStringSchema", "Time", "TypeInformation", "Types",
           "WatermarkStrategy"]
