"""Encoders for row-format file sinks and schemas, as PyFlink names them."""

from __future__ import annotations

from typing import Any


class Encoder:
    """How a record becomes bytes in a row-format file: `Encoder.simple_string_encoder()` writes `str(x)\\n`."""

    def __init__(self, charset: str = "UTF-8") -> None:
        self.charset = charset

    @staticmethod
    def simple_string_encoder(charset_name: str = "UTF-8") -> Encoder:
        return Encoder(charset_name)

    def encode(self, value: Any) -> bytes:
        from flink_on_yarn.graph.operators import format_record

        return (format_record(value) + "\n").encode(self.charset)


class SimpleStringSchema:
    def __init__(self, charset: str = "UTF-8") -> None:
        self.charset = charset
