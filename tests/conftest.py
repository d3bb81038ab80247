"""Shared fixtures: a real redis-server on a free port, and a cleaner for child processes.

The Redis runs with the ACL users of one credentials directory made for the session (`default` off,
as in a real cluster), exported as $MINIYARN_CREDENTIALS_DIR so every daemon a test starts connects as
its role. Tests reading Redis themselves use `admin_url(url)` / the `redis_admin_url` fixture (the rm user).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from miniyarn import keys
from miniyarn.security import credentials
from miniyarn.sockets import free_port


class RedisServer:
    """A redis-server child process that lives for the whole test session."""

    def __init__(self) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            pytest.skip("redis-server is not installed (apt-get install -y redis-server)")
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="miniyarn-redis-")
        self.credentials = credentials.ensure(Path(self.dir) / "credentials")
        self.proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.dir, "--databases", "64", "--aclfile", str(self.credentials.acl_file)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                self.admin(0).ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.02)
        self._next_db = 0

    def url(self, db: int) -> str:
        """What daemons are given: no credential in it (they add their role's from the credentials dir)."""
        return f"redis://127.0.0.1:{self.port}/{db}"

    def admin(self, db: int) -> redis.Redis:
        return redis.Redis.from_url(self.credentials.redis_url(self.url(db), "rm"))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def logs_aggregated(client: redis.Redis, app_id: str) -> bool:
    """Every NM that ran a container of the finished app has uploaded its part: the logs hash exists (an NM
    uploads only once the RM has listed the nodes that owe logs) and no node still owes any."""
    return bool(client.exists(keys.app_logs(app_id))) and not client.scard(keys.app_log_nodes(app_id))


def alive(pids: set[int]) -> set[int]:
    """Those of `pids` still running: an exited process its parent has not reaped yet (a zombie) counts
    as gone."""
    out = set()
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                out.add(pid)
        except psutil.NoSuchProcess:
            pass
    return out


# For a client a test builds with redis.Redis(...) and expects to be refused (a login, a connection): redis-py
# 8.x gives those (not from_url's) ten retries with backoff up to 1 s, about 4.4 s a refusal, telling nothing more.
NO_RETRY = Retry(NoBackoff(), 0)


def admin_url(url: str) -> str:
    """`url` as the rm user of the session's credentials: for a test's own reads and writes."""
    found = credentials.from_env()
    assert found is not None, f"${credentials.ENV} is set by the redis_server fixture"
    return found.redis_url(url, "rm")


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    previous = os.environ.get(credentials.ENV)
    os.environ[credentials.ENV] = str(server.credentials.dir)
    try:
        yield server
    finally:
        if previous is None:
            os.environ.pop(credentials.ENV, None)
        else:
            os.environ[credentials.ENV] = previous
        server.stop()


_db_counter = iter(range(1, 64))


@pytest.fixture
def redis_url(redis_server: RedisServer) -> Iterator[str]:
    """A Redis URL on a database of its own, emptied before and after the test."""
    db = next(_db_counter, 63)
    client = redis_server.admin(db)
    client.flushdb()
    try:
        yield redis_server.url(db)
    finally:
        client.flushdb()
        client.close()


@pytest.fixture
def redis_admin_url(redis_url: str) -> str:
    """The test's database as the rm user (all keys, all commands)."""
    return admin_url(redis_url)


class Processes:
    """Starts daemons in their own process groups and ends every one of them at teardown."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """`python args...` with this environment plus `env`."""
        full_env = dict(os.environ)
        full_env.update(env or {})
        return self.popen(name, [sys.executable, *args], full_env)

    def popen(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        """`argv` in its own process group, output to `<name>.log`, ended by `stop_all`."""
        with open(self.workdir / f"{name}.log", "wb") as log:  # closed right after Popen dups it
            proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
                                    cwd=self.workdir)
        self.procs.append((name, proc))
        return proc

    def log(self, name: str) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def dump_logs(self) -> None:
        for name, _ in self.procs:
            sys.stderr.write(f"\n===== {name}.log =====\n{self.log(name)[-6000:]}\n")

    def stop_all(self, grace_s: float = 10) -> None:
        for _name, proc in reversed(self.procs):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + grace_s
        for _name, proc in self.procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


@pytest.fixture
def processes(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Processes]:
    procs = Processes(tmp_path)
    try:
        yield procs
    finally:
        procs.stop_all()
        failed = getattr(request.node, "rep_call", None)
        if failed is not None and failed.failed:
            procs.dump_logs()


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The pure tests of the `unit` directories last, in their order: xdist hands tests out one at a time in
    this order (`--maxschedchunk 1` in pyproject.toml; without it the first 136, all slow, went to one worker),
    so a run ends on tests of milliseconds that both workers share, not on a 15 s browser or fault test that
    one worker runs while the other has nothing left (the web UI tier came last in path order)."""
    items.sort(key=lambda item: "unit" in item.path.parts)
