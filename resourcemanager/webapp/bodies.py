"""Request bodies and query parameters read defensively: a size cap and a nesting cap before `json.loads`
(100,000 `[` must be a 400, not a RecursionError), and Hadoop's 400s for malformed filters.

>>> depth(b'{"a": [1, {"b": "[[[["}]}')
3
>>> json_body(b"[" * 100_000, MAX_SUBMISSION_BODY)
Traceback (most recent call last):
...
resourcemanager.errors.BadRequestError: The request body nests deeper than 32 levels
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import ValidationError

from resourcemanager.errors import BadRequestError

# A submission is a few KB (commands, environment, local resources); 4 MB leaves room for large
# environments while keeping one request from filling the RM's memory.
MAX_SUBMISSION_BODY = 4 << 20
MAX_STATE_BODY = 64 << 10  # {"state": "KILLED", "diagnostics": ...}
# YARN's submission nests five levels deep (am-container-spec.local-resources.entry[].value...).
MAX_DEPTH = 32
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")


def depth(raw: bytes) -> int:
    """The deepest nesting of arrays/objects, brackets inside strings not counted."""
    deepest = level = 0
    for b in _BRACKET.findall(_STRING.sub(b'""', raw)):
        level += 1 if b in (b"[", b"{") else -1
        deepest = max(deepest, level)
    return deepest


def json_body(raw: bytes, limit: int) -> Any:
    if len(raw) > limit:
        raise BadRequestError(f"The request body is {len(raw)} bytes; at most {limit} are accepted")
    if depth(raw) > MAX_DEPTH:
        raise BadRequestError(f"The request body nests deeper than {MAX_DEPTH} levels")
    try:
        return json.loads(raw or b"null")
    except (ValueError, RecursionError) as e:
        where = f" at line {e.lineno} column {e.colno}" if isinstance(e, json.JSONDecodeError) else ""
        raise BadRequestError(f"The request body is not valid JSON{where}") from None


def validation_message(e: ValidationError, what: str) -> str:
    """`Invalid application submission: priority: Input should be ...`: the field path dotted, no tuples."""
    first = e.errors()[0]
    loc = ".".join(str(p) for p in first["loc"])
    msg = str(first["msg"]).removeprefix("Value error, ")
    return f"{what}: {loc}: {msg}" if loc else f"{what}: {msg}"


def time_param(name: str, value: str | None) -> int | None:
    """Hadoop's startedTimeBegin & co: a non-negative long, else 400 with its wording."""
    if value is None:
        return None
    try:
        parsed = int(value)
    except ValueError:
        raise BadRequestError(f"java.lang.NumberFormatException: For input string: \"{value[:64]}\"") from None
    if parsed < 0:
        raise BadRequestError(f"{name} must be greater than 0")
    return parsed
