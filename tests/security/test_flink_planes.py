"""Issue 9, attacks 3, 4 (the JobManager's side) and 5, performed against real JobManagers, TaskManagers and
task processes, standalone and on YARN: a stranger pickling at every Flink port, forging REST requests
without the cluster secret, a cross-site `text/plain` submit, 100,000 nested `[`, and where sockets listen.
Each attack must fail with a logged refusal while the running job keeps counting exactly."""

from __future__ import annotations

import json
import os
import pickle
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from flink_on_yarn.runtime.network import RecordWriter
from flink_on_yarn.security import handshake
from tests.flink.conftest import ROOT, FlinkCluster, wait_for
from tests.flink.conftest import flink as flink_fixture  # noqa: F401 -- registered here under this name
from tests.flink.integration.test_socket_cancel import LineServer
from tests.flink_yarn.conftest import SMALL, FlinkOnYarn, final_counts
from tests.flink_yarn.conftest import flink_yarn as flink_yarn_fixture  # noqa: F401 -- registered here under this name
from tests.integration.conftest import wait_for as wait_until

pytestmark = pytest.mark.integration

WORDCOUNT = str(ROOT / "examples/wordcount.py")
BEFORE = ["hello world", "hello flink"]
AFTER = ["hello again", "world again"]
EXPECTED = {"hello": 3, "world": 2, "flink": 1, "again": 2}


class Marker:
    """What the stranger pickles: unpickling it creates the file (as a 123-byte exploit would run code)."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (self.path, "w"))


def rpc_frame(payload: bytes) -> bytes:
    """The JobManager's old RPC framing: a length, then a pickle it used to load."""
    return struct.pack("!I", len(payload)) + payload


def data_frame(payload: bytes) -> bytes:
    """A data-plane DATA frame (length, kind 1), the pickled batch an input gate used to load."""
    return struct.pack("!IB", len(payload), 1) + payload


def stranger(port: int, payload: bytes, host: str = "127.0.0.1") -> tuple[bytes, bool]:
    """Connects, reads the greeting, sends `payload` and reads until the peer closes: (everything the peer
    said, whether it closed within the handshake timeout and a margin)."""
    got = b""
    with socket.create_connection((host, port), timeout=5) as s:
        while len(got) < handshake.CHALLENGE_SIZE:
            chunk = s.recv(handshake.CHALLENGE_SIZE - len(got))
            if not chunk:
                return got, True
            got += chunk
        try:
            s.sendall(payload)
        except OSError:
            pass  # the peer may already have hung up
        deadline = time.monotonic() + handshake.TIMEOUT_S + 3
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return got, True
            if not chunk:
                return got, True
            got += chunk
    return got, False


def listening(proc: psutil.Process) -> list[tuple[str, int]]:
    return [(c.laddr.ip, c.laddr.port) for c in proc.net_connections(kind="tcp") if c.status == psutil.CONN_LISTEN]


def task_sockets(tm: psutil.Process) -> list[Any]:
    """Every TCP socket of a TaskManager's task processes (its children): data connections, gates."""
    return [c for child in tm.children(recursive=True) for c in child.net_connections(kind="tcp")]


GATE = """
import json, os, sys
from flink_on_yarn.runtime.network import InputGate
gate = InputGate("127.0.0.1", 1, os.environ["SECRET"].encode())
print(gate.port, flush=True)
print(json.dumps([b for batch in gate.batches() for b in batch]), flush=True)
"""


def assert_pickle_refused(port: int, frame: bytes, marker: Path) -> None:
    said, closed = stranger(port, frame)
    # The challenge, and not one byte more: the stranger's frame was never taken for a message.
    assert said.startswith(handshake.MAGIC) and len(said) == handshake.CHALLENGE_SIZE, said
    assert closed, f"port {port} kept a stranger's connection open"
    time.sleep(0.2)
    assert not marker.exists(), f"port {port} unpickled the stranger's frame"


# --- standalone ------------------------------------------------------------------------------------------

@pytest.fixture
def nc() -> Iterator[LineServer]:
    server = LineServer()
    yield server
    server.close()


@pytest.fixture
def standalone(request: pytest.FixtureRequest) -> Callable[..., FlinkCluster]:
    """tests.flink's `flink` factory: a JobManager and TaskManagers as processes, sharing a secret file."""
    return request.getfixturevalue("flink_fixture")  # type: ignore[no-any-return]


