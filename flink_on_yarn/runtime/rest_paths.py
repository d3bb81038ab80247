"""Flink serves every REST path twice: under `/v1/` (what Flink's Java client, `bin/flink`, and most
third-party clients call) and unversioned (what the dashboard calls). One ASGI middleware, outermost,
turns `/v1/x` into `/x` before the guard and the routes see the request, so both spellings pass the same
checks and reach the same handler.

>>> unversioned("/v1/jobs/overview")
'/jobs/overview'
>>> unversioned("/v1") is None or unversioned("/v10/jobs") is None
True
"""

from __future__ import annotations

from flink_on_yarn.runtime.rest_guard import ASGIApp, Receive, Scope, Send

# Flink's dispatcher REST API has one version (RuntimeRestAPIVersion.V1); the SQL gateway's are not ours.
VERSIONS = ("v1",)


def unversioned(path: str) -> str | None:
    """The path without its API version prefix, or None when it has none."""
    for v in VERSIONS:
        prefix = f"/{v}/"
        if path.startswith(prefix):
            return path[len(prefix) - 1:]
    return None


class VersionedPaths:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            bare = unversioned(scope["path"])
            if bare is not None:
                scope = dict(scope, path=bare, raw_path=bare.encode("latin-1"))
        await self.app(scope, receive, send)
