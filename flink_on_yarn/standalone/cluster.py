"""start-cluster / stop-cluster: a JobManager and one TaskManager per line of `conf/workers`, as local daemons.

Only local hosts are started (`localhost`, `127.0.0.1`, this host's name); other hosts need their own
`miniflink taskmanager start`, since there is no ssh here. The cluster secret (security/secret.py) is made
before the first daemon starts, so every daemon and this user's clients read the same file.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import httpx

from flink_on_yarn.common.config import Configuration, conf_dir
from flink_on_yarn.security import secret as cluster_secret
from flink_on_yarn.standalone import daemons

LOCAL = {"localhost", "127.0.0.1", "0.0.0.0", socket.gethostname()}


def workers(directory: Path | None) -> list[str]:
    path = directory / "workers" if directory is not None else None
    if path is None or not path.exists():
        return ["localhost"]
    hosts = [ln.strip() for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    return hosts or ["localhost"]


def config_args(config_dir: Path | None, dynamic: dict[str, str]) -> list[str]:
    args = ["--configDir", str(config_dir)] if config_dir is not None else []
    for k, v in dynamic.items():
        args += ["-D", f"{k}={v}"]
    return args


def rest_address(config: Configuration) -> str:
    host = config.get("rest.address") or config.get("jobmanager.rpc.address")
    return f"http://{host}:{config.get('rest.port')}"


def wait_for_rest(url: str, secret: bytes, timeout_s: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout_s
    auth = {"authorization": f"Bearer {secret.decode()}"}
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/overview", timeout=1.0, headers=auth).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    return False


def start_cluster(dynamic: dict[str, str]) -> int:
    d = conf_dir()
    config = Configuration.load(dynamic)
    secret = cluster_secret.load(config)
    print("Starting cluster.")
    args = config_args(d, dynamic)
    daemons.start(config, daemons.JOBMANAGER, args)
    print(f"Starting standalonesession daemon on host {socket.gethostname()}.")
    for host in workers(d):
        if host.split(":")[0] not in LOCAL:
            print(f"Skipping taskexecutor on {host}: remote hosts are not started (no ssh); "
                  f"run `miniflink taskmanager start` there.")
            continue
        daemons.start(config, daemons.TASKMANAGER, args)
        print(f"Starting taskexecutor daemon on host {socket.gethostname()}.")
    url = rest_address(config)
    if not wait_for_rest(url, secret):
        print(f"warning: the JobManager did not answer at {url}; see {daemons.log_dir(config)}")
        return 1
    return 0


def stop_cluster(dynamic: dict[str, str]) -> int:
    config = Configuration.load(dynamic)
    for pid in daemons.stop(config, daemons.TASKMANAGER):
        print(f"Stopping taskexecutor daemon (pid: {pid}) on host {socket.gethostname()}.")
    for pid in daemons.stop(config, daemons.JOBMANAGER):
        print(f"Stopping standalonesession daemon (pid: {pid}) on host {socket.gethostname()}.")
    return 0
