"""Container commands across a Redis outage, on real redis-servers: an AM's NMClient start sent while Redis
is down lands once it is back (it crashed the AM with a ConnectionError), and an NM's command loop that met
the outage while handling a command (the start's grant read) handles it again instead of dropping it (the
container never started and its AM waited for it until allocation expiry). The Sentinel failover test
(test_redis_sentinel) meets both when the master dies during a start."""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from miniyarn import keys
from miniyarn.client.nm_client import NMClient, NMTokenCache
from miniyarn.protocol import ApplicationFinished, NMCommand, StartContainer
from miniyarn.records import Container, ContainerLaunchContext, Resource
from miniyarn.sockets import free_port
from nodemanager.commands import CommandLoop
from tests.integration.conftest import pings, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

NODE = "127.0.0.1:45454"


class LateRedis:
    """A redis-server (no ACL: a test's own, on loopback) on a port fixed now and started only when asked."""

    def __init__(self, tmp_path: Path) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            pytest.skip("redis-server is not installed (apt-get install -y redis-server)")
        self.exe, self.dir, self.port = exe, tmp_path, free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def client(self) -> redis.Redis:
        # No retries of redis-py's own: each try below is one the code under test makes.
        return redis.Redis(port=self.port, socket_timeout=2, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))

    def start(self) -> None:
        self.proc = subprocess.Popen([self.exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", str(self.dir)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        wait_for("the late redis-server", lambda: pings(self.client()), timeout=10, interval=0.02)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def late_redis(tmp_path: Path) -> Iterator[LateRedis]:
    server = LateRedis(tmp_path)
    try:
        yield server
    finally:
        server.stop()


def test_an_am_start_sent_while_redis_is_down_lands_when_it_is_back(late_redis: LateRedis) -> None:
    client = late_redis.client()
    tokens = NMTokenCache()
    tokens.put({"container_1_0001_01_000002": "tok"})
    nm = NMClient(client, user="tester", tokens=tokens, max_wait_ms=20_000)
    container = Container(id="container_1_0001_01_000002", node_id=NODE, node_http_address="127.0.0.1:8042",
                          resource=Resource(memory=128, vcores=1))
    sent = threading.Event()
    errors: list[BaseException] = []

    def start() -> None:
        try:
            nm.start_container(container, ContainerLaunchContext(commands=["true"]))
        except BaseException as e:  # reported below: the push must not fail
            errors.append(e)
        sent.set()

    t = threading.Thread(target=start, daemon=True)
    t.start()
    try:
        assert not sent.wait(1.5), errors  # Redis is down: the start waits, it does not fail
        late_redis.start()
        assert sent.wait(10) and not errors, errors
        pushed = client.lrange(keys.nm_commands(NODE), 0, -1)
        assert len(pushed) == 1
        cmd = StartContainer.model_validate_json(pushed[0])
        assert (cmd.container.id, cmd.container_token, cmd.user) == (container.id, "tok", "tester")
    finally:
        t.join(5)
        client.close()


def test_a_command_whose_handling_met_a_redis_outage_is_handled_again(redis_admin_url: str,
                                                                      late_redis: LateRedis) -> None:
    commands = redis.Redis.from_url(redis_admin_url)
    # What the handler reads (the NM reads the start's grant): a Redis that is down until the test starts it.
    store = late_redis.client()
    failures: list[Exception] = []
    handled: list[tuple[str, bytes | None]] = []

    def handle(cmd: NMCommand) -> None:
        assert isinstance(cmd, ApplicationFinished)
        try:
            handled.append((cmd.application_id, store.get("grant")))  # type: ignore[arg-type]
        except redis.ConnectionError as e:
            failures.append(e)
            raise

    stop = threading.Event()
    loop = CommandLoop(commands, NODE, handle, stop)
    t = threading.Thread(target=loop.run, daemon=True)
    t.start()
    try:
        commands.rpush(keys.nm_commands(NODE), ApplicationFinished(application_id="application_1_0001")
                       .model_dump_json())
        wait_for("the handling to meet the outage", lambda: failures, timeout=10, interval=0.02)
        assert not handled
        late_redis.start()
        store.set("grant", b"g")
        wait_for("the command handled once Redis is back", lambda: handled, timeout=10, interval=0.02)
        assert handled == [("application_1_0001", b"g")]
        wait_for("the command off the processing list",
                 lambda: not commands.llen(keys.nm_processing(NODE)), timeout=5, interval=0.02)
        assert not commands.llen(keys.nm_commands(NODE))
    finally:
        stop.set()
        t.join(5)
        commands.close()
        store.close()
