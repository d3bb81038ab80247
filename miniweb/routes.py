"""The route class of our FastAPI apps: a route returns JSON-ready values (dicts shaped as YARN's or Flink's
REST answers) or a Response, so FastAPI need not derive a response model from its return annotation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.datastructures import DefaultPlaceholder
from fastapi.routing import APIRoute


class PlainRoute(APIRoute):
    """An APIRoute whose response model is None unless the route names one. A model derived from `-> dict[str,
    Any]` only re-validates what the route built, per request, and costs a TypeAdapter per route at start (with
    pydantic.v1's import for FastAPI's v1 check): ~80 ms of CPU on a JobManager's start, a deploy's critical path."""

    def __init__(self, path: str, endpoint: Callable[..., Any], *, response_model: Any = None,
                 **kwargs: Any) -> None:
        if isinstance(response_model, DefaultPlaceholder):
            response_model = None
        super().__init__(path, endpoint, response_model=response_model, **kwargs)