@pytest.fixture
def on_yarn(request: pytest.FixtureRequest) -> FlinkOnYarn:
    """tests.flink_yarn's `flink_yarn`: a real RM and two NMs, and `miniflink` aimed at them."""
    return request.getfixturevalue("flink_yarn_fixture")  # type: ignore[no-any-return]


@pytest.fixture
def running(standalone: Callable[..., FlinkCluster], nc: LineServer) -> tuple[FlinkCluster, str]:
    """A socket word count at p=2 on one TaskManager, RUNNING, with BEFORE counted."""
    cluster = standalone(tms=1, slots=2)
    res = cluster.miniflink("run", "-m", cluster.rest, "-p", "2", "-d", "-py", WORDCOUNT, "--hostname",
                            "127.0.0.1", "--port", str(nc.port))
    assert res.returncode == 0, res.stderr
    job_id = res.stdout.split("JobID ")[1].split()[0]
    assert nc.accepted.wait(30), "the socket source never connected"
    cluster.wait_state(job_id, ("RUNNING",))
    for line in BEFORE:
        nc.type(line)
    wait_for(lambda: counts(cluster).get("hello") == 2, 30, "the first counts")
    return cluster, job_id


def counts(cluster: FlinkCluster) -> dict[str, int]:
    return dict(final_counts([cluster.text(f"/taskmanagers/{t['id']}/stdout")
                              for t in cluster.get("/taskmanagers")["taskmanagers"]]))


def pid_of(cluster: FlinkCluster, name: str) -> int:
    return next(p.pid for n, p in cluster.processes.procs if n == name)


def test_stranger_pickles_at_the_jobmanager_rpc_port(running: tuple[FlinkCluster, str], nc: LineServer,
                                                     tmp_path: Path) -> None:
    cluster, job_id = running
    marker = tmp_path / "pwned"
    assert_pickle_refused(cluster.rpc_port, rpc_frame(pickle.dumps(Marker(marker))), marker)
    assert "WARNING flink_on_yarn.jobmanager - Refused a connection to the JobManager's RPC port from 127.0.0.1:" \
        in cluster.processes.log("jobmanager")
    # A stranger that only listens is cut off when the handshake times out.
    said, closed = stranger(cluster.rpc_port, b"")
    assert closed and len(said) == handshake.CHALLENGE_SIZE
    # Nor can a stranger pose as a TaskManager: a TaskManager with the wrong secret is refused and says so.
    impostor = cluster.add_taskmanager("impostor", 2, **{"security.cluster.secret.file": str(tmp_path / "other")})
    wait_for(lambda: "refused this TaskManager" in cluster.processes.log("impostor"), 20, "the impostor refused")
    impostor.kill()

    for line in AFTER:
        nc.type(line)
    wait_for(lambda: counts(cluster) == EXPECTED, 30, f"exact counts {EXPECTED}")
    assert cluster.get(f"/jobs/{job_id}")["state"] == "RUNNING"
    assert [t["id"] for t in cluster.get("/taskmanagers")["taskmanagers"]] == ["tm-0"]
    assert not marker.exists()


def test_an_input_gate_refuses_the_stranger_who_connects_first(tmp_path: Path) -> None:
    """A task's gate listens from its deployment until its producers connect: a stranger there first sends a
    pickled DATA frame. The gate (a real process) refuses it, logs it, and takes its real producer's records."""
    secret = os.urandom(32).hex()
    gate = subprocess.Popen([sys.executable, "-c", GATE], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, SECRET=secret), cwd=ROOT)
    try:
        assert gate.stdout is not None and gate.stderr is not None
        port = int(gate.stdout.readline())
        marker = tmp_path / "pwned"
        assert_pickle_refused(port, data_frame(pickle.dumps(Marker(marker))), marker)
        assert_pickle_refused(port, data_frame(pickle.dumps([Marker(marker)]) * 8), marker)
        writer = RecordWriter("FORWARD", [("127.0.0.1", port)], None, "the real producer", secret.encode())
        writer.emit([["hello", 1], ["world", 2]])
        writer.close()
        assert json.loads(gate.stdout.readline()) == [["hello", 1], ["world", 2]]
        assert gate.wait(10) == 0
        refusals = [ln for ln in gate.stderr.read().splitlines() if "Refused a connection to the input gate" in ln]
        assert len(refusals) == 2 and all(f"on port {port} from 127.0.0.1:" in ln for ln in refusals), refusals
        assert not marker.exists()
        with pytest.raises(OSError):  # all its producers are in: the gate no longer listens
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
    finally:
        gate.kill()
        gate.wait()


