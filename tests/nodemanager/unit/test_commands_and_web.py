"""Command parsing and the NM web routes, without Redis or a socket."""

from __future__ import annotations

import doctest
import json
import os
from pathlib import Path
from typing import Any, cast

from miniyarn.config import YarnConfiguration
from miniyarn.protocol import StartContainer, StopContainer
from miniyarn.records import Resource
from nodemanager.commands import parse_command
from nodemanager.container import NMContainer, NMContainerState
from nodemanager.container_manager import ContainerManager
from nodemanager.context import NMContext
from nodemanager.executor import create_executor
from nodemanager.launch import ContainerPaths
from nodemanager.logs.files import list_logs, open_log, read_log, valid_name
from nodemanager.web import NodeWebApp

CID = "container_1700000000000_0001_01_000002"
APP = "application_1700000000000_0001"


def test_parse_commands() -> None:
    stop = parse_command(b'{"type": "stop_container", "container_id": "c", "exit_status": -105}')
    assert isinstance(stop, StopContainer) and stop.exit_status == -105
    start = parse_command(json.dumps({
        "type": "start_container", "user": "u",
        "container": {"id": CID, "node_id": "h:1", "node_http_address": "h:1", "resource": {"memory": 1, "vCores": 1}},
        "launch_context": {"commands": {"command": "echo hi"}}}))
    assert isinstance(start, StartContainer) and start.launch_context.commands == ["echo hi"]
    assert parse_command(b"not json") is None
    assert parse_command(b'{"type": "reboot"}') is None


def test_log_file_names_cannot_escape(tmp_path: Path) -> None:
    (tmp_path / "stdout").write_bytes(b"0123456789")
    assert read_log(tmp_path, "stdout", -4) == b"6789"
    assert read_log(tmp_path, "stdout", 2, 5) == b"234"
    assert not valid_name("../x") and not valid_name("a/b") and not valid_name("..")
    assert read_log(tmp_path, "../stdout") is None and read_log(tmp_path, "missing") is None


def web(tmp_path: Path) -> tuple[NodeWebApp, ContainerManager]:
    ctx = NMContext(host="h", port=1, capability=Resource(memory=4096, vcores=4), local_dirs=[tmp_path / "local"],
                    log_dirs=[tmp_path / "logs"], redis_url="redis://x", conf=YarnConfiguration(load_files=False))
    manager = ContainerManager(ctx, cast(Any, None), create_executor("process"), on_complete=lambda: None)
    paths = ContainerPaths.of(ctx.local_dirs, ctx.log_dirs, "alice", APP, CID)
    paths.log_dir.mkdir(parents=True)
    (paths.log_dir / "stdout").write_text("out\n")
    manager.containers[CID] = NMContainer(id=CID, app_id=APP, user="alice", resource=Resource(memory=512, vcores=1),
                                          paths=paths, state=NMContainerState.RUNNING)
    return NodeWebApp(ctx, manager, lambda: 5, lambda _cid: 3 << 20), manager


def test_rest_shapes(tmp_path: Path) -> None:
    app, _ = web(tmp_path)
    info = json.loads(app.handle("/ws/v1/node/info").body)["nodeInfo"]
    assert info["id"] == "h:1" and info["totalPmemAllocatedContainersMB"] == 512
    assert info["totalVCoresAllocatedContainers"] == 1 and info["lastNodeUpdateTime"] == 5
    containers = json.loads(app.handle("/ws/v1/node/containers").body)["containers"]["container"]
    assert containers[0]["id"] == CID and containers[0]["state"] == "RUNNING"
    assert containers[0]["containerLogsLink"] == f"http://h:1/node/containerlogs/{CID}/alice"
    assert containers[0]["containerLogFiles"] == ["stdout"] and containers[0]["physicalMemoryUsedMB"] == 3
    one = app.handle(f"/ws/v1/node/containers/{CID}")
    assert json.loads(one.body)["container"]["totalMemoryNeededMB"] == 512
    apps = json.loads(app.handle("/ws/v1/node/apps").body)["apps"]["app"]
    assert apps == [{"id": APP, "state": "RUNNING", "user": "alice", "containerids": [CID]}]


