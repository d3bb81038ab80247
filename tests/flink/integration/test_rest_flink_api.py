"""The JobManager's REST API as Flink's own Java client (`bin/flink`) and dashboard call it: every path under
`/v1/` and unversioned, Flink's request bodies and headers, Flink's response schemas, errors always
`{"errors": [...]}`, the savepoint trigger-and-poll cycle to its location (a stop without a directory refused
with Flink's text), a checkpoint poll of a job without checkpointing refused, and cancel reaching CANCELED."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from flink_on_yarn.runtime.rest_guard import session_cookie
from flink_on_yarn.security import secret as cluster_secret
from tests.flink.conftest import ROOT, FlinkCluster, wait_for
from tests.flink.integration.test_socket_cancel import LineServer

pytestmark = pytest.mark.integration

# What Flink's RestClient sends with every request (it writes a JSON body even on GET and PATCH).
JAVA_HEADERS = {"Content-Type": "application/json; charset=UTF-8", "Connection": "close",
                "User-Agent": "Flink"}
FLINK_TASK_STATES = {"created", "scheduled", "deploying", "running", "finished", "canceling", "canceled",
                     "failed", "reconciling", "initializing"}
JOB_DETAILS_KEYS = {"jid", "name", "state", "start-time", "end-time", "duration", "last-modification", "tasks",
                    "pending-operators"}
IO_METRICS_KEYS = {"read-bytes", "read-bytes-complete", "write-bytes", "write-bytes-complete", "read-records",
                   "read-records-complete", "write-records", "write-records-complete",
                   "accumulated-backpressured-time", "accumulated-idle-time", "accumulated-busy-time"}


class JavaLikeClient:
    """Sends requests the way Flink's RestClient does: fresh connection, JSON body `{}` where it has none."""

    def __init__(self, cluster: FlinkCluster) -> None:
        self.base = cluster.rest
        self.auth = cluster.auth

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
             auth: bool = True) -> httpx.Response:
        h = {**JAVA_HEADERS, **(self.auth if auth else {}), **(headers or {})}
        content = json.dumps({} if body is None else body).encode()
        with httpx.Client(timeout=10) as c:
            return c.request(method, self.base + path, content=content, headers=h)

    def ok(self, path: str, method: str = "GET", body: Any = None, status: int = 200) -> Any:
        """The answer at `/v1<path>`, checked equal in shape to the unversioned one for GETs."""
        r = self.call(method, "/v1" + path, body)
        assert r.status_code == status, (path, r.status_code, r.text)
        if method == "GET":
            bare = self.call("GET", path)
            assert bare.status_code == status, (path, bare.text)
            assert shape(bare.json()) == shape(r.json()), path
        return r.json()

    def err(self, method: str, path: str, status: int, body: Any = None, **kw: Any) -> list[str]:
        r = self.call(method, path, body, **kw)
        assert r.status_code == status, (method, path, r.status_code, r.text)
        data = r.json()
        assert set(data) == {"errors"} and data["errors"] and all(isinstance(e, str) for e in data["errors"]), data
        return list(data["errors"])


def shape(x: Any) -> Any:
    """Keys and types, not values (figures change between two calls)."""
    if isinstance(x, dict):
        return {k: shape(v) for k, v in x.items()}
    if isinstance(x, list):
        return [shape(v) for v in x[:1]]
    return type(x).__name__ if not isinstance(x, bool | int | float) or isinstance(x, bool) else "number"


def start_wordcount(cluster: FlinkCluster, nc: LineServer) -> str:
    job_id = cluster.run_detached(ROOT / "examples/wordcount.py", "--hostname", "127.0.0.1", "--port", str(nc.port))
    assert nc.accepted.wait(30), "the socket source never connected"
    cluster.wait_state(job_id, ("RUNNING",))
    return job_id


def test_flink_rest_api_v1_schemas_operations_and_cancel(flink: Callable[..., FlinkCluster], tmp_path: Path) -> None:
    cluster = flink(tms=1, slots=4)
    a, b = LineServer(), LineServer()
    try:
        run_checks(cluster, JavaLikeClient(cluster), a, b, tmp_path / "sp")
    finally:
        a.close()
        b.close()


