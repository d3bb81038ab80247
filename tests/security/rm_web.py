"""A ResourceManager as the minicluster runs it (token auth, `yarn.acl.enable=true`, `yarn.admin.acl=admin`,
its own credentials dir) plus one NodeManager, shared by a test module; and helpers to act as a user.
Tests import the fixture from here rather than from a shared conftest."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from miniyarn.security import credentials as creds
from miniyarn.security import tokens
from miniyarn.sockets import free_port
from tests.conftest import Processes, RedisServer, _db_counter
from tests.integration.conftest import FAST_CONF, FINAL_APP_STATES, wait_for

WEB_AM = Path(__file__).with_name("web_am.py")
ADMIN = "admin"
SECURE_CONF = ["-D", "hadoop.http.authentication.type=token", "-D", "yarn.acl.enable=true",
               "-D", f"yarn.admin.acl={ADMIN}"]


@dataclass
class SecureRM:
    url: str
    redis_url: str
    credentials: creds.Credentials
    processes: Processes
    port: int

    @property
    def secret(self) -> bytes:
        return self.credentials.http_secret()

    def token(self, user: str, ttl_s: int = 3600) -> str:
        return tokens.sign(self.secret, user, ttl_s=ttl_s)

    def client(self, user: str | None = None, **kwargs: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.token(user)}"} if user else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10, **kwargs)

    def submit(self, user: str, command: str, name: str = "app", acls: dict[str, str] | None = None,
               params: dict[str, str] | None = None) -> str:
        with self.client(user) as http:
            app_id = str(http.post("/ws/v1/cluster/apps/new-application").json()["application-id"])
            spec: dict[str, Any] = {"commands": {"command": f"{command} 1><LOG_DIR>/AppMaster.stdout "
                                                            "2><LOG_DIR>/AppMaster.stderr"}}
            if acls:
                spec["application-acls"] = {"entry": [{"key": k, "value": v} for k, v in acls.items()]}
            body = {"application-id": app_id, "application-name": name, "resource": {"memory": 128, "vCores": 1},
                    "max-app-attempts": 1, "am-container-spec": spec}
            r = http.post("/ws/v1/cluster/apps", json=body, params=params)
            assert r.status_code == 202, r.text
        return app_id

    def web_am(self, user: str, mode: str, tracking: str = "http://{self}/", victim: str = "",
               acls: dict[str, str] | None = None) -> str:
        """An application whose AM is tests/security/web_am.py, RUNNING with its tracking URL registered."""
        command = f"{sys.executable} {WEB_AM} {mode} --tracking '{tracking}'"
        if victim:
            command += f" --victim {victim}"
        app_id = self.submit(user, command, name=f"web-am-{mode}", acls=acls)
        wait_for(f"{app_id}'s AM to register", lambda: self.app(app_id)["trackingUI"] == "ApplicationMaster")
        return app_id

    def app(self, app_id: str) -> dict[str, Any]:
        with self.client(ADMIN) as http:
            r = http.get(f"/ws/v1/cluster/apps/{app_id}")
            r.raise_for_status()
            return dict(r.json()["app"])

    def wait_final(self, app_id: str) -> dict[str, Any]:
        return dict(wait_for(f"{app_id} to end", lambda: (a := self.app(app_id))["state"] in FINAL_APP_STATES
                             and a["finishedTime"] > 0 and a, timeout=30))

    def log(self) -> str:
        return self.processes.log("rm")


@pytest.fixture(scope="module")
def secure_rm(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureRM]:
    db = next(_db_counter, 63)
    url = redis_server.url(db)
    client = redis_server.admin(db)
    client.flushdb()
    work = tmp_path_factory.mktemp("secure-rm")
    procs = Processes(work)
    credentials = redis_server.credentials  # the ACL users the session's Redis knows
    port = free_port()
    try:
        procs.start("rm", ["-m", "resourcemanager", "--redis-url", url, "--port", str(port), "--host", "127.0.0.1",
                           "--credentials-dir", str(credentials.dir), *FAST_CONF, *SECURE_CONF])
        rm = SecureRM(f"http://127.0.0.1:{port}", url, credentials, procs, port)
        wait_for("the ResourceManager", lambda: httpx.get(f"{rm.url}/health", timeout=1).status_code == 200)
        procs.start("nm1", ["-m", "nodemanager", "--redis-url", url, "--port", "0", "--memory-mb", "8192",
                            "--vcores", "16", *FAST_CONF])
        with rm.client(ADMIN) as http:
            wait_for("a RUNNING NodeManager", lambda: http.get("/ws/v1/cluster/nodes",
                                                               params={"states": "RUNNING"}).json()["nodes"])
        yield rm
    finally:
        procs.stop_all()
        client.flushdb()
        client.close()
