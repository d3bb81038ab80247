"""A whole YARN cluster on this machine in about a second: Redis (started if none answers), one
ResourceManager and N NodeManagers as child processes, each in its own process group, all stopped
together (YARN's MiniYARNCluster, but real processes). `rms=2` starts two ResourceManagers with RM HA on
(rm1 on `port`, rm2 on the next free port): one active, one standby that takes over when it dies.

Secure without flags: the cluster's credentials are made at first start (`<work_dir>/credentials`, or
`credentials_dir`), the Redis it starts loads their ACL users (`default` off, AOF on so a Redis restart
keeps state), and the daemons connect as their roles. A Redis it did not start must already have them.

>>> with MiniCluster(nodemanagers=2, port=0) as mc:      # doctest: +SKIP
...     print(mc.rm_url, mc.redis_url)
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit

import httpx
import psutil
import redis

from miniyarn.redisconn import SentinelURL, client_for
from miniyarn.security import client_token, tokens
from miniyarn.security import credentials as creds
from miniyarn.sockets import free_ports

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
# Python start-up plus FastAPI imports take ~0.5 s per daemon on a busy 2-core laptop; 30 s means
# something is wrong (a port in use, Redis refusing us), and the error then shows the daemon's log.
STARTUP_TIMEOUT_S = 30.0
# NMs use this to abort their containers and upload logs; RM and Redis stop at once.
STOP_GRACE_S = 10.0
POLL_S = 0.02


class MiniClusterError(RuntimeError):
    """The cluster could not start; the message names the daemon and shows its log's tail."""


def redis_answers(url: str) -> bool:
    """Whether a Redis answers at `url` (any scheme redisconn takes: a Sentinel URL asks for its master)."""
    try:
        client = client_for(url, socket_connect_timeout=1, socket_timeout=1)
    except ValueError:
        return False
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def something_listens(url: str) -> bool:
    """A server at `url`'s address, whatever it lets us do (a Redis with other users answers NOAUTH)."""
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), timeout=1):
            return True
    except OSError:
        return False


@dataclass
class Daemon:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def tail(self, n: int = 3000) -> str:
        if not self.log.exists():
            return ""
        return self.log.read_text(errors="replace")[-n:]


