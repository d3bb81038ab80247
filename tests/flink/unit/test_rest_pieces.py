"""The REST API's pure pieces: `/v1` paths, Flink-shaped errors (500 included), the guard's rules for
state-changing GETs and the Java client's multipart submit, trigger ids, aggregated metrics, process
figures and the JobManager's own log tail."""

from __future__ import annotations

import asyncio
import os
import tempfile
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from flink_on_yarn.runtime import rest_logs
from flink_on_yarn.runtime.process_metrics import metric_list, process_figures
from flink_on_yarn.runtime.rest import add_error_handlers
from flink_on_yarn.runtime.rest_guard import RestGuard, session_cookie
from flink_on_yarn.runtime.rest_operations import BadTriggerId, Kind, Operations, trigger_id_of
from flink_on_yarn.runtime.rest_paths import VersionedPaths, unversioned
from flink_on_yarn.runtime.rest_views import aggregated

SECRET = b"s" * 32


def test_unversioned_paths() -> None:
    assert unversioned("/v1/jobs/overview") == "/jobs/overview"
    assert unversioned("/v1/") == "/"
    assert unversioned("/jobs/overview") is None
    assert unversioned("/v10/jobs") is None and unversioned("/v1") is None


def app_under_test() -> FastAPI:
    app = FastAPI()
    app.add_middleware(RestGuard, secret=SECRET)
    app.add_middleware(VersionedPaths)
    add_error_handlers(app)

    @app.get("/jobs/overview")
    def overview() -> dict[str, Any]:
        return {"jobs": []}

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("a bug")

    @app.get("/jobs/{jid}/yarn-cancel")
    def yarn_cancel(jid: str) -> dict[str, str]:
        return {"cancelled": jid}

    return app


def call(method: str, path: str, headers: dict[str, str] | None = None, **kw: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app_under_test(), raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://jm:8081") as c:
            return await c.request(method, path, headers=headers, **kw)
    return asyncio.run(go())


BEARER = {"authorization": "Bearer " + SECRET.decode()}
COOKIE = {"cookie": f"flink.auth={session_cookie(SECRET)}"}


def test_v1_and_unversioned_reach_the_same_route_through_the_guard() -> None:
    assert call("GET", "/v1/jobs/overview", BEARER).json() == call("GET", "/jobs/overview", BEARER).json()
    assert call("GET", "/v1/jobs/overview").status_code == 401  # the guard sees /v1 paths too


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/v1/nope", 404), ("DELETE", "/v1/jobs/overview", 405), ("GET", "/boom", 500)])
def test_errors_are_flink_shaped(method: str, path: str, status: int) -> None:
    r = call(method, path, BEARER)
    assert r.status_code == status and set(r.json()) == {"errors"}, r.text
    if status == 500:
        assert r.json()["errors"][0] == "Internal server error." and "a bug" not in r.text


def test_state_changing_gets_refused_through_the_proxy_and_cross_site() -> None:
    assert call("GET", "/v1/jobs/j/yarn-cancel", BEARER).json() == {"cancelled": "j"}
    r = call("GET", "/jobs/j/yarn-cancel", {**BEARER, "x-forwarded-prefix": "/proxy/app_1"})
    assert r.status_code == 403 and "PATCH" in r.json()["errors"][0]
    for site in ("cross-site", "same-site", None):
        headers = {**COOKIE, **({"sec-fetch-site": site} if site else {})}
        assert call("GET", "/jobs/j/yarn-cancel", headers).status_code == 403
    assert call("GET", "/jobs/j/yarn-cancel", {**COOKIE, "sec-fetch-site": "same-origin"}).status_code == 200
    # Other GETs with the cookie are not affected.
    assert call("GET", "/jobs/overview", {**COOKIE, "sec-fetch-site": "cross-site"}).status_code == 200


def test_the_java_clients_multipart_submit_is_refused_naming_miniflink_run() -> None:
    files = {"file_0": ("job.bin", b"\xac\xed", "application/octet-stream")}
    r = call("POST", "/v1/jobs", BEARER, files=files)
    assert r.status_code == 400 and "miniflink run -py" in r.json()["errors"][0]
    # Cross-site is still refused as such first.
    r = call("POST", "/jobs", {**BEARER, "origin": "http://evil.example"}, files=files)
    assert r.status_code == 403 and "Cross-origin" in r.json()["errors"][0]


def test_operations_trigger_ids_and_results() -> None:
    ops = Operations(max_kept=2)
    a, new = ops.trigger(Kind.SAVEPOINT, "j", "A" * 32)
    assert new and a.trigger_id == "a" * 32 and ops.trigger(Kind.SAVEPOINT, "j", "a" * 32) == (a, False)
    assert ops.get(Kind.CHECKPOINT, "j", "a" * 32) is None  # another kind's id is not this one
    with pytest.raises(BadTriggerId):
        trigger_id_of("xyz")
    assert len(trigger_id_of(None)) == 32
    ops.trigger(Kind.SAVEPOINT, "j", None)
    ops.trigger(Kind.SAVEPOINT, "j", None)
    assert ops.get(Kind.SAVEPOINT, "j", "a" * 32) is None  # the oldest went once more than 2 were kept
    assert a.result() == {"status": {"id": "IN_PROGRESS"}, "operation": None}  # test_savepoint_pieces: the rest


def test_aggregated_metrics() -> None:
    out = aggregated({"numRecordsIn": [2.0, 6.0], "numRecordsOut": []}, ["numRecordsIn", "numRecordsOut"], None)
    assert out == [{"id": "numRecordsIn", "min": 2.0, "max": 6.0, "avg": 4.0, "sum": 8.0, "skew": 50}]
    assert aggregated({"numRecordsIn": [1.0], "numRecordsOut": []}, None, None) == [{"id": "numRecordsIn"}]
    assert aggregated({"numRecordsIn": [1.0]}, ["numRecordsIn"], ["sum"]) == [{"id": "numRecordsIn", "sum": 1.0}]


def test_process_figures_are_measured() -> None:
    figures = process_figures()
    assert figures["Status.Process.Memory.RSS"] > 1_000_000 and figures["Status.JVM.Threads.Count"] >= 1
    assert figures["Status.JVM.CPU.Time"] > 0
    listed = metric_list(figures, ["Status.JVM.Threads.Count", "unknown"])
    assert [m["id"] for m in listed] == ["Status.JVM.Threads.Count"] and isinstance(listed[0]["value"], str)


def test_log_tail_reads_through_the_descriptor() -> None:
    with tempfile.TemporaryFile() as f:
        f.write(b"a" * 10 + b"tail")
        f.flush()
        assert rest_logs.tail(f.fileno(), max_bytes=4) == "tail"
    r, w = os.pipe()
    try:
        assert rest_logs.tail(w) is None  # a pipe is no file to serve
    finally:
        os.close(r)
        os.close(w)