def test_rest_without_the_secret_is_refused_and_the_job_is_unaffected(running: tuple[FlinkCluster, str]) -> None:
    cluster, job_id = running
    graph = b'{"jobId": "' + b"a" * 32 + b'", "jobName": "x", "vertices": []}'
    json_type = {"content-type": "application/json"}
    for headers, status in (({}, 401), ({"authorization": "Bearer not-the-secret"}, 403)):
        r = httpx.post(cluster.rest + "/jobs", content=graph, headers={**json_type, **headers})
        assert r.status_code == status and r.json()["errors"], r.text
        r = httpx.patch(f"{cluster.rest}/jobs/{job_id}", params={"mode": "cancel"}, headers=headers)
        assert r.status_code == status and r.json()["errors"], r.text
        r = httpx.get(f"{cluster.rest}/jobmanager/config", headers=headers)
        assert r.status_code == status and r.json()["errors"], r.text
        r = httpx.delete(f"{cluster.rest}/cluster", headers=headers)
        assert r.status_code == status, r.text
    assert "WARNING flink_on_yarn.rest - Refused PATCH /jobs/" in cluster.processes.log("jobmanager")
    assert cluster.get(f"/jobs/{job_id}")["state"] == "RUNNING"
    assert [j["id"] for j in cluster.get("/jobs")["jobs"]] == [job_id]
    assert httpx.get(cluster.rest + "/health").status_code == 200  # liveness stays open


def test_cross_site_and_malformed_requests_get_flink_errors(running: tuple[FlinkCluster, str]) -> None:
    cluster, job_id = running
    auth = cluster.auth  # what the RM's proxy adds to a browser's request: the cross-site checks must hold anyway
    simple = httpx.post(cluster.rest + "/jobs", content=b'{"jobId": "x"}',
                        headers={**auth, "content-type": "text/plain", "origin": "http://evil.example"})
    assert simple.status_code == 403 and simple.json()["errors"], simple.text
    no_type = httpx.post(cluster.rest + "/jobs", content=b"{}", headers={**auth, "content-type": ""})
    assert no_type.status_code == 403
    foreign = httpx.patch(f"{cluster.rest}/jobs/{job_id}", params={"mode": "cancel"},
                          headers={**auth, "origin": "http://evil.example"})
    assert foreign.status_code == 403 and "Cross-origin" in foreign.json()["errors"][0]
    assert "Refused POST /jobs from 127.0.0.1:" in cluster.processes.log("jobmanager")

    nested = httpx.post(cluster.rest + "/jobs", content=b"[" * 100_000,
                        headers={**auth, "content-type": "application/json"})
    assert nested.status_code == 400 and nested.json()["errors"], nested.text
    assert "Recursion" not in nested.text and "Traceback" not in nested.text
    unknown = httpx.get(cluster.rest + "/no/such/thing", headers=auth)
    assert unknown.status_code == 404 and unknown.json() == {"errors": ["Not found: /no/such/thing"]}
    wrong = httpx.put(cluster.rest + "/overview", headers={**auth, "content-type": "application/json"})
    assert wrong.status_code == 405 and wrong.json()["errors"]
    bad_mode = httpx.patch(f"{cluster.rest}/jobs/{job_id}", params={"mode": "explode"}, headers=auth)
    assert bad_mode.status_code == 400 and bad_mode.json()["errors"]
    assert cluster.get(f"/jobs/{job_id}")["state"] == "RUNNING"


