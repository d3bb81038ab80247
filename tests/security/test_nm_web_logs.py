"""Attacks on the NodeManager's web and logs, performed against real daemons: a container that links
its log dir to `/etc/shadow` (a file, a directory, a hard link, a sibling container dir), hostile names
on the NM's pages, a tail request on a 300 MB log, wrong methods, no token, and the VIEW_APP ACL, on
the NM's REST and pages, through the RM's `/node/` proxy, in `miniyarn logs` and in aggregation.

One application plays the container's part for the module (starting a cluster per test would cost
the two shared cores more than the tests themselves); the token and ACL tests start their own daemons.
"""

from __future__ import annotations

import html
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
import redis

from miniyarn import keys
from miniyarn.cli.main import main
from miniyarn.client.yarn_client import YarnClient
from miniyarn.distributedshell.client import submission
from miniyarn.protocol import StartContainer
from miniyarn.records import Container, ContainerLaunchContext, Resource
from miniyarn.redisconn import data, text
from miniyarn.security import tokens
from tests.conftest import Processes, RedisServer, admin_url, logs_aggregated
from tests.integration.conftest import start_rm as integration_start_rm

# Database 0 of the session's redis-server: the per-test `redis_url` fixture hands out 1..63, so this
# module-long cluster never has its db emptied under it.
MODULE_DB = 0
FAST = ["-D", "yarn.nm.liveness-monitor.expiry-interval-ms=3000",
        "-D", "yarn.scheduler.minimum-allocation-mb=128",
        "-D", "yarn.resourcemanager.nodemanagers.heartbeat-interval-ms=200"]
HOSTILE_FILE = "<img src=x onerror=alert(1)>"
BIG = 300 * 1024 * 1024
SHADOW = Path("/etc/shadow")


def wait_for(what: str, check: Callable[[], Any], timeout: float = 30.0, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (httpx.HTTPError, KeyError, ValueError, TypeError) as e:
            last = e
        if last and not isinstance(last, Exception):
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}; last seen: {last!r}")


def secret_line() -> bytes:
    """What must never come out: the first line of /etc/shadow (or of a stand-in if unreadable here)."""
    try:
        return SHADOW.read_bytes().splitlines()[0]
    except (OSError, IndexError):
        pytest.skip("/etc/shadow is not readable by the test user, so the NM could not leak it either")


def start_rm(processes: Processes, redis_url: str, extra: list[str] | None = None) -> str:
    return integration_start_rm(processes, redis_url, [*FAST, *(extra or [])])


def start_nm(processes: Processes, redis_url: str, name: str, extra: list[str] | None = None) -> tuple[str, int]:
    """(node id, pid) of a real NodeManager."""
    proc = processes.start(name, ["-m", "nodemanager", "--redis-url", redis_url, "--port", "0", "--bind-host",
                                  "127.0.0.1", "--memory-mb", "2048", "--vcores", "4", *FAST, *(extra or [])])
    line = wait_for("the NodeManager", lambda: re.search(r"NodeManager (\S+) started", processes.log(name)))
    return str(line.group(1)), proc.pid


# What the attacking container does with only its own environment, then waits for the test's go.
ATTACK = """
set -e
ln -s /etc/shadow "$LOG_DIRS/x"
ln -s /etc "$LOG_DIRS/etcdir"
ln /etc/shadow "$LOG_DIRS/hard" 2>/dev/null || true
mkfifo "$LOG_DIRS/fifo"
ln -s /etc "$(dirname "$LOG_DIRS")/${CONTAINER_ID%_*}_999999"
echo hostile > "$LOG_DIRS/<img src=x onerror=alert(1)>"
truncate -s 300M "$LOG_DIRS/big.log"
echo attack-in-place
for i in $(seq 1 1200); do [ -e GO_FILE ] && exit 0; sleep 0.1; done
"""


@dataclass
class Attack:
    rm_url: str
    redis_url: str
    node_id: str
    nm_pid: int
    app_id: str
    container_id: str
    go: Path
    processes: Processes

    @property
    def nm(self) -> str:
        return f"http://{self.node_id}"


