"""The web UI tests' cluster under token auth, as the minicluster runs it (`hadoop.http.authentication.type=
token`, `yarn.acl.enable=true`, its own credentials dir): an RM and two NMs whose REST calls, `miniflink`
runs and browser sessions all carry alice's token."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from miniyarn.security import credentials as creds
from miniyarn.security import tokens
from tests.conftest import Processes
from tests.flink_yarn.conftest import FlinkOnYarn
from tests.integration.conftest import Cluster, start_rm, wait_for
from tests.security.rm_web import SECURE_CONF

USER = "alice"


@dataclass
class TokenCluster(Cluster):
    secret: bytes = b""

    def token(self, user: str = USER) -> str:
        return tokens.sign(self.secret, user, ttl_s=3600)

    def headers(self, user: str = USER) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user)}"}

    def get(self, path: str, **params: Any) -> Any:
        r = httpx.get(f"{self.rm_url}/ws/v1/cluster{path}", params=params, headers=self.headers(), timeout=10)
        r.raise_for_status()
        return r.json()


@dataclass
class SecureFlinkOnYarn(FlinkOnYarn):
    yarn: TokenCluster

    def env(self) -> dict[str, str]:
        return {**super().env(), "MINIYARN_TOKEN": self.yarn.token(), "MINIYARN_TOKEN_FILE": str(self.tmp / "none")}


def submit_app(c: TokenCluster, name: str, command: str, user: str = USER, memory: int = 256) -> str:
    with httpx.Client(base_url=c.rm_url, headers=c.headers(user), timeout=10) as http:
        app_id = str(http.post("/ws/v1/cluster/apps/new-application").json()["application-id"])
        body = {"application-id": app_id, "application-name": name, "application-type": "Apache Flink",
                "resource": {"memory": memory, "vCores": 1}, "max-app-attempts": 1,
                "am-container-spec": {"commands": {"command": f"{command} 1><LOG_DIR>/AppMaster.stdout "
                                                              "2><LOG_DIR>/AppMaster.stderr"}}}
        r = http.post("/ws/v1/cluster/apps", json=body)
        assert r.status_code == 202, r.text
    return app_id


@pytest.fixture
def secure_flink_yarn(redis_url: str, processes: Processes, tmp_path: Path) -> Iterator[SecureFlinkOnYarn]:
    credentials = creds.from_env()  # the session Redis's users (tests/conftest.py)
    assert credentials is not None
    url = start_rm(processes, redis_url, ["--credentials-dir", str(credentials.dir), *SECURE_CONF])
    c = TokenCluster(redis_url, url, processes, secret=credentials.http_secret())
    c.start_nm("nm1")
    c.start_nm("nm2")
    wait_for("2 running NodeManagers", lambda: len(c.running_nodes()) == 2)
    yield SecureFlinkOnYarn(c, tmp_path)