def run_checks(cluster: FlinkCluster, java: JavaLikeClient, nc: LineServer, nc2: LineServer, sp: Path) -> None:
    jid = start_wordcount(cluster, nc)
    for line in ("hello world", "hello java", "hello flink"):
        nc.type(line)

    # /jobs/overview: what `flink list` maps into JobDetails (every count an int, pending-operators too).
    # Each subtask reports once a second: wait until the source's report and the sink's both show the lines.
    def reported() -> bool:
        vs = java.ok(f"/jobs/{jid}")["vertices"]
        return bool(vs[-1]["metrics"]["read-records"] >= 6 and vs[0]["metrics"]["write-records"] >= 3)

    wait_for(reported, 30, "the source to have sent the lines and the sink to have read the words")
    overview = java.ok("/jobs/overview")["jobs"]
    assert [j["jid"] for j in overview] == [jid]
    assert set(overview[0]) == JOB_DETAILS_KEYS and overview[0]["pending-operators"] == 0
    assert set(overview[0]["tasks"]) == FLINK_TASK_STATES | {"total"}
    assert overview[0]["tasks"]["running"] == overview[0]["tasks"]["total"] > 0

    details = java.ok(f"/jobs/{jid}")
    assert details["state"] == "RUNNING" and details["job-type"] == "STREAMING"
    for v in details["vertices"]:
        assert set(v["metrics"]) == IO_METRICS_KEYS
        assert set(v["tasks"]) == {s.upper() for s in FLINK_TASK_STATES}
    source, sink = details["vertices"][0], details["vertices"][-1]
    assert sink["metrics"]["read-records"] >= 6 and sink["metrics"]["read-records-complete"] is True
    # Measured bytes: the sink read at least a frame header per record batch; the source wrote what it sent.
    assert sink["metrics"]["read-bytes-complete"] is True and sink["metrics"]["read-bytes"] > 6
    assert source["metrics"]["write-bytes"] > 0 and source["metrics"]["read-bytes"] == 0
    # A gated task measures its idle time (the sink mostly waits for input); a source does not (its busy is NaN).
    assert isinstance(sink["metrics"]["accumulated-busy-time"], int)
    assert sink["metrics"]["accumulated-idle-time"] > 0
    assert source["metrics"]["accumulated-busy-time"] == "NaN"
    nodes = details["plan"]["nodes"]
    assert {n["id"] for n in nodes} == {v["id"] for v in details["vertices"]}
    assert all({"operator", "operator_strategy", "description", "inputs"} <= set(n) for n in nodes)
    assert any(i["ship_strategy"] == "HASH" for n in nodes for i in n["inputs"])

    assert java.ok(f"/jobs/{jid}/status") == {"status": "RUNNING"}
    assert java.ok(f"/jobs/{jid}/execution-result") == {"status": {"id": "IN_PROGRESS"}}
    assert java.ok(f"/jobs/{jid}/plan")["plan"]["nodes"] == nodes
    assert java.ok(f"/jobs/{jid}/exceptions")["exceptionHistory"] == {"entries": [], "truncated": False}
    assert set(java.ok(f"/jobs/{jid}/accumulators")) == {"job-accumulators", "user-task-accumulators",
                                                        "serialized-user-task-accumulators"}
    conf = java.ok(f"/jobs/{jid}/config")
    assert conf["jid"] == jid and conf["execution-config"]["job-parallelism"] == 2

    # A vertex, its subtasks and their metrics: the same real figures as the job's vertex table.
    vid = sink["id"]
    vertex = java.ok(f"/jobs/{jid}/vertices/{vid}")
    assert [s["subtask"] for s in vertex["subtasks"]] == [0, 1]
    assert all(s["taskmanager-id"] == "tm-0" and s["status"] == "RUNNING" for s in vertex["subtasks"])
    assert java.ok(f"/jobs/{jid}/vertices/{vid}/subtasks/1")["subtask"] == 1
    agg = java.ok(f"/jobs/{jid}/vertices/{vid}/subtasks/metrics?get=numRecordsIn")
    reported = java.ok(f"/jobs/{jid}")["vertices"][-1]["metrics"]["read-records"]
    assert agg[0]["id"] == "numRecordsIn" and agg[0]["sum"] >= 6 and agg[0]["sum"] <= reported
    per = java.ok(f"/jobs/{jid}/vertices/{vid}/metrics?get=0.numRecordsIn,1.numRecordsIn")
    assert len(per) == 2 and sum(int(m["value"]) for m in per) >= 6
    assert java.ok(f"/jobs/{jid}/vertices/{vid}/taskmanagers")["taskmanagers"][0]["taskmanager-id"] == "tm-0"
    marks = java.ok(f"/jobs/{jid}/vertices/{vid}/watermarks")
    # The socket word count has no event time: each subtask's input watermark is still Long.MIN.
    assert marks == [{"id": f"{i}.currentInputWatermark", "value": str(-2**63)} for i in (0, 1)]
    bp = java.ok(f"/jobs/{jid}/vertices/{vid}/backpressure")
    assert bp["status"] == "ok" and bp["backpressureLevel"] == bp["backpressure-level"] == "ok"
    assert [s["subtask"] for s in bp["subtasks"]] == [0, 1]
    for s in bp["subtasks"]:
        assert {"subtask", "attempt-number", "backpressureLevel", "ratio", "idleRatio", "busyRatio"} <= set(s)
        assert 0 <= s["ratio"] <= 0.1 and s["idleRatio"] > 0.5  # a sink waiting for typed lines is idle
    busy = java.ok(f"/jobs/{jid}/vertices/{vid}/subtasks/metrics?get=idleTimeMsPerSecond,numBytesIn")
    assert {m["id"] for m in busy} == {"idleTimeMsPerSecond", "numBytesIn"}

    # TaskManager and JobManager panels: slots held by the job, process figures measured.
    tm = java.ok("/taskmanagers/tm-0")
    assert {"memoryConfiguration", "allocatedSlots", "metrics", "hardware"} <= set(tm)
    assert {s["jobId"] for s in tm["allocatedSlots"]} == {jid} and len(tm["allocatedSlots"]) == 2
    assert tm["memoryConfiguration"]["totalProcessMemory"] > 0
    threads = java.ok("/taskmanagers/tm-0/metrics?get=Status.JVM.Threads.Count")
    assert threads[0]["id"] == "Status.JVM.Threads.Count" and float(threads[0]["value"]) >= 1
    jm_metrics = {m["id"]: float(m["value"]) for m in java.ok(
        "/jobmanager/metrics?get=Status.JVM.CPU.Time,Status.Process.Memory.RSS,Status.JVM.GarbageCollector.gen0.Count")}
    assert jm_metrics["Status.Process.Memory.RSS"] > 10_000_000 and jm_metrics["Status.JVM.CPU.Time"] > 0
    assert "Status.JVM.GarbageCollector.gen0.Count" in jm_metrics
    assert set(java.ok("/jobmanager/environment")) == {"jvm", "classpath"}
    assert "logs" in java.ok("/jobmanager/logs")
    assert {lg["name"] for lg in java.ok("/taskmanagers/tm-0/logs")["logs"]} == {"taskmanager.log", "taskmanager.out"}
    assert java.ok("/datasets") == {"dataSets": []}
    # The TaskManager's heartbeat figures: its process and its four task processes, GC per generation.
    wait_for(lambda: float(java.ok("/taskmanagers/tm-0/metrics?get=Status.Process.Children.Count")[0]["value"]) >= 4,
             20, "a heartbeat with the task processes' figures")
    collectors = java.ok("/taskmanagers/tm-0")["metrics"]["garbageCollectors"]
    assert [g["name"] for g in collectors] == ["gen0", "gen1", "gen2"]
    # Thread dumps in Flink's ThreadDumpInfo shape, innermost frame first: the JobManager's loop waits in its
    # selector while a worker thread answers; the TaskManager's loop is the one answering.
    for path, main_at in (("/jobmanager/thread-dump", "\tat select("), ("/taskmanagers/tm-0/thread-dump",
                                                                       "\tat _handle(")):
        infos = java.ok(path)["threadInfos"]
        assert infos and all(set(t) == {"threadName", "stringifiedThreadInfo"} for t in infos)
        [main] = [t["stringifiedThreadInfo"] for t in infos if t["threadName"] == "MainThread"]
        assert main.startswith('"MainThread" Id=') and main_at in main, main
    java.err("GET", "/v1/taskmanagers/nope/thread-dump", 404)

    # Applications (Flink 2.x's Overview page): in a session cluster each job is one, under the job's id.
    apps = java.ok("/applications/overview")["applications"]
    assert apps == [{"id": jid, "name": "StreamWordCount", "status": "RUNNING", "start-time": apps[0]["start-time"],
                     "end-time": -1, "duration": apps[0]["duration"], "jobs": {"RUNNING": 1}}]
    app = java.ok(f"/applications/{jid}")
    assert app["status"] == "RUNNING" and [j["jid"] for j in app["jobs"]] == [jid]
    assert set(app["jobs"][0]) == JOB_DETAILS_KEYS and app["timestamps"]["RUNNING"] > 0
    assert java.ok(f"/applications/{jid}/exceptions") == {"exceptionHistory": {"entries": []}}
    java.err("GET", f"/v1/applications/{'0' * 32}", 404)
    assert java.ok("/config")["features"]["web-cancel"] is True

    # Savepoint: 202 {"request-id"}, polled to its location; a stop without a directory: Flink's 400.
    tid = "0123456789abcdef0123456789abcdef"
    trig = java.ok(f"/jobs/{jid}/savepoints", "POST", {"target-directory": str(sp), "cancel-job": False,
                                                      "formatType": "CANONICAL", "triggerId": tid}, 202)
    assert trig == {"request-id": tid}
    # Polled without ok()'s v1-vs-bare shape check: the savepoint may complete between its two calls.
    wait_for(lambda: java.call("GET", f"/v1/jobs/{jid}/savepoints/{tid}").json()["status"]["id"] == "COMPLETED", 30,
             "the savepoint")
    done = java.ok(f"/jobs/{jid}/savepoints/{tid}")
    assert done["operation"]["location"].startswith(f"file:{sp}/savepoint-{jid[:6]}-"), done
    assert (Path(done["operation"]["location"].removeprefix("file:")) / "_metadata").is_file()
    assert java.err("POST", f"/v1/jobs/{jid}/savepoints", 400, {"cancel-job": False}) == [
        "Config key [execution.checkpointing.savepoint-dir] is not set. Property [target-directory] must be provided."]
    stop = java.err("POST", f"/v1/jobs/{jid}/stop", 400, {"targetDirectory": None, "drain": False,
                                                          "formatType": "CANONICAL", "triggerId": None})
    assert stop == ["Config key [execution.checkpointing.savepoint-dir] is not set. Property [targetDirectory] "
                    "must be provided."]
    cp = java.ok(f"/jobs/{jid}/checkpoints", "POST", {"checkpointType": "FULL"}, 202)
    # This job does not checkpoint: the trigger is taken, its poll fails visibly (test_checkpoint_*: one that does).
    assert "Checkpointing is not enabled" in java.err("GET", f"/v1/jobs/{jid}/checkpoints/{cp['request-id']}", 400)[0]
    assert java.ok(f"/jobs/{jid}/status") == {"status": "RUNNING"}  # a refused stop leaves the job running
    java.err("GET", f"/v1/jobs/{jid}/savepoints/{'f' * 32}", 404)
    java.err("POST", f"/v1/jobs/{jid}/savepoints", 400, {"triggerId": "not-hex"})
    java.err("POST", f"/v1/jobs/{jid}/stop", 400, {"drain": "sometimes"})
    java.err("GET", f"/v1/jobs/{jid}/checkpoints", 404)

    # Errors: Flink's shape and status codes, unversioned and under /v1.
    for prefix in ("", "/v1"):
        assert "Not found" in java.err("GET", f"{prefix}/no/such/path", 404)[0]
        java.err("DELETE", f"{prefix}/jobs/overview", 405)
        java.err("GET", f"{prefix}/jobs/{'0' * 32}", 404)
        java.err("PATCH", f"{prefix}/jobs/{jid}?mode=bogus", 400)
        assert "has been removed" in java.err("PATCH", f"{prefix}/jobs/{jid}?mode=stop", 400)[0]
        java.err("GET", f"{prefix}/jobs/{jid}/vertices/nope", 404)
        java.err("GET", f"{prefix}/jobs/{jid}/status", 401, auth=False)
    # The Java client's job submission: a multipart JobGraph upload, refused naming what runs here.
    multipart = httpx.Request("POST", cluster.rest + "/v1/jobs", headers=cluster.auth,
                              files={"file_0": ("job.bin", b"\xac\xed\x00\x05", "application/octet-stream")},
                              data={"request": json.dumps({"jobGraphFileName": "job.bin", "jobJarFileNames": []})})
    with httpx.Client(timeout=10) as c:
        r = c.send(multipart)
    assert r.status_code == 400 and "miniflink run -py" in r.json()["errors"][0], r.text

    # The dashboard's Cancel (GET yarn-cancel): refused through the RM's proxy (a viewer's GET there) and
    # from a browser's cross-site request; a same-origin browser request cancels.
    jid2 = start_wordcount(cluster, nc2)
    java.err("GET", f"/v1/jobs/{jid2}/yarn-cancel", 403, headers={"X-Forwarded-Prefix": "/proxy/app_1"})
    cookie = {"Cookie": f"flink.auth={session_cookie(cluster_secret.read_file(cluster.secret_file))}"}
    java.err("GET", f"/jobs/{jid2}/yarn-cancel", 403, auth=False, headers={**cookie, "Sec-Fetch-Site": "same-site"})
    java.err("GET", f"/jobs/{jid2}/yarn-cancel", 403, auth=False, headers=cookie)
    assert java.ok(f"/jobs/{jid2}/status") == {"status": "RUNNING"}
    r = java.call("GET", f"/jobs/{jid2}/yarn-cancel", auth=False, headers={**cookie, "Sec-Fetch-Site": "same-origin"})
    assert r.status_code == 202 and r.json() == {}, r.text

    # `flink cancel`: PATCH /v1/jobs/<jid>?mode=cancel with a `{}` body, then CANCELED for real.
    assert java.ok(f"/jobs/{jid}?mode=cancel", "PATCH", {}, 202) == {}
    for j in (jid, jid2):
        cluster.wait_state(j, ("CANCELED",), timeout=30)
        result = java.ok(f"/jobs/{j}/execution-result")
        assert result["status"] == {"id": "COMPLETED"}
        assert result["job-execution-result"]["application-status"] == "CANCELED"
    assert java.ok("/overview")["jobs-cancelled"] == 2