@pytest.fixture(scope="module")
def attack(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Attack]:
    work = tmp_path_factory.mktemp("nm-web-logs")
    url = redis_server.url(MODULE_DB)
    redis.Redis.from_url(admin_url(url)).flushdb()
    processes = Processes(work)
    try:
        rm_url = start_rm(processes, url)
        node_id, pid = start_nm(processes, url, "nm")
        wait_for("the node to register", lambda: httpx.get(f"{rm_url}/ws/v1/cluster/nodes", timeout=5)
                 .json()["nodes"])
        go = work / "go"
        with YarnClient(rm_url) as yarn:
            script = yarn.stage_file(ATTACK.replace("GO_FILE", str(go)).encode())
            app_id = str(yarn.new_application()["application-id"])
        body = submission(app_id, script.resource, 1, name="attacker", container_memory=128)
        assert httpx.post(f"{rm_url}/ws/v1/cluster/apps", json=body, timeout=10).status_code == 202
        worker = f"container_{app_id.removeprefix('application_')}_01_000002"
        wait_for("the attack to be in place", lambda: b"attack-in-place" in httpx.get(
            f"http://{node_id}/ws/v1/node/containerlogs/{worker}/stdout", timeout=5).content, timeout=60)
        yield Attack(rm_url, url, node_id, pid, app_id, worker, go, processes)
    finally:
        processes.stop_all()
        redis.Redis.from_url(admin_url(url)).flushdb()


def test_nm_rest_and_pages_do_not_list_or_serve_links(attack: Attack) -> None:
    secret = secret_line()
    listing = httpx.get(f"{attack.nm}/ws/v1/node/containerlogs/{attack.container_id}", timeout=5).json()
    names = {f["fileName"] for f in listing[0]["containerLogInfo"]}
    assert {"stdout", "big.log", HOSTILE_FILE} <= names
    assert not names & {"x", "etcdir", "hard", "fifo"}
    info = httpx.get(f"{attack.nm}/ws/v1/node/containers/{attack.container_id}", timeout=5).json()["container"]
    assert not set(info["containerLogFiles"]) & {"x", "etcdir", "hard", "fifo"}
    for name in ("x", "hard", "fifo", "etcdir"):
        for path in (f"/ws/v1/node/containerlogs/{attack.container_id}/{name}",
                     f"/node/containerlogs/{attack.container_id}/root/{name}"):
            r = httpx.get(attack.nm + path, timeout=5)
            assert r.status_code == 404, (path, r.status_code)
            assert r.json()["RemoteException"]["exception"] == "NotFoundException"
            assert secret not in r.content
    # The sibling "container" dir that is a link to /etc: not a log dir the NM serves.
    fake = attack.container_id.rsplit("_", 1)[0] + "_999999"
    r = httpx.get(f"{attack.nm}/ws/v1/node/containerlogs/{fake}/shadow", timeout=5)
    assert r.status_code == 404 and secret not in r.content
    assert httpx.get(f"{attack.nm}/ws/v1/node/containerlogs/{fake}", timeout=5).status_code == 404
    log = attack.processes.log("nm")
    assert "Refusing to serve" in log and "is a symbolic link" in log
    assert "not a regular file with one link" in log


def test_rm_node_proxy_does_not_serve_links(attack: Attack) -> None:
    secret = secret_line()
    user = httpx.get(f"{attack.rm_url}/ws/v1/cluster/apps/{attack.app_id}", timeout=5).json()["app"]["user"]
    base = f"{attack.rm_url}/node/{attack.node_id}/containerlogs/{attack.container_id}/{user}"
    for name in ("x", "hard"):
        r = httpx.get(f"{base}/{name}", timeout=10)
        assert r.status_code == 404 and secret not in r.content
    page = httpx.get(base, timeout=10)
    assert page.status_code == 200 and ">x<" not in page.text and "big.log" in page.text


def test_miniyarn_logs_of_the_running_app_skips_links(attack: Attack, capsys: pytest.CaptureFixture[str]) -> None:
    secret = secret_line().decode()
    code = main(["logs", "-applicationId", attack.app_id, "-containerId", attack.container_id,
                 "--rm-address", attack.rm_url, "-log_files", "stdout,x,hard"])
    out = capsys.readouterr().out
    assert code == 0 and "attack-in-place" in out and "LogAggregationType: LOCAL" in out
    assert "LogType:x" not in out and "LogType:hard" not in out and secret not in out