class MiniCluster:
    def __init__(self, nodemanagers: int = 1, redis_url: str | None = None, port: int = 8088,
                 memory_mb: int = 4096, vcores: int = 4, work_dir: str | Path | None = None,
                 defines: list[str] | None = None, python: str = sys.executable,
                 credentials_dir: str | Path | None = None,
                 token_file: str | Path | None = None, rms: int = 1) -> None:
        if nodemanagers < 1:
            raise ValueError(f"a cluster needs at least one NodeManager, got --nodemanagers {nodemanagers}")
        if rms not in (1, 2):
            raise ValueError(f"--rms is 1 (one ResourceManager) or 2 (RM HA: an active and a standby), got {rms}")
        self.nodemanagers = nodemanagers
        self.rms = rms
        self.rm_urls: list[str] = []
        self.redis_url = redis_url or "redis://127.0.0.1:6379/0"
        self.port = port
        self.memory_mb = memory_mb
        self.vcores = vcores
        self.defines = list(defines or [])
        self.python = python
        self.own_work_dir = work_dir is None
        self.work_dir = Path(work_dir) if work_dir is not None else Path(tempfile.mkdtemp(prefix="miniyarn-mc-"))
        self.credentials_dir = Path(credentials_dir) if credentials_dir is not None else self.work_dir / "credentials"
        self.credentials: creds.Credentials | None = None
        self.daemons: list[Daemon] = []
        self.started_redis = False
        self.rm_url = ""
        self.node_ids: list[str] = []
        self.startup_s = 0.0
        self._known: dict[int, psutil.Process] = {}
        # HTTP security (token auth, ACLs): the user who starts the cluster is its admin and gets a token.
        self.user = getpass.getuser()
        self.token = ""
        self.token_file = Path(token_file) if token_file is not None else None

    # ---- lifecycle ------------------------------------------------------------------------

    def __enter__(self) -> MiniCluster:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def start(self) -> MiniCluster:
        t0 = time.monotonic()
        try:
            self.work_dir.mkdir(parents=True, exist_ok=True)
            self.credentials = creds.ensure(self.credentials_dir)
            self._ensure_redis()
            # Every port at once, all different: the daemons start side by side (free_ports).
            picked = [p for p in free_ports(self.rms + self.nodemanagers + 1) if p != self.port]
            ports = [self.port or picked.pop(0), *(picked.pop(0) for _ in range(self.rms - 1))]
            nm_ports = picked[:self.nodemanagers]
            for p in ports:
                self._check_port_free(p)
            self.rm_urls = [f"http://127.0.0.1:{p}" for p in ports]
            self.rm_url = self.rm_urls[0]
            # The same HTTP security on every daemon (the NMs serve container logs); a user's -D comes last and wins.
            common = [*self._http_security(), *self._ha(ports), *(arg for d in self.defines for arg in ("-D", d)),
                      "--credentials-dir", str(self.credentials_dir)]
            for i, p in enumerate(ports, 1):
                self._spawn("rm" if self.rms == 1 else f"rm{i}",
                            ["-m", "resourcemanager", "--redis-url", self.redis_url, "--host", "127.0.0.1",
                             "--port", str(p), *(["--rm-id", f"rm{i}"] if self.rms > 1 else []), *common])
            for i, nm_port in enumerate(nm_ports, 1):
                self.node_ids.append(f"127.0.0.1:{nm_port}")
                root = self.work_dir / f"nm-{i}"
                self._spawn(f"nm-{i}", ["-m", "nodemanager", "--redis-url", self.redis_url, "--port", str(nm_port),
                                        "--hostname", "127.0.0.1", "--bind-host", "127.0.0.1",
                                        "--memory-mb", str(self.memory_mb), "--vcores", str(self.vcores),
                                        "--local-dirs", str(root / "local"), "--log-dirs", str(root / "logs"),
                                        *common])
            self._wait_up()
        except BaseException:
            self.stop()
            raise
        self.startup_s = time.monotonic() - t0
        return self

    def _http_security(self) -> list[str]:
        """The daemons' arguments for token auth and ACLs, secure with no flag (a user's -D may override), and
        the starting user's token, written where the clients look (`client_token`)."""
        assert self.credentials is not None
        self.token = tokens.sign(self.credentials.http_secret(), self.user)
        self.token_file = client_token.write(self.token, self.token_file)
        return ["-D", "hadoop.http.authentication.type=token", "-D", "yarn.acl.enable=true",
                "-D", f"yarn.admin.acl={self.user}"]

    def _ha(self, ports: list[int]) -> list[str]:
        """RM HA's keys for every daemon (NMs ignore them; clients read them from `env()`)."""
        if len(ports) < 2:
            return []
        ids = [f"rm{i}" for i in range(1, len(ports) + 1)]
        return ["-D", "yarn.resourcemanager.ha.enabled=true", "-D", f"yarn.resourcemanager.ha.rm-ids={','.join(ids)}",
                *(arg for rm_id, p in zip(ids, ports, strict=True)
                  for arg in ("-D", f"yarn.resourcemanager.webapp.address.{rm_id}=127.0.0.1:{p}"))]

    def ha_defines(self) -> list[str]:
        """`-D` arguments that tell rmadmin where the RMs are (empty with one RM)."""
        return self._ha([int(u.rsplit(":", 1)[1]) for u in self.rm_urls])

    @property
    def login_url(self) -> str:
        """A link that logs the browser in (Jupyter-style) and opens the cluster's UI."""
        return f"{self.rm_url}/login?token={self.token}"

    @staticmethod
    def _check_port_free(port: int) -> None:
        """Say so at once, rather than after the RM has imported everything and failed to bind."""
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
            except OSError as e:
                raise MiniClusterError(f"Port {port} for the ResourceManager is in use ({e.strerror}): is another "
                                       "cluster running? Stop it, or pick another --port (0 = a free one)") from None

    @property
    def admin_redis_url(self) -> str:
        """The Redis URL with the RM's (all-powerful) user: for tools and tests that read Redis directly."""
        assert self.credentials is not None, "start() the cluster first"
        return self.credentials.redis_url(self.redis_url, "rm")

    def _ensure_redis(self) -> None:
        if redis_answers(self.admin_redis_url):
            return
        if SentinelURL.parse(self.redis_url) is not None:
            raise MiniClusterError(
                f"No Redis master answers through the Sentinels of {creds.without_user(self.redis_url)} as this "
                f"cluster's rm user (from {self.credentials_dir}); the minicluster starts a Redis of its own only "
                "for a local redis:// URL. Check the Sentinels and that the master loads "
                f"--aclfile {self.credentials_dir / creds.REDIS_ACL}")
        if something_listens(self.redis_url):
            raise MiniClusterError(
                f"A Redis answers at {creds.without_user(self.redis_url)} but does not know this cluster's users "
                f"(in {self.credentials_dir}). The minicluster only starts a Redis of its own; to use that one, "
                f"restart it with --aclfile {self.credentials_dir / creds.REDIS_ACL} (users rm and nm, default "
                "off), or give --credentials-dir of the cluster it was started for, or another --redis-url")
        url = urlsplit(self.redis_url)
        host, port = url.hostname or "127.0.0.1", url.port or 6379
        if host not in LOCAL_HOSTS:
            raise MiniClusterError(f"No Redis answers at {self.redis_url}, and it is not on this machine, so the "
                                   "minicluster cannot start one; start it there or give a local --redis-url")
        exe = shutil.which("redis-server")
        if exe is None:
            raise MiniClusterError(f"No Redis answers at {self.redis_url} and redis-server is not installed "
                                   "(apt-get install redis-server), or point --redis-url at a running Redis")
        data = self.work_dir / "redis"
        data.mkdir(exist_ok=True)
        assert self.credentials is not None
        # AOF on: a restarted Redis (same --work-dir) keeps the cluster's state and the attempts' users.
        self._spawn("redis", ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
                              "--dir", str(data), "--aclfile", str(self.credentials.acl_file)], exe=exe)
        self.started_redis = True
        self._wait("redis-server", lambda: redis_answers(self.admin_redis_url), only="redis")

    def _spawn(self, name: str, args: list[str], exe: str | None = None) -> None:
        log = self.work_dir / f"{name}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen([exe or self.python, *args], stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True, cwd=self.work_dir)
        self.daemons.append(Daemon(name, proc, log))

    def _wait(self, what: str, ready: Callable[[], bool], only: str | None = None) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not ready():
            dead = self.dead(only)
            if dead is not None:
                raise MiniClusterError(f"{dead.name} exited with code {dead.proc.returncode} while starting; "
                                       f"its log ({dead.log}):\n{dead.tail()}")
            if time.monotonic() > deadline:
                raise MiniClusterError(f"{what} not up after {STARTUP_TIMEOUT_S:.0f} s; logs in {self.work_dir}")
            time.sleep(POLL_S)

    def _wait_up(self) -> None:
        with httpx.Client(timeout=2, headers={"Authorization": f"Bearer {self.token}"}) as http:
            def nodes_running() -> bool:
                # Through whichever RM is active (a standby answers 307 to it, or 503 before there is one).
                for url in self.rm_urls:
                    try:
                        resp = http.get(f"{url}/ws/v1/cluster/nodes", params={"states": "RUNNING"})
                        if resp.status_code != 200:
                            continue
                        body = resp.json()
                    except (httpx.HTTPError, ValueError):
                        continue
                    running = {n["id"] for n in ((body.get("nodes") or {}).get("node") or [])}
                    return running >= set(self.node_ids)
                return False

            self._wait(f"{self.nodemanagers} RUNNING NodeManagers at {', '.join(self.rm_urls)}", nodes_running)

            def every_rm_answers() -> bool:
                # With RM HA the active alone is enough for the NMs; a user's `rmadmin -getAllServiceState` right
                # after start must find the standby up too (it answers /cluster/info with its haState).
                try:
                    return all(http.get(f"{url}/ws/v1/cluster/info").status_code == 200 for url in self.rm_urls)
                except httpx.HTTPError:
                    return False

            if len(self.rm_urls) > 1:
                self._wait(f"every ResourceManager answering at {', '.join(self.rm_urls)}", every_rm_answers)

    # ---- while running --------------------------------------------------------------------

    def dead(self, only: str | None = None) -> Daemon | None:
        """A daemon that exited (None if all run)."""
        for d in self.daemons:
            if (only is None or d.name == only) and d.proc.poll() is not None:
                return d
        return None

    def env(self) -> dict[str, str]:
        """What a client's shell needs. The Redis URL carries no credential: clients speak HTTP to the RM."""
        return {"MINIYARN_RM_ADDRESS": ",".join(self.rm_urls) or self.rm_url,
                "MINIYARN_REDIS_URL": creds.without_user(self.redis_url),
                client_token.ENV: self.token}

    def pids(self) -> set[int]:
        """Our daemons and everything they started (containers are children of the NMs)."""
        out = set()
        for d in self.daemons:
            try:
                root = psutil.Process(d.proc.pid)
                for p in [root, *root.children(recursive=True)]:
                    out.add(p.pid)
                    self._known.setdefault(p.pid, p)
            except psutil.NoSuchProcess:
                continue
        return out

    # ---- stop -----------------------------------------------------------------------------

    def stop(self) -> None:
        """NMs first (they abort their containers and upload logs), then the RM, then Redis if we
        started it; whatever is left after the grace period is killed by process group. A second
        Ctrl-C while stopping is ignored: interrupting the stop would leave daemons behind."""
        saved = ([(s, signal.signal(s, signal.SIG_IGN)) for s in (signal.SIGINT, signal.SIGTERM)]
                 if threading.current_thread() is threading.main_thread() else [])
        try:
            self._stop()
        finally:
            for sig, handler in saved:
                signal.signal(sig, handler)

    def _stop(self) -> None:
        self.pids()  # remember the containers too, before their NMs go
        order = ([d for d in self.daemons if d.name.startswith("nm-")],
                 [d for d in self.daemons if d.name.startswith("rm")],
                 [d for d in self.daemons if d.name == "redis"])
        for group in order:
            for d in group:
                self._signal(d, signal.SIGTERM)
            deadline = time.monotonic() + STOP_GRACE_S
            for d in group:
                try:
                    d.proc.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
                self._signal(d, signal.SIGKILL)
                try:
                    d.proc.wait(2)
                except subprocess.TimeoutExpired:
                    pass
        for p in self._known.values():
            try:
                if p.is_running():  # same pid *and* start time: never a stranger that reused the pid
                    p.kill()
            except psutil.NoSuchProcess:
                pass
        self.daemons = []
        self._known = {}
        if self.own_work_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)

    @staticmethod
    def _signal(d: Daemon, sig: signal.Signals) -> None:
        try:
            os.killpg(d.proc.pid, sig)  # its own session: the group is the daemon and its helpers
        except (ProcessLookupError, PermissionError):
            pass
