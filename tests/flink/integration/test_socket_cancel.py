"""The seed's scenario: socket word count at p=2, output in the TaskManager's stdout, cancel from the CLI."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator

import pytest

from tests.flink.conftest import ROOT, FlinkCluster, wait_for

pytestmark = pytest.mark.integration


class LineServer:
    """Stands in for `nc -lk 7777`: accepts the source's connection and sends what the test types."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.conn: socket.socket | None = None
        self.accepted = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        self.conn, _ = self.server.accept()
        self.accepted.set()

    def type(self, line: str) -> None:
        assert self.conn is not None
        self.conn.sendall((line + "\n").encode())

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.server.close()


@pytest.fixture
def nc() -> Iterator[LineServer]:
    server = LineServer()
    yield server
    server.close()


def test_socket_wordcount_stdout_and_cancel(flink: Callable[..., FlinkCluster], nc: LineServer) -> None:
    cluster = flink(tms=1, slots=2)
    res = cluster.miniflink("run", "-m", cluster.rest.removeprefix("http://"), "-p", "2", "-d", "-py",
                            str(ROOT / "examples/wordcount.py"), "--hostname", "127.0.0.1", "--port", str(nc.port))
    assert res.returncode == 0, res.stderr
    job_id = res.stdout.split("JobID ")[1].split()[0]
    assert len(job_id) == 32
    assert nc.accepted.wait(30), "the socket source never connected"
    cluster.wait_state(job_id, ("RUNNING",))
    for line in ("hello world", "hello java", "hello flink"):
        nc.type(line)

    def stdout_has_hello3() -> bool:
        return any("(hello,3)" in cluster.text(f"/taskmanagers/{tm['id']}/stdout")
                   for tm in cluster.get("/taskmanagers")["taskmanagers"])

    wait_for(stdout_has_hello3, 30, "(hello,3) in a TaskManager's stdout")
    tms = cluster.get("/taskmanagers")["taskmanagers"]
    out = "".join(cluster.text(f"/taskmanagers/{tm['id']}/stdout") for tm in tms)
    hello = next(ln for ln in out.splitlines() if "(hello,3)" in ln)
    assert hello in ("1> (hello,3)", "2> (hello,3)")
    listed = cluster.miniflink("list", "-m", cluster.rest)
    assert job_id in listed.stdout and "(RUNNING)" in listed.stdout

    res = cluster.miniflink("cancel", "-m", cluster.rest, job_id)
    assert res.returncode == 0, res.stderr
    assert f"Cancelled job {job_id}." in res.stdout
    job = cluster.get(f"/jobs/{job_id}")
    assert job["state"] == "CANCELED"
    # Downstream subtasks whose input was cancelled first are CANCELED too, not FAILED (as in Flink).
    assert {v["name"]: v["status"] for v in job["vertices"]} == {v["name"]: "CANCELED" for v in job["vertices"]}
    overview = cluster.get("/overview")
    assert overview["jobs-cancelled"] == 1
    wait_for(lambda: cluster.get("/overview")["slots-available"] == 2, 10, "slots released")