def test_hostile_names_are_escaped_on_every_page(attack: Attack) -> None:
    page = httpx.get(f"{attack.nm}/node/containerlogs/{attack.container_id}/root", timeout=5)
    assert page.status_code == 200 and HOSTILE_FILE not in page.text
    assert html.escape(HOSTILE_FILE) in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    # A forged start with a script for an id (and a user): the NM refuses it but lists it, escaped.
    evil_id = attack.container_id + "<script>alert(1)</script>"
    forged = StartContainer(container=Container(id=evil_id, node_id=attack.node_id,
                                                node_http_address=attack.node_id,
                                                resource=Resource(memory=128, vcores=1)),
                            launch_context=ContainerLaunchContext(commands=["true"]), user="<b>mallory</b>")
    r = redis.Redis.from_url(admin_url(attack.redis_url))
    r.rpush(keys.nm_commands(attack.node_id), forged.model_dump_json())
    r.close()
    time.sleep(1.0)
    overview = httpx.get(f"{attack.nm}/node", timeout=5).text
    assert "<script>" not in overview and "<b>mallory" not in overview
    if "alert(1)" in overview:  # listed (refused): then only as text
        assert html.escape("<script>alert(1)</script>") in overview
    # The same page as the RM proxies it onto its own origin.
    proxied = httpx.get(f"{attack.rm_url}/node/{attack.node_id}/", timeout=10).text
    assert "<script>" not in proxied


def test_tail_of_a_300mb_log_reads_only_the_tail(attack: Attack) -> None:
    proc = psutil.Process(attack.nm_pid)
    url = f"{attack.nm}/ws/v1/node/containerlogs/{attack.container_id}/big.log"
    httpx.get(url, params={"start": "-100"}, timeout=10)  # warm: first-use allocations are not the point
    before = proc.memory_info().rss
    for _ in range(3):
        r = httpx.get(url, params={"start": "-100"}, timeout=10)
        assert r.status_code == 200 and r.content == b"\0" * 100
    r = httpx.get(url, params={"start": "1000", "end": "1010"}, timeout=10)
    assert r.content == b"\0" * 10
    grown_tail = proc.memory_info().rss - before
    assert grown_tail < 4 << 20, f"NM RSS grew {grown_tail >> 10} KiB for three 100-byte tails"
    # No range: the last 32 MiB, streamed, saying so as YARN's log page does.
    with httpx.stream("GET", url, timeout=30) as resp:
        head = b""
        total = 0
        for chunk in resp.iter_bytes():
            head = head or chunk[:200]
            total += len(chunk)
    assert head.startswith(f"Showing {32 << 20} bytes of {BIG} total.\n".encode())
    assert total == (32 << 20) + len(f"Showing {32 << 20} bytes of {BIG} total.\n")
    grown = proc.memory_info().rss - before
    assert grown < 8 << 20, f"NM RSS grew {grown >> 10} KiB serving a capped 300 MB log"


def test_wrong_methods_and_unknown_paths_answer_remote_exceptions(attack: Attack) -> None:
    for method in ("POST", "PUT", "DELETE", "PATCH", "FOO"):
        r = httpx.request(method, f"{attack.nm}/ws/v1/node/info", timeout=5, content=b"{}")
        assert r.status_code == 405, method
        assert r.json()["RemoteException"]["exception"] == "WebApplicationException"
        assert r.headers["allow"] == "GET, HEAD"
    head = httpx.head(f"{attack.nm}/ws/v1/node/info", timeout=5)
    assert head.status_code == 200 and head.content == b""
    r = httpx.get(f"{attack.nm}/nope", timeout=5)
    assert r.status_code == 404 and r.json()["RemoteException"]["exception"] == "NotFoundException"
    r = httpx.get(f"{attack.nm}/ws/v1/node/containerlogs/{attack.container_id}/stdout?start=x", timeout=5)
    assert r.status_code == 400 and r.json()["RemoteException"]["exception"] == "BadRequestException"


