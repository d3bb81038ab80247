"""`--check` of the RM and the NM (miniyarn/healthcheck.py): a real HTTP server on loopback answering /health,
the NM's address file, and the property the healthchecks need: `python -m resourcemanager --check --port P`
answers without importing the daemon's dependencies (pydantic, httpx), the CPU a Docker healthcheck costs."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from miniyarn.healthcheck import NM_ADDRESS_FILE, nm_address, probe, quick_nm_check, quick_rm_check
from miniyarn.sockets import free_port


class Health(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/health" else 404)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Health)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    Health.status = 200


def port_of(srv: ThreadingHTTPServer) -> int:
    return int(srv.server_address[1])


def test_probe_is_200_only(server: ThreadingHTTPServer) -> None:
    assert probe(f"127.0.0.1:{port_of(server)}") == 0
    Health.status = 503
    assert probe(f"127.0.0.1:{port_of(server)}") == 1
    assert probe(f"127.0.0.1:{free_port()}") == 1  # nothing listens
    assert probe("no-port") == 1


def test_rm_check_from_arguments(server: ThreadingHTTPServer) -> None:
    port = str(port_of(server))
    assert quick_rm_check(["--check", "--port", port]) == 0
    assert quick_rm_check(["--check", "--host", "0.0.0.0", "--port", port, "-D", "a=b"]) == 0
    assert quick_rm_check(["--check", "--port", str(free_port())]) == 1
    assert quick_rm_check(["--check", "-D", "yarn.resourcemanager.webapp.address=0.0.0.0:1"]) is None


def test_nm_check_by_port_or_address_file(server: ThreadingHTTPServer, tmp_path: Path) -> None:
    port = port_of(server)
    assert quick_nm_check(["--check", "--port", str(port), "--bind-host", "0.0.0.0"]) == 0
    local = tmp_path / "local"
    local.mkdir()
    # --port 0: the NM wrote its address in its first local dir; none written yet is unhealthy.
    assert quick_nm_check(["--check", "--local-dirs", f"{local},{tmp_path}/other"]) == 1
    (local / NM_ADDRESS_FILE).write_text(f"127.0.0.1:{port}\n")
    assert nm_address(0, f"{local}") == f"127.0.0.1:{port}"
    assert quick_nm_check(["--check", "--local-dirs", f"{local},{tmp_path}/other"]) == 0
    assert quick_nm_check(["--check"]) is None  # the dirs from yarn-site.xml: the CLI's job
    assert quick_nm_check(["--check", "--port", "x"]) is None  # the CLI says what is wrong


@pytest.mark.parametrize("daemon", ["resourcemanager", "nodemanager"])
def test_check_runs_without_the_daemons_imports(server: ThreadingHTTPServer, daemon: str) -> None:
    port = str(port_of(server))
    r = subprocess.run([sys.executable, "-X", "importtime", "-m", daemon, "--check", "--port", port],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr[-2000:]
    imported = {line.split("|")[-1].strip() for line in r.stderr.splitlines() if line.startswith("import time:")}
    assert "http.client" in imported
    assert not imported & {"pydantic", "httpx", "redis", f"{daemon}.cli"}, sorted(imported)
    Health.status = 503
    assert subprocess.run([sys.executable, "-m", daemon, "--check", "--port", port], timeout=30).returncode == 1
