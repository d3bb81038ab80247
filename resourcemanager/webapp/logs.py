"""The RM's log server: aggregated container logs out of Redis over HTTP, as YARN's AHS REST serves
them, so `miniyarn logs` and users need a token, never a Redis credential.

- `GET /ws/v1/applicationhistory/containers/{containerid}/logs`: the container's aggregated files
  (YARN's `[{"containerLogInfo": [...], "logAggregationType": "AGGREGATED", "containerId", "nodeId"}]`);
- `GET /ws/v1/applicationhistory/containerlogs/{containerid}/{filename}[?start=&end=|?size=]`: one file's
  bytes (the log servlet's byte offsets, negative from the end, or YARN REST's `size`: the first bytes, the
  last when negative);
- `GET /ws/v1/applicationhistory/apps/{appid}/logs`: every container of the app at once, and the nodes
  that still owe their upload (`pendingNodes`; miniyarn's, for LogCLI's "aggregation not completed").

- `GET /logs/{nodeId}/{containerId}/{containerId}/{user}[/{filename}]`: the same as a page (and a file),
  where YARN's log server (`yarn.log.server.url`) has them: an NM sends a browser there once a finished
  container's local logs are gone.

Each is guarded by the app's VIEW_APP ACL for `request.state.user` (set by the auth middleware;
`dr.who` when there is none): 403 `AccessControlException` otherwise.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response

from miniweb import pages
from miniyarn import keys
from miniyarn.config import YarnConfiguration
from miniyarn.ids import ApplicationId, ContainerId, InvalidIdError
from miniyarn.redisconn import data, text
from miniyarn.security.acls import AccessControlList, ApplicationAccessType, Policy, can_access, groups_of
from resourcemanager.errors import BadRequestError, NotFoundError, YarnError
from resourcemanager.rm import ResourceManager

BASE = "/ws/v1/applicationhistory"
ANONYMOUS = "dr.who"


class AccessControlError(YarnError):
    status = 403
    exception = "AccessControlException"
    java_class = "org.apache.hadoop.security.AccessControlException"


@dataclass(frozen=True)
class Aggregated:
    container_id: str
    node_id: str
    file: str
    size: int


def acl_policy(conf: YarnConfiguration) -> Policy:
    """`yarn.acl.enable` (default false, as Hadoop's) and `yarn.admin.acl` (default `*`)."""
    return Policy(acl_enabled=conf.get_bool("yarn.acl.enable", False),
                  admin_acl=AccessControlList.parse(conf.get_str("yarn.admin.acl", "*")))


def _app_of(container_id: str) -> str:
    try:
        return str(ContainerId.parse(container_id).application_id)
    except InvalidIdError as e:
        raise BadRequestError(f"Invalid ContainerId: {e}") from None


def _range(size: int, start: str | None, end: str | None) -> tuple[int, int]:
    def clamp(v: str | None, default: int) -> int:
        if v is None:
            return default
        try:
            n = int(v)
        except ValueError:
            raise BadRequestError("start, end and size must be integers (bytes)") from None
        return max(0, min(size, size + n if n < 0 else n))

    lo = clamp(start, 0)
    return lo, max(lo, clamp(end, size))


def _start_end(start: str | None, end: str | None, size: str | None) -> tuple[str | None, str | None]:
    """YARN REST's `size` (first bytes, or the last when negative) when no `start`/`end` is given."""
    if start is None and end is None and size is not None:
        return (size, None) if size.strip().startswith("-") else ("0", size)
    return start, end


def add_log_routes(app: FastAPI, rm: ResourceManager) -> None:
    policy = acl_policy(rm.conf)

    def check_view(request: Request, app_id: str) -> int:
        """The app's finish time (0 while it runs), once the caller may VIEW_APP it."""
        user = str(getattr(request.state, "user", "") or ANONYMOUS)
        with rm.lock:
            known = rm.apps.get(app_id)
            owner = known.user if known is not None else ""
            finished = known.finish_time if known is not None else 0
            acls: Mapping[str, str] = (getattr(known.submission.am_container_spec, "application_acls", None) or {}
                                       if known is not None else {})
        if not can_access(policy, user, ApplicationAccessType.VIEW_APP, owner, acls, groups_of(user)):
            raise AccessControlError(f"User {user} does not have privilege to see this application {app_id}")
        return finished

    def fields(app_id: str) -> list[tuple[str, str, str]]:
        """(containerId, nodeId, file) of every aggregated file of the app."""
        parts = (text(f).split(" ", 2) for f in rm.redis.hkeys(keys.app_logs(app_id)))
        return sorted((p[0], p[1], p[2]) for p in parts if len(p) == 3)

    def listing(app_id: str, container_id: str | None = None) -> list[Aggregated]:
        found = [f for f in fields(app_id) if container_id is None or f[0] == container_id]
        pipe = rm.redis.pipeline(transaction=False)
        for f in found:
            pipe.hstrlen(keys.app_logs(app_id), " ".join(f))
        sizes = pipe.execute() if found else []
        return [Aggregated(c, n, name, int(size)) for (c, n, name), size in zip(found, sizes, strict=True)]

    def container_infos(entries: list[Aggregated], modified_ms: int) -> list[dict[str, Any]]:
        by_container: dict[tuple[str, str], list[dict[str, str]]] = {}
        for e in entries:
            by_container.setdefault((e.container_id, e.node_id), []).append(
                {"fileName": e.file, "fileSize": str(e.size), "lastModifiedTime": str(modified_ms)})
        return [{"containerLogInfo": files, "logAggregationType": "AGGREGATED", "containerId": cid, "nodeId": node}
                for (cid, node), files in sorted(by_container.items())]

    @app.get(BASE + "/apps/{app_id}/logs")
    def app_logs(app_id: str, request: Request) -> dict[str, Any]:
        try:
            ApplicationId.parse(app_id)
        except InvalidIdError as e:
            raise BadRequestError(f"Invalid ApplicationId: {e}") from None
        finished = check_view(request, app_id)
        entries = listing(app_id)
        pending = sorted(text(n) for n in rm.redis.smembers(keys.app_log_nodes(app_id)))
        with rm.lock:
            known = app_id in rm.apps
        if not known and not entries:
            raise NotFoundError(f"app with id: {app_id} not found")
        status = "SUCCEEDED" if entries and not pending else ("RUNNING" if pending else "NOT_START")
        return {"applicationId": app_id, "logAggregationStatus": status, "pendingNodes": pending,
                "containerLogsInfo": container_infos(entries, finished or int(time.time() * 1000))}

    @app.get(BASE + "/containers/{container_id}/logs")
    def container_logs(container_id: str, request: Request) -> list[dict[str, Any]]:
        app_id = _app_of(container_id)
        finished = check_view(request, app_id)
        entries = listing(app_id, container_id)
        if not entries:
            raise NotFoundError(f"Can not find the aggregated logs of container {container_id}")
        return container_infos(entries, finished or int(time.time() * 1000))

    @app.get(BASE + "/containerlogs/{container_id}/{filename}")
    def container_log(container_id: str, filename: str, request: Request, start: str | None = None,
                      end: str | None = None, size: str | None = None) -> Response:
        app_id = _app_of(container_id)
        check_view(request, app_id)
        field = next((" ".join(f) for f in fields(app_id) if f[0] == container_id and f[2] == filename), None)
        raw = rm.redis.hget(keys.app_logs(app_id), field) if field is not None else None
        if raw is None:
            raise NotFoundError(f"Can not find the log file {filename} of container {container_id} in the "
                                "aggregated logs")
        body = data(raw)
        lo, hi = _range(len(body), *_start_end(start, end, size))
        return Response(body[lo:hi], media_type="text/plain; charset=utf-8",
                        headers={"X-Content-Type-Options": "nosniff"})

    @app.get("/logs/{node_id}/{container_id}/{entity}/{user}", response_class=HTMLResponse)
    def log_server_page(node_id: str, container_id: str, entity: str, user: str, request: Request) -> HTMLResponse:
        app_id = _app_of(container_id)
        check_view(request, app_id)
        files = [(e.file, e.size) for e in listing(app_id, container_id) if e.node_id == node_id]
        pending = rm.redis.sismember(keys.app_log_nodes(app_id), node_id)
        base = "/logs/" + "/".join(quote(p, safe=":") for p in (node_id, container_id, entity, user))
        doc = pages.render(__package__ or "resourcemanager.webapp", "logs.html", title=f"Logs of {container_id}",
                           active="apps", page="logs", cid=container_id, node_id=node_id, app_id=app_id,
                           files=files, base=base, pending=bool(pending))
        return HTMLResponse(doc, status_code=200 if files or pending else 404, headers={"Cache-Control": "no-cache"})

    @app.get("/logs/{node_id}/{container_id}/{entity}/{user}/{filename}")
    def log_server_file(node_id: str, container_id: str, entity: str, user: str, filename: str, request: Request,
                        start: str | None = None, end: str | None = None) -> Response:
        return container_log(container_id, filename, request, start, end)