def test_aggregation_skips_links_and_miniyarn_logs_serves_none(attack: Attack,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """Last in the module: lets the container end, so the app finishes and its logs aggregate."""
    secret = secret_line()
    attack.go.touch()
    client = redis.Redis.from_url(admin_url(attack.redis_url))
    try:
        wait_for("the app to finish", lambda: httpx.get(f"{attack.rm_url}/ws/v1/cluster/apps/{attack.app_id}",
                                                        timeout=5).json()["app"]["finishedTime"], timeout=60)
        wait_for("logs aggregated", lambda: logs_aggregated(client, attack.app_id), timeout=30)
        fields = {text(f): data(v) for f, v in client.hgetall(keys.app_logs(attack.app_id)).items()}
    finally:
        client.close()
    names = {f.split(" ", 2)[2] for f in fields if f.startswith(attack.container_id)}
    assert {"stdout", "big.log", HOSTILE_FILE} <= names
    assert not names & {"x", "etcdir", "hard", "fifo", "shadow", "passwd"}
    assert not any("_999999" in f for f in fields)
    assert all(secret not in v for v in fields.values())
    big = fields[f"{attack.container_id} {attack.node_id} big.log"]
    assert big.startswith(f"Showing {32 << 20} bytes of {BIG} total.\n".encode())
    log = attack.processes.log("nm")
    assert "Not aggregating" in log
    # The RM's log server and the CLI show the same files, no links.
    listing = httpx.get(f"{attack.rm_url}/ws/v1/applicationhistory/containers/{attack.container_id}/logs",
                        timeout=10).json()
    assert {f["fileName"] for f in listing[0]["containerLogInfo"]} == names
    r = httpx.get(f"{attack.rm_url}/ws/v1/applicationhistory/containerlogs/{attack.container_id}/stdout",
                  params={"start": "-16"}, timeout=10)
    assert r.status_code == 200 and r.content.endswith(b"attack-in-place\n")
    tail = httpx.get(f"{attack.rm_url}/ws/v1/applicationhistory/containerlogs/{attack.container_id}/stdout",
                     params={"size": "-16"}, timeout=10)
    assert tail.content == r.content
    code = main(["logs", "-applicationId", attack.app_id, "--rm-address", attack.rm_url, "-log_files",
                 "stdout,x,hard,fifo,etcdir,shadow"])
    out = capsys.readouterr().out
    assert code == 0 and "LogAggregationType: AGGREGATED" in out and "attack-in-place" in out
    assert "LogType:x\n" not in out and secret.decode() not in out


# ---- token mode and ACLs: their own daemons ------------------------------------------------------

APP = "application_1700000000000_0007"
CID = "container_1700000000000_0007_01_000002"


@pytest.fixture
def secured_nm(redis_url: str, processes: Processes, tmp_path: Path) -> Iterator[tuple[str, bytes]]:
    """An NM in token mode with ACLs on, a log dir of `alice`'s app (VIEW_APP: bob) on its disk."""
    secret = b"s3cret-for-tests"
    (tmp_path / "http.secret").write_bytes(secret)
    logs = tmp_path / "nm-logs"
    (logs / APP / CID).mkdir(parents=True)
    (logs / APP / CID / "stdout").write_text("alice's output\n")
    record = {"app_id": APP, "user": "alice",
              "submission": {"am_container_spec": {"application_acls": {"VIEW_APP": "bob", "MODIFY_APP": " "}}}}
    client = redis.Redis.from_url(admin_url(redis_url))
    client.set(keys.app(APP), json.dumps(record))
    client.close()
    node_id, _ = start_nm(processes, redis_url, "secured-nm", [
        "--log-dirs", str(logs), "-D", "hadoop.http.authentication.type=token",
        "-D", f"hadoop.http.authentication.signature.secret.file={tmp_path / 'http.secret'}",
        "-D", "yarn.acl.enable=true", "-D", "yarn.admin.acl=yarnadmin"])
    yield f"http://{node_id}", secret


def test_token_mode_needs_a_token_and_view_app_guards_logs(secured_nm: tuple[str, bytes], processes: Processes,
                                                           ) -> None:
    nm, secret = secured_nm
    url = f"{nm}/ws/v1/node/containerlogs/{CID}/stdout"
    assert httpx.get(f"{nm}/health", timeout=5).status_code == 200  # healthchecks carry no token
    for headers in ({}, {"Authorization": "Bearer not-a-token"},
                    {"Authorization": f"Bearer {tokens.sign(b'other-secret', 'alice')}"}):
        r = httpx.get(url, headers=headers, timeout=5)
        assert r.status_code == 401 and r.json()["RemoteException"]["exception"] == "AuthenticationException"
        assert r.headers["www-authenticate"] == "Bearer"
    assert httpx.get(f"{nm}/ws/v1/node/info?user.name=alice", timeout=5).status_code == 401

    def as_user(user: str, path: str = url) -> httpx.Response:
        return httpx.get(path, headers={"Authorization": f"Bearer {tokens.sign(secret, user)}"}, timeout=5)

    assert as_user("alice").content == b"alice's output\n"  # the owner
    assert as_user("bob").status_code == 200  # named in VIEW_APP
    assert as_user("yarnadmin").status_code == 200  # yarn.admin.acl
    cookie = httpx.get(url, cookies={tokens.COOKIE: tokens.cookie_value(secret, "alice")}, timeout=5)
    assert cookie.status_code == 200
    for path in (url, f"{nm}/ws/v1/node/containerlogs/{CID}", f"{nm}/node/containerlogs/{CID}/alice",
                 f"{nm}/node/containerlogs/{CID}/alice/stdout"):
        r = as_user("carol", path)
        assert r.status_code == 403, path
        assert r.json()["RemoteException"]["exception"] == "AccessControlException"
        assert "carol" in r.json()["RemoteException"]["message"] and b"alice's output" not in r.content
    assert as_user("carol", f"{nm}/ws/v1/node/info").status_code == 200  # the node itself is no secret
    assert "Refused carol the logs of" in processes.log("secured-nm")


def test_rm_log_server_guards_aggregated_logs_with_view_app(redis_url: str, processes: Processes,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    rm = start_rm(processes, redis_url, ["-D", "yarn.acl.enable=true", "-D", "yarn.admin.acl=yarnadmin"])
    app_id = str(httpx.post(f"{rm}/ws/v1/cluster/apps/new-application?user.name=alice", timeout=10)
                 .json()["application-id"])
    body = {"application-id": app_id, "application-name": "private", "user": "alice",
            "am-container-spec": {"commands": {"command": "sleep 60"}}, "resource": {"memory": 128, "vCores": 1}}
    assert httpx.post(f"{rm}/ws/v1/cluster/apps?user.name=alice", json=body, timeout=10).status_code == 202
    cid = f"container_{app_id.removeprefix('application_')}_01_000001"
    client = redis.Redis.from_url(admin_url(redis_url))
    client.hset(keys.app_logs(app_id), f"{cid} 127.0.0.1:1 stdout", b"alice's secret output\n")
    client.close()
    page = f"{rm}/logs/127.0.0.1:1/{cid}/{cid}/alice"  # the log server's pages, where NMs redirect to
    for path in (f"/ws/v1/applicationhistory/apps/{app_id}/logs", f"/ws/v1/applicationhistory/containers/{cid}/logs",
                 f"/ws/v1/applicationhistory/containerlogs/{cid}/stdout", page.removeprefix(rm),
                 f"{page.removeprefix(rm)}/stdout"):
        r = httpx.get(f"{rm}{path}", timeout=10)  # anonymous: dr.who
        assert r.status_code == 403, path
        assert r.json()["RemoteException"]["exception"] == "AccessControlException"
        assert b"secret output" not in r.content
    assert "/stdout" in httpx.get(page, params={"user.name": "alice"}, timeout=10).text  # the owner
    assert httpx.get(f"{page}/stdout", params={"user.name": "alice"}, timeout=10).content == b"alice's secret output\n"
    code = main(["logs", "-applicationId", app_id, "--rm-address", rm])
    captured = capsys.readouterr()
    assert code != 0 and "secret output" not in captured.out
    assert "does not have privilege to see this application" in captured.err


def test_nm_beyond_loopback_with_simple_auth_refuses_to_start(redis_url: str, processes: Processes) -> None:
    proc = processes.start("open-nm", ["-m", "nodemanager", "--redis-url", redis_url, "--port", "0",
                                       "--bind-host", "0.0.0.0"])
    assert proc.wait(30) == 2
    assert "refusing to listen on 0.0.0.0 with hadoop.http.authentication.type=simple" in processes.log("open-nm")
    assert "--insecure" in processes.log("open-nm")
    processes.start("insecure-nm", ["-m", "nodemanager", "--redis-url", redis_url, "--port", "0", "--bind-host",
                                    "0.0.0.0", "--insecure"])
    wait_for("the --insecure NodeManager", lambda: "started" in processes.log("insecure-nm"))
