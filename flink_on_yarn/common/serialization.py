"""Encoders for row-format file sinks and schemas, as PyFlink names them."""

from __future__ import annotations

from typing import Any

from flink_on_yarn.common.text import format_lines, format_record


class Encoder:
    """How a record becomes bytes in a row-format file: `Encoder.simple_string_encoder()` writes `str(x)\\n`."""

    def __init__(self, charset: str = "UTF-8") -> None:
        self.charset = charset

    @staticmethod
    def simple_string_encoder(charset_name: str = "UTF-8") -> Encoder:
        return Encoder(charset_name)

    def encode(self, value: Any) -> bytes:
        return (format_record(value) + "\n").encode(self.charset)

    def encode_batch(self, values: list[Any]) -> bytes:
        """A batch at once: one encode call instead of one per record."""
        return format_lines(values).encode(self.charset)


class SimpleStringSchema:
    def __init__(self, charset: str = "UTF-8") -> None:
        self.charset = charset