def test_logs_and_errors(tmp_path: Path) -> None:
    app, _ = web(tmp_path)
    r = app.handle(f"/node/containerlogs/{CID}/alice/stdout")
    assert (r.status, r.content_type, r.body) == (200, "text/plain; charset=utf-8", b"out\n")
    assert app.handle(f"/ws/v1/node/containerlogs/{CID}/stdout?start=-2").body == b"t\n"
    bad = app.handle("/ws/v1/node/containers/not-a-container")
    assert bad.status == 400 and json.loads(bad.body)["RemoteException"]["exception"] == "BadRequestException"
    missing = app.handle(f"/ws/v1/node/containerlogs/{CID}/nope")
    assert missing.status == 404 and "RemoteException" in json.loads(missing.body)
    assert app.handle("/ws/v1/node/nothing").status == 404
    assert app.handle("/health").status == 200


def test_doctests_of_logs_and_executor_base() -> None:
    from nodemanager import web as web_module
    from nodemanager import web_access
    from nodemanager.executor import base
    from nodemanager.logs import files

    for module in (files, base, web_module, web_access):
        assert doctest.testmod(module).failed == 0


def test_links_fifos_and_hard_links_in_a_log_dir_are_not_logs(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("root:hash\n")
    d = tmp_path / "logs" / APP / CID
    d.mkdir(parents=True)
    (d / "stdout").write_text("out\n")
    (d / "x").symlink_to(secret)
    (d / "dir").symlink_to(tmp_path)
    os.link(secret, d / "hard")
    os.mkfifo(d / "fifo")
    roots = [tmp_path / "logs"]
    assert [f.name for f in list_logs(d, roots)] == ["stdout"]
    for name in ("x", "dir", "hard", "fifo"):
        assert read_log(d, name, roots=roots) is None
    linked = tmp_path / "logs" / APP / "container_1700000000000_0001_01_000009"
    linked.symlink_to(tmp_path)
    assert list_logs(linked, roots) == [] and read_log(linked, "secret", roots=roots) is None


def test_pages_escape_what_containers_and_commands_chose(tmp_path: Path) -> None:
    app, manager = web(tmp_path)
    evil = CID + "<script>alert(1)</script>"
    paths = ContainerPaths.of([tmp_path / "local"], [tmp_path / "logs"], "<b>u</b>", APP, evil)
    manager.containers[evil] = NMContainer(id=evil, app_id=APP, user="<b>u</b>", resource=Resource(memory=1, vcores=1),
                                           paths=paths)
    (manager.containers[CID].paths.log_dir / "<img src=x>").write_text("x")
    overview = app.handle("/node").body.decode()
    assert "<script>" not in overview and "<b>u" not in overview and "&lt;script&gt;" in overview
    listing = app.handle(f"/node/containerlogs/{CID}/alice").body.decode()
    assert "<img" not in listing and "&lt;img src=x&gt;" in listing


def test_other_methods_are_405_and_ranges_are_capped(tmp_path: Path) -> None:
    app, manager = web(tmp_path)
    for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
        r = app.handle("/ws/v1/node/info", method)
        assert r.status == 405 and r.headers["Allow"] == "GET, HEAD"
        assert json.loads(r.body)["RemoteException"]["exception"] == "WebApplicationException"
    assert app.handle("/ws/v1/node/info", "HEAD").status == 200
    log_dir = manager.containers[CID].paths.log_dir
    (log_dir / "big").write_bytes(b"a" * 100 + b"z" * 100)
    piece = open_log(log_dir, "big", [tmp_path / "logs"], cap=50)
    assert piece is not None and piece.capped and piece.note() == b"Showing 50 bytes of 200 total.\n"
    assert piece.read() == b"z" * 50
    assert app.handle(f"/ws/v1/node/containerlogs/{CID}/big?start=-3&end=-1").body == b"zz"
    assert app.handle(f"/ws/v1/node/containerlogs/{CID}/big?start=999999999999999999999").body == b""
    assert app.handle(f"/ws/v1/node/containerlogs/{CID}/big?size=-2").body == b"zz"  # YARN REST's size
    assert app.handle(f"/ws/v1/node/containerlogs/{CID}/big?size=2").body == b"aa"


def test_a_rebound_dns_name_is_refused(tmp_path: Path) -> None:
    app, _ = web(tmp_path)
    for host in ("h:1", "127.0.0.1:1", "localhost", "[::1]:1", "10.0.0.7"):
        assert app.handle("/ws/v1/node/info", headers={"host": host}).status == 200, host
    for host in ("evil.example:1", "[::1", "evil.example"):
        r = app.handle("/ws/v1/node/info", headers={"host": host})
        assert r.status == 400 and "Invalid Host header" in json.loads(r.body)["RemoteException"]["message"]
    assert app.handle("/health", headers={"host": "evil.example"}).status == 200
