"""Records as Flink writes them in text (`print()`, `Encoder.simple_string_encoder()`): Java's toString.

>>> format_record(("hello", 3))
'(hello,3)'
>>> format_record([1, ("a", True)])
'[1, (a,true)]'
"""

from __future__ import annotations

from typing import Any


def format_record(value: Any) -> str:
    """Java-style text, as Flink prints Tuple2 and lists: `(hello,3)`, `[a, b]`."""
    # Exact type checks first: this runs once per record written, and a word count writes every record.
    t = type(value)
    if t is tuple and len(value) == 2:
        # Tuple2 of plain strings and ints, the word count's record: one f-string, no recursion.
        a, b = value
        ta, tb = type(a), type(b)
        if (ta is str or ta is int) and (tb is str or tb is int):
            return f"({a},{b})"
    if t is str:
        return value  # type: ignore[no-any-return]
    if t is int or t is float:
        return str(value)
    if isinstance(value, tuple):
        return "(" + ",".join([format_record(v) for v in value]) + ")"
    if isinstance(value, list):
        return "[" + ", ".join([format_record(v) for v in value]) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def format_lines(records: list[Any], prefix: str = "") -> str:
    """One line per record, as a sink writes a batch."""
    return "".join([f"{prefix}{format_record(r)}\n" for r in records])
