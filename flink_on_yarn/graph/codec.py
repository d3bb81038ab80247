"""How user code travels: cloudpickle, base64 inside JSON. Kept free of heavy imports for task processes."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import cloudpickle


def new_id() -> str:
    """A Flink-style id: 32 hex characters."""
    return uuid.uuid4().hex


def encode(obj: Any) -> str:
    return base64.b64encode(cloudpickle.dumps(obj)).decode("ascii")


def decode(data: str) -> Any:
    return cloudpickle.loads(base64.b64decode(data))