def test_a_browser_logs_in_once_with_the_secret(standalone: Callable[..., FlinkCluster]) -> None:
    cluster = standalone(tms=0)
    secret = cluster.auth["authorization"].removeprefix("Bearer ")
    with httpx.Client(base_url=cluster.rest) as browser:
        assert browser.get("/jobs").status_code == 401
        form = {"content-type": "application/x-www-form-urlencoded"}
        assert browser.post("/login", content="secret=guess", headers=form).status_code == 403
        r = browser.post("/login", content=f"secret={secret}", headers=form)
        assert r.status_code == 303 and secret not in r.headers["set-cookie"]
        assert "HttpOnly" in r.headers["set-cookie"] and "SameSite=strict" in r.headers["set-cookie"]
        assert browser.get("/jobs").json() == {"jobs": []}
        # The cookie is no pass for another site's page: its writes are still cross-origin.
        r = browser.delete("/cluster", headers={"origin": "http://evil.example"})
        assert r.status_code == 403
    assert httpx.get(cluster.rest + "/jobs", cookies={"flink.auth": "0" * 64}).status_code == 403


def test_a_body_over_the_cap_is_413(standalone: Callable[..., FlinkCluster]) -> None:
    cluster = standalone(tms=0, **{"rest.server.max-content-length": "4096"})
    headers = {**cluster.auth, "content-type": "application/json"}
    declared = httpx.post(cluster.rest + "/jobs", content=b" " * 5000, headers=headers)
    assert declared.status_code == 413 and declared.json()["errors"], declared.text

    def chunks() -> Iterator[bytes]:  # no Content-Length: the cap holds while reading
        for _ in range(5):
            yield b" " * 1000

    streamed = httpx.post(cluster.rest + "/jobs", content=chunks(), headers=headers)
    assert streamed.status_code == 413, streamed.text


def test_sockets_listen_on_loopback_only(running: tuple[FlinkCluster, str]) -> None:
    cluster, _ = running
    jm = listening(psutil.Process(pid_of(cluster, "jobmanager")))
    data = task_sockets(psutil.Process(pid_of(cluster, "tm-0")))
    assert len(jm) == 2 and data
    assert {ip for ip, _ in jm} | {c.laddr.ip for c in data} == {"127.0.0.1"}, (jm, data)
    assert listening(psutil.Process(pid_of(cluster, "tm-0"))) == []
    # Gates close once their producers are connected: a running job listens nowhere but the JobManager.
    assert [c for c in data if c.status == psutil.CONN_LISTEN] == []


# --- on YARN ---------------------------------------------------------------------------------------------

def processes_of(app_id: str, module: str) -> list[psutil.Process]:
    return [p for p in psutil.process_iter(["cmdline", "cwd"])
            if module in (p.info["cmdline"] or []) and app_id in (p.info["cwd"] or "")]


