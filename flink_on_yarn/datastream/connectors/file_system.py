"""PyFlink's file connectors: a text-line `FileSource` and a row-format `FileSink` with its builders.

Part files are written in progress (hidden, `.part-…inprogress.<uuid>`) and committed — renamed to
`<prefix>-<uuid>-<subtask>-<n><suffix>` — at end of input. A job restarted from scratch therefore never leaves
visible duplicates: its failed attempt's files stay hidden. Buckets are `yyyy-MM-dd--HH` as Flink's default.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any, BinaryIO

from flink_on_yarn.common.serialization import Encoder
from flink_on_yarn.graph.operators import Operator
from flink_on_yarn.graph.sources import TextFileSource
from flink_on_yarn.graph.task_context import TaskContext


class StreamFormat:
    def __init__(self, charset: str = "UTF-8") -> None:
        self.charset = charset

    @staticmethod
    def text_line_format(charset_name: str = "UTF-8") -> StreamFormat:
        return StreamFormat(charset_name)


class FileSource:
    def __init__(self, paths: list[str], stream_format: StreamFormat) -> None:
        self.paths = paths
        self.stream_format = stream_format

    @staticmethod
    def for_record_stream_format(stream_format: StreamFormat, *paths: str) -> FileSourceBuilder:
        return FileSourceBuilder(list(paths), stream_format)

    def to_source(self) -> TextFileSource:
        return TextFileSource(self.paths, self.stream_format.charset.lower())


class FileSourceBuilder:
    def __init__(self, paths: list[str], stream_format: StreamFormat) -> None:
        self.paths = paths
        self.stream_format = stream_format

    def monitor_continuously(self, discovery_interval: Any) -> FileSourceBuilder:
        raise NotImplementedError("continuous file monitoring is not supported; the file source is bounded")

    def process_static_file_set(self) -> FileSourceBuilder:
        return self

    def build(self) -> FileSource:
        return FileSource(self.paths, self.stream_format)


class OutputFileConfig:
    def __init__(self, part_prefix: str = "part", part_suffix: str = "") -> None:
        self.part_prefix = part_prefix
        self.part_suffix = part_suffix

    @staticmethod
    def builder() -> OutputFileConfigBuilder:
        return OutputFileConfigBuilder()

    def get_part_prefix(self) -> str:
        return self.part_prefix

    def get_part_suffix(self) -> str:
        return self.part_suffix


class OutputFileConfigBuilder:
    def __init__(self) -> None:
        self.prefix = "part"
        self.suffix = ""

    def with_part_prefix(self, prefix: str) -> OutputFileConfigBuilder:
        self.prefix = prefix
        return self

    def with_part_suffix(self, suffix: str) -> OutputFileConfigBuilder:
        self.suffix = suffix
        return self

    def build(self) -> OutputFileConfig:
        return OutputFileConfig(self.prefix, self.suffix)


class RollingPolicy:
    """When a part file is rolled: past `part_size` bytes or `rollover_interval` ms (Flink's defaults)."""

    def __init__(self, part_size: int = 128 * 1024 * 1024, rollover_interval: int = 60_000,
                 inactivity_interval: int = 60_000) -> None:
        self.part_size = part_size
        self.rollover_interval = rollover_interval
        self.inactivity_interval = inactivity_interval

    @staticmethod
    def default_rolling_policy(part_size: int = 128 * 1024 * 1024, rollover_interval: int = 60_000,
                               inactivity_interval: int = 60_000) -> RollingPolicy:
        return RollingPolicy(part_size, rollover_interval, inactivity_interval)

    @staticmethod
    def on_checkpoint_rolling_policy() -> RollingPolicy:
        return RollingPolicy(part_size=1 << 62, rollover_interval=1 << 62, inactivity_interval=1 << 62)


class FileSink:
    def __init__(self, base_path: str, encoder: Encoder, config: OutputFileConfig, rolling: RollingPolicy) -> None:
        self.base_path = base_path
        self.encoder = encoder
        self.config = config
        self.rolling = rolling

    @staticmethod
    def for_row_format(base_path: str, encoder: Encoder) -> FileSinkBuilder:
        return FileSinkBuilder(base_path, encoder)

    def to_operator(self) -> FileSinkOperator:
        return FileSinkOperator(self)


class FileSinkBuilder:
    def __init__(self, base_path: str, encoder: Encoder) -> None:
        self.base_path = base_path
        self.encoder = encoder
        self.config = OutputFileConfig()
        self.rolling = RollingPolicy()

    def with_output_file_config(self, config: OutputFileConfig) -> FileSinkBuilder:
        self.config = config
        return self

    def with_rolling_policy(self, policy: RollingPolicy) -> FileSinkBuilder:
        self.rolling = policy
        return self

    def with_bucket_assigner(self, assigner: Any) -> FileSinkBuilder:
        return self

    def build(self) -> FileSink:
        return FileSink(self.base_path, self.encoder, self.config, self.rolling)


StreamingFileSink = FileSink


class FileSinkOperator(Operator):
    """Writes each record with the encoder; commits all part files at end of input."""

    def __init__(self, sink: FileSink) -> None:
        self.sink = sink
        self.name = "Sink: Writer"

    def open(self, ctx: TaskContext) -> None:
        super().open(ctx)
        self.bucket = Path(self.sink.base_path) / time.strftime("%Y-%m-%d--%H")
        self.bucket.mkdir(parents=True, exist_ok=True)
        self.uid = uuid.uuid4().hex[:8]
        self.counter = 0
        self.pending: list[tuple[Path, Path]] = []
        self.file: BinaryIO | None = None

    def _roll(self) -> None:
        if self.file is not None:
            self.file.close()
        cfg = self.sink.config
        final = self.bucket / f"{cfg.part_prefix}-{self.uid}-{self.ctx.subtask}-{self.counter}{cfg.part_suffix}"
        temp = self.bucket / f".{final.name}.inprogress.{uuid.uuid4().hex[:8]}"
        self.counter += 1
        self.pending.append((temp, final))
        self.file = open(temp, "wb")
        self.opened_at = time.monotonic()

    def process(self, batch: list[Any]) -> list[Any]:
        if not batch:
            return []
        policy = self.sink.rolling
        if self.file is None or self.file.tell() >= policy.part_size or \
                (time.monotonic() - self.opened_at) * 1000 >= policy.rollover_interval:
            self._roll()
        assert self.file is not None
        self.file.write(self.sink.encoder.encode_batch(batch))
        self.file.flush()
        return []

    def finish(self) -> list[Any]:
        if self.file is not None:
            self.file.close()
            self.file = None
        for temp, final in self.pending:
            os.replace(temp, final)
        self.pending = []
        return []

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
