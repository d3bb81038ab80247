"""compose.yaml + compose.ha.yaml: two ResourceManagers on Docker, driven by the commands the file's header
and docs/docker.md give. `rmadmin -getAllServiceState` says one active and the other standby; a
DistributedShell application is running when the active RM's container is killed (`docker compose kill <its service>`);
the standby takes the lease, the application keeps its attempt and finishes SUCCEEDED with every
container's output, and clients holding both addresses (MINIYARN_RM_ADDRESS) follow. The killed RM
started again is a standby that redirects to the new active at the address that one is published at.
`down -v` leaves nothing (compose_up checks)."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from miniyarn.sockets import free_port
from tests.e2e.conftest import ROOT, SERVICES, ComposeCluster, _port_free, compose_env, compose_up
from tests.integration.conftest import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

HA = ("-D", "yarn.resourcemanager.ha.enabled=true", "-D", "yarn.resourcemanager.ha.rm-ids=rm1,rm2")


@pytest.fixture(scope="module")
def ha_cluster(engine, image: str, tmp_path_factory: pytest.TempPathFactory,  # type: ignore[no-untyped-def]
               request: pytest.FixtureRequest) -> Iterator[ComposeCluster]:
    project = f"miniyarn-e2e-ha-{os.getpid()}"
    env = compose_env(tmp_path_factory.mktemp("compose-ha"), project)
    env["MINIYARN_RM2_PORT"] = "8089" if _port_free(8089) else str(free_port())
    cluster = ComposeCluster(project, env, engine, files=("compose.yaml", "compose.ha.yaml"),
                             services=(*SERVICES, "resourcemanager2"))
    with compose_up(cluster, engine, request, host_dir=Path(env["MINIYARN_HOST_DIR"]), nodemanagers=2):
        yield cluster


def service_states(cluster: ComposeCluster) -> dict[str, str]:
    """`miniyarn rmadmin -getAllServiceState` in the RM's container, as compose.ha.yaml's header runs it."""
    rm1, rm2 = cluster.env["MINIYARN_RM_PORT"], cluster.env["MINIYARN_RM2_PORT"]
    out = cluster.compose("exec", "-T", "-e", f"MINIYARN_TOKEN={cluster.token}", "resourcemanager", "miniyarn",
                          "rmadmin", "-getAllServiceState", *HA,
                          "-D", f"yarn.resourcemanager.webapp.address.rm1=resourcemanager:{rm1}",
                          "-D", f"yarn.resourcemanager.webapp.address.rm2=resourcemanager2:{rm2}").stdout
    return {line.split()[0]: line.split()[-1] for line in out.splitlines() if line.strip()}


def ha_state(url: str, auth: dict[str, str]) -> str | None:
    try:
        r = httpx.get(f"{url}/ws/v1/cluster/info", headers=auth, timeout=3)
        return str(r.json()["clusterInfo"]["haState"]) if r.status_code == 200 else None
    except (httpx.HTTPError, ValueError, KeyError):
        return None


def cli(cluster: ComposeCluster, *args: str) -> str:
    """A `miniyarn` command on the host with both RMs' addresses, as the header exports them."""
    env = {k: v for k, v in os.environ.items() if k != "MINIYARN_REDIS_URL"}
    env.update(MINIYARN_TOKEN=cluster.token, MINIYARN_RM_ADDRESS=f"{cluster.rm_url},http://127.0.0.1:{cluster.env['MINIYARN_RM2_PORT']}")
    r = subprocess.run([sys.executable, "-m", "miniyarn.cli.main", *args], env=env, capture_output=True, text=True,
                       timeout=60, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def at(cluster: ComposeCluster, port: str) -> ComposeCluster:
    """The same cluster as seen through the RM published on `port` (with the token already signed)."""
    view = dataclasses.replace(cluster, env={**cluster.env, "MINIYARN_RM_PORT": port})
    view.__dict__["token"] = cluster.token
    return view


def test_standby_takes_over_and_the_running_app_finishes(ha_cluster: ComposeCluster) -> None:
    cluster = ha_cluster
    began = time.monotonic()

    def mark(what: str) -> None:  # where a slow run's time went (pytest -s)
        print(f"  {time.monotonic() - began:6.1f} s  {what}")

    ports = {"resourcemanager": cluster.env["MINIYARN_RM_PORT"], "resourcemanager2": cluster.env["MINIYARN_RM2_PORT"]}
    states = service_states(cluster)
    assert set(states) == {f"{svc}:{port}" for svc, port in ports.items()}, states
    assert sorted(states.values()) == ["active", "standby"], states
    # Both start together: whichever took the lease first is the active.
    active = next(svc for svc, port in ports.items() if states[f"{svc}:{port}"] == "active")
    standby = next(svc for svc in ports if svc != active)
    first, second = at(cluster, ports[active]), at(cluster, ports[standby])
    mark("rmadmin -getAllServiceState")
    # A standby redirects to the active at the address users reach it at (its published port).
    r = httpx.get(f"{second.rm_url}/ws/v1/cluster/nodes", headers=cluster.auth, timeout=10)
    assert (r.status_code, r.headers.get("location")) == (307, f"{first.rm_url}/ws/v1/cluster/nodes"), r.text

    # Long enough to be running through the failover (a lease of 2 s, the take-over, the AM's re-register).
    app_id = first.submit_ds("sleep 8; echo done in $CONTAINER_ID\n", containers=2, name="ds-ha")
    wait_for("the AM and its shell containers running", lambda: (a := first.get(
        f"/ws/v1/cluster/apps/{app_id}")["app"])["state"] == "RUNNING" and a["runningContainers"] == 3, timeout=60)
    mark("the app RUNNING with its 3 containers")

    t0 = time.monotonic()
    cluster.compose("kill", active)
    wait_for(f"{standby} active", lambda: ha_state(second.rm_url, cluster.auth) == "ACTIVE", timeout=30,
             interval=0.1)
    print(f"docker compose kill {active} (the active RM) -> {standby} ACTIVE: {time.monotonic() - t0:.1f} s")
    rm_id = {"resourcemanager": "rm1", "resourcemanager2": "rm2"}[standby]
    assert "active" in cli(cluster, "rmadmin", "-getServiceState", rm_id, *HA,
                           "-D", f"yarn.resourcemanager.webapp.address.rm1=127.0.0.1:{ports['resourcemanager']}",
                           "-D", f"yarn.resourcemanager.webapp.address.rm2=127.0.0.1:{ports['resourcemanager2']}")

    app = wait_for(f"{app_id} done", lambda: (a := second.get(f"/ws/v1/cluster/apps/{app_id}")["app"])["state"] in (
        "FINISHED", "FAILED", "KILLED") and a, timeout=90, interval=0.3)
    assert (app["state"], app["finalStatus"]) == ("FINISHED", "SUCCEEDED"), app
    mark("the app FINISHED")
    # Clients with both addresses follow: the dead RM's is refused, the other answers.
    status = cli(cluster, "application", "-status", app_id)
    assert "FINISHED" in status and "SUCCEEDED" in status, status
    attempts = second.get(f"/ws/v1/cluster/apps/{app_id}/appattempts")["appAttempts"]["appAttempt"]
    assert len(attempts) == 1, attempts  # work-preserving: the AM of before kept its attempt
    # Both shell containers ran to their end: their output aggregated, served by the new active.
    logs = second.aggregated_logs(app_id)
    done = [k for k, v in logs.items() if k.endswith(" stdout") and v == f"done in {k.split()[0]}\n"]
    assert len(done) == 2, logs
    mark("its logs aggregated")

    # The killed RM back: a standby, whose redirect reaches the new active at its published port.
    cluster.compose("start", active)
    wait_for(f"{active} standby", lambda: ha_state(first.rm_url, cluster.auth) == "STANDBY", timeout=60,
             interval=0.2)
    mark("the killed RM back as the standby")
    r = httpx.get(f"{first.rm_url}/ws/v1/cluster/apps/{app_id}", headers=cluster.auth, timeout=10)
    assert (r.status_code, r.headers.get("location")) == (307, f"{second.rm_url}/ws/v1/cluster/apps/{app_id}")
    # (httpx drops the token on a redirect to another origin; YarnClient keeps it, as the CLI above did.)
    assert second.get(f"/ws/v1/cluster/apps/{app_id}")["app"]["finalStatus"] == "SUCCEEDED"
    for view in (first, second):
        if "http" in view.__dict__:
            view.http.close()