def test_on_yarn_strangers_are_refused_and_the_proxy_still_works(on_yarn: FlinkOnYarn, nc: LineServer,
                                                                tmp_path: Path) -> None:
    flink_yarn = on_yarn
    res = flink_yarn.miniflink("run", "-t", "yarn-per-job", "-d", "-p", "2", *SMALL, "-py", WORDCOUNT,
                               "--hostname", "127.0.0.1", "--port", str(nc.port))
    assert res.returncode == 0, res.stdout + res.stderr
    job_id = res.stdout.split("JobID ")[1].split()[0]
    [app] = flink_yarn.flink_apps()
    app_id = app["id"]
    proxy = f"{flink_yarn.yarn.rm_url}/proxy/{app_id}"
    assert nc.accepted.wait(30), "the socket source never connected"

    def tm_counts() -> dict[str, int]:
        tms = httpx.get(proxy + "/taskmanagers", timeout=5).json()["taskmanagers"]
        return dict(final_counts([httpx.get(f"{proxy}/taskmanagers/{t['id']}/stdout", timeout=5).text
                                  for t in tms]))

    wait_until("the job RUNNING", lambda: httpx.get(f"{proxy}/jobs/{job_id}", timeout=5).json()["state"]
               == "RUNNING", timeout=30)
    for line in BEFORE:
        nc.type(line)
    wait_until("the first counts", lambda: tm_counts().get("hello") == 2, timeout=30)

    [am] = processes_of(app_id, "flink_on_yarn.yarn.appmaster")
    tms = processes_of(app_id, "flink_on_yarn.runtime.taskmanager")
    assert tms
    am_ports = listening(am)
    data = [c for tm in tms for c in task_sockets(tm)]
    assert data and [c for c in data if c.status == psutil.CONN_LISTEN] == []
    assert {ip for ip, _ in am_ports} | {c.laddr.ip for c in data} == {"127.0.0.1"}, (am_ports, data)  # NM_HOST
    rest_port = int(app["amRPCAddress"].rsplit(":", 1)[1])
    [rpc_port] = [port for _, port in am_ports if port != rest_port]

    marker = tmp_path / "pwned"
    evil = pickle.dumps(Marker(marker))
    assert_pickle_refused(rpc_port, rpc_frame(evil), marker)

    direct = f"http://127.0.0.1:{rest_port}"
    r = httpx.post(direct + "/jobs", content=b"{}", headers={"content-type": "application/json"})
    assert r.status_code == 401 and r.json()["errors"]
    r = httpx.patch(f"{direct}/jobs/{job_id}", params={"mode": "cancel"})
    assert r.status_code == 401
    # Through the proxy the RM adds the app's secret: a browser's "simple" cross-site submit must still fail.
    r = httpx.post(proxy + "/jobs", content=b'{"jobId": "x"}', headers={"content-type": "text/plain",
                                                                         "origin": "http://evil.example"})
    # Refused at the RM's own CSRF check (YARN's RemoteException) or, past it, at the JobManager's (Flink's shape).
    assert r.status_code == 403 and ("errors" in r.json() or "RemoteException" in r.json()), r.text
    r = httpx.post(proxy + "/jobs", content=b"[" * 100_000, headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["errors"], r.text

    # The secret reached the TaskManagers by their environment, not their command line or the config.
    secret = am.environ()["MINIYARN_CLIENT_TO_AM_SECRET"]
    for tm in tms:
        assert tm.environ().get("MINIFLINK_CLUSTER_SECRET") == secret
        assert secret not in " ".join(tm.cmdline())
    assert secret not in httpx.get(proxy + "/jobmanager/config", timeout=5).text
    # The user's savepoint key stays in the AM: no TaskManager (user code's process) gets it.
    state_key = am.environ()["MINIYARN_USER_STATE_SECRET"]
    assert state_key and state_key != secret
    for tm in tms:
        assert "MINIYARN_USER_STATE_SECRET" not in tm.environ() and state_key not in " ".join(tm.cmdline())

    jm_log = Path(am.environ()["LOG_DIRS"].split(",")[0], "jobmanager.log").read_text()
    assert "Refused a connection to the JobManager's RPC port from 127.0.0.1:" in jm_log
    assert "Refused POST /jobs from 127.0.0.1:" in jm_log

    for line in AFTER:
        nc.type(line)
    wait_until("exact counts after the attacks", lambda: tm_counts() == EXPECTED, timeout=30)
    assert not marker.exists()
    res = flink_yarn.miniflink("cancel", "-yid", app_id, job_id)  # the user's own cancel, through the proxy
    assert res.returncode == 0, res.stdout + res.stderr
    assert flink_yarn.yarn.wait_app_state(app_id, "FINISHED", "FAILED", "KILLED")["finalStatus"] == "KILLED"
    assert not marker.exists()


BIG_PROGRAM = """
from flink_on_yarn.datastream import StreamExecutionEnvironment
BIG = "x" * 6_000_000  # shipped with the function that reads it: a job graph of several MB
env = StreamExecutionEnvironment.get_execution_environment()
env.from_collection([1, 2, 3]).map(lambda v: v + len(BIG)).print()
env.execute("big graph")
"""


def test_a_big_job_graph_goes_through_the_proxy_to_a_session(on_yarn: FlinkOnYarn, tmp_path: Path) -> None:
    res = on_yarn.miniflink("yarn-session", "-d", "-s", "1", *SMALL)
    assert res.returncode == 0, res.stdout + res.stderr
    [app] = on_yarn.flink_apps()
    program = tmp_path / "big.py"
    program.write_text(BIG_PROGRAM)
    res = on_yarn.miniflink("run", "-p", "1", "-py", str(program))  # attached: submit, then poll to the end
    assert res.returncode == 0, res.stdout + res.stderr
    job_id = res.stdout.split("JobID ")[1].split()[0]
    job = httpx.get(f"{on_yarn.yarn.rm_url}/proxy/{app['id']}/jobs/{job_id}", timeout=5).json()
    assert job["state"] == "FINISHED", job
    res = on_yarn.miniflink("yarn-session", "-id", app["id"], "stop")
    assert res.returncode == 0, res.stdout + res.stderr
