"""`StreamExecutionEnvironment`: sources, parallelism, runtime mode, and `execute` through the current context."""

from __future__ import annotations

from typing import Any

from flink_on_yarn.client.executor import JobClient, get_context
from flink_on_yarn.common.config import parse_duration_ms
from flink_on_yarn.common.job import JobExecutionResult
from flink_on_yarn.common.typeinfo import TypeInformation, Types
from flink_on_yarn.datastream.data_stream import DataStream
from flink_on_yarn.datastream.execution_mode import RuntimeExecutionMode
from flink_on_yarn.graph.chaining import build_job_graph
from flink_on_yarn.graph.job_graph import JobGraphSpec
from flink_on_yarn.graph.sources import CollectionSource, SocketSource, Source, TextFileSource
from flink_on_yarn.graph.transformations import TransformationRegistry
from flink_on_yarn.runtime.savepoints import RESTORE_KEYS

AUTO_WATERMARK_INTERVAL = "pipeline.auto-watermark-interval"


class ExecutionConfig:
    """`env.get_config()`: the job's settings that PyFlink sets through it."""

    def __init__(self, config: dict[str, str]) -> None:
        self._config = config

    def set_auto_watermark_interval(self, interval: int) -> ExecutionConfig:
        self._config[AUTO_WATERMARK_INTERVAL] = str(int(interval))
        return self

    def get_auto_watermark_interval(self) -> int:
        return parse_duration_ms(self._config.get(AUTO_WATERMARK_INTERVAL, "200"))


class JobExecutionException(RuntimeError):
    """The job ended FAILED or CANCELED while the program waited for it."""


class StreamExecutionEnvironment:
    def __init__(self) -> None:
        ctx = get_context()
        self._registry = TransformationRegistry()
        self._parallelism: int | None = None
        self._default_parallelism = ctx.default_parallelism
        mode = ctx.config.get("execution.runtime-mode", "STREAMING").upper()
        self._mode = RuntimeExecutionMode(mode if mode != "AUTOMATIC" else "STREAMING")
        self._config: dict[str, str] = {}

    @staticmethod
    def get_execution_environment(configuration: Any = None) -> StreamExecutionEnvironment:
        return StreamExecutionEnvironment()

    def set_parallelism(self, parallelism: int) -> StreamExecutionEnvironment:
        if parallelism < 1:
            raise ValueError(f"parallelism must be at least 1, got {parallelism}")
        self._parallelism = parallelism
        return self

    def get_parallelism(self) -> int:
        return self._parallelism or self._default_parallelism

    def set_runtime_mode(self, execution_mode: RuntimeExecutionMode) -> StreamExecutionEnvironment:
        self._mode = execution_mode
        return self

    def set_restart_strategy(self, restart_strategy_configuration: Any) -> None:
        self._config.update(getattr(restart_strategy_configuration, "config", {}))

    def get_config(self) -> ExecutionConfig:
        return ExecutionConfig(self._config)

    def _auto_watermark_interval_ms(self) -> int:
        """`pipeline.auto-watermark-interval`: the job's (get_config()), else flink-conf's, else Flink's 200 ms."""
        value = self._config.get(AUTO_WATERMARK_INTERVAL) or get_context().config.get(AUTO_WATERMARK_INTERVAL)
        return parse_duration_ms(value) if value else 200

    def set_buffer_timeout(self, timeout_millis: int) -> StreamExecutionEnvironment:
        return self

    def enable_checkpointing(self, interval: int, mode: Any = None) -> StreamExecutionEnvironment:
        """Checkpoints every `interval` ms (`execution.checkpointing.interval`); the mode is always exactly-once
        (aligned barriers)."""
        self._config["execution.checkpointing.interval"] = str(int(interval))
        return self

    def add_python_file(self, file_path: str) -> None:
        pass

    # sources
    def _source(self, source: Source, name: str | None = None, output_type: Any = None) -> DataStream:
        t = self._registry.add(name=name or source.name, source=source, output_type=output_type)
        return DataStream(self, t)

    def from_collection(self, collection: list[Any], type_info: Any = None) -> DataStream:
        """With `type_info`, the elements become what PyFlink makes of them (Rows, 32-bit floats) and print as typed."""
        items = list(collection)
        if isinstance(type_info, TypeInformation) and type_info.needs_conversion:
            items = [type_info.from_python(x) for x in items]
        return self._source(CollectionSource(items), output_type=type_info)

    def read_text_file(self, file_path: str, charset_name: str = "UTF-8") -> DataStream:
        return self._source(TextFileSource([file_path], charset_name.lower()), output_type=Types.STRING())

    def socket_text_stream(self, hostname: str, port: int, delimiter: str = "\n", max_retry: int = 0) -> DataStream:
        return self._source(SocketSource(hostname, int(port), delimiter, max_retry), output_type=Types.STRING())

    def from_source(self, source: Any, watermark_strategy: Any = None, source_name: str | None = None,
                    type_info: Any = None) -> DataStream:
        to_source = getattr(source, "to_source", None)
        if to_source is None:
            raise TypeError(f"{type(source).__name__} is not a supported source (FileSource is)")
        # The sources this runtime has (FileSource with a text-line format) emit lines: STRING.
        stream = self._source(to_source(), f"Source: {source_name}" if source_name else None,
                              type_info or Types.STRING())
        if watermark_strategy is not None and getattr(watermark_strategy, "timestamp_assigner", None) is not None:
            # Event time from the source on, as Flink's from_source: timestamps and watermarks right after it.
            return stream.assign_timestamps_and_watermarks(watermark_strategy)
        return stream

    def add_source(self, source_func: Any, source_name: str = "Custom Source", type_info: Any = None) -> DataStream:
        return self.from_source(source_func, None, source_name)

    # execution
    def get_job_graph(self, job_name: str | None = None) -> JobGraphSpec:
        mode = "BATCH" if self._mode == RuntimeExecutionMode.BATCH else "STREAMING"
        return build_job_graph(self._registry.graph_nodes(), job_name or "Flink Streaming Job", self.get_parallelism(),
                               mode, self._config)

    def execute_async(self, job_name: str | None = None) -> JobClient:
        graph = self.get_job_graph(job_name)
        ctx = get_context()
        # `run -s PATH [-n]` (or -D of their keys): the job restores from that savepoint.
        graph.config = {**{k: v for k, v in ctx.config.items() if k in RESTORE_KEYS}, **graph.config}
        client = ctx.executor.submit(graph)
        ctx.submitted.append(client.get_job_id())
        self._registry.clear()
        return client

    def execute(self, job_name: str | None = None) -> JobExecutionResult:
        client = self.execute_async(job_name)
        ctx = get_context()
        if ctx.detached:
            return JobExecutionResult(client.get_job_id(), 0)
        result = client.wait()
        if result.state != "FINISHED":
            cause = f": {result.failure}" if result.failure else ""
            raise JobExecutionException(f"Job {result.job_id} ended {result.state}{cause}")
        if ctx.sysout:
            print(f"Program execution finished\nJob with JobID {result.job_id} has finished.\n"
                  f"Job Runtime: {result.duration_ms} ms\n", flush=True)
        return JobExecutionResult(result.job_id, result.duration_ms)
