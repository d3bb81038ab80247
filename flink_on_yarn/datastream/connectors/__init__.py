"""Connectors: the file system source and sink (`flink_on_yarn.datastream.connectors.file_system`)."""

from __future__ import annotations

from flink_on_yarn.datastream.connectors.file_system import (
    BucketAssigner,
    FileSink,
    FileSource,
    OutputFileConfig,
    RollingPolicy,
    StreamFormat,
    StreamingFileSink,
)

__all__ = ["BucketAssigner", "FileSink", "FileSource", "OutputFileConfig", "RollingPolicy", "StreamFormat",
           "StreamingFileSink"]
