"""compose.yaml + compose.ha.yaml: two ResourceManagers on Docker, driven by the commands the file's header
and docs/docker.md give. `rmadmin -getAllServiceState` says rm1 active and rm2 standby; a DistributedShell
application is running when the active RM's container is killed (`docker compose kill resourcemanager`);
rm2 takes the lease, the application keeps its attempt and finishes SUCCEEDED with every container's
output, and clients holding both addresses (MINIYARN_RM_ADDRESS) follow. rm1 started again is a standby
that redirects to rm2 at the address rm2 is published at. `down -v` leaves nothing (compose_up checks)."""

from __future__ import annotations

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


def rm2_url(cluster: ComposeCluster) -> str:
    return f"http://127.0.0.1:{cluster.env['MINIYARN_RM2_PORT']}"


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
    env.update(MINIYARN_TOKEN=cluster.token, MINIYARN_RM_ADDRESS=f"{cluster.rm_url},{rm2_url(cluster)}")
    r = subprocess.run([sys.executable, "-m", "miniyarn.cli.main", *args], env=env, capture_output=True, text=True,
                       timeout=60, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def test_standby_takes_over_and_the_running_app_finishes(ha_cluster: ComposeCluster) -> None:
    cluster = ha_cluster
    rm1, rm2 = cluster.env["MINIYARN_RM_PORT"], cluster.env["MINIYARN_RM2_PORT"]
    assert service_states(cluster) == {f"resourcemanager:{rm1}": "active", f"resourcemanager2:{rm2}": "standby"}
    # A standby redirects to the active at the address users reach it at (its published port).
    r = httpx.get(f"{rm2_url(cluster)}/ws/v1/cluster/nodes", headers=cluster.auth, timeout=10)
    assert (r.status_code, r.headers.get("location")) == (307, f"{cluster.rm_url}/ws/v1/cluster/nodes"), r.text

    # Long enough to be running through the failover (a lease of 2 s, the take-over, the AM's re-register).
    app_id = cluster.submit_ds("sleep 8; echo done in $CONTAINER_ID\n", containers=2, name="ds-ha")
    wait_for("the AM and its shell containers running", lambda: (a := cluster.get(
        f"/ws/v1/cluster/apps/{app_id}")["app"])["state"] == "RUNNING" and a["runningContainers"] == 3, timeout=60)

    t0 = time.monotonic()
    cluster.compose("kill", "resourcemanager")
    wait_for("rm2 active", lambda: ha_state(rm2_url(cluster), cluster.auth) == "ACTIVE", timeout=30, interval=0.1)
    failover_s = time.monotonic() - t0
    print(f"docker compose kill of the active RM -> rm2 ACTIVE: {failover_s:.1f} s")
    assert "active" in cli(cluster, "rmadmin", "-getServiceState", "rm2", *HA,
                           "-D", f"yarn.resourcemanager.webapp.address.rm1=127.0.0.1:{rm1}",
                           "-D", f"yarn.resourcemanager.webapp.address.rm2=127.0.0.1:{rm2}")

    # Clients with both addresses follow: rm1's is refused, rm2 answers.
    deadline = time.monotonic() + 90
    while "FINISHED" not in (status := cli(cluster, "application", "-status", app_id)):
        assert time.monotonic() < deadline and "FAILED" not in status and "KILLED" not in status, status
        time.sleep(0.5)
    assert "SUCCEEDED" in status, status
    http2 = httpx.Client(base_url=rm2_url(cluster), headers=cluster.auth, timeout=10)
    attempts = http2.get(f"/ws/v1/cluster/apps/{app_id}/appattempts").json()["appAttempts"]["appAttempt"]
    assert len(attempts) == 1, attempts  # work-preserving: the AM of before kept its attempt
    # Both shell containers ran to their end: their output aggregated, served by rm2.
    logs = wait_for("the shell containers' logs aggregated", lambda: (r := http2.get(
        f"/ws/v1/applicationhistory/apps/{app_id}/logs").json()).get("containerLogsInfo") and not r.get(
        "pendingNodes") and r, timeout=30)
    done = {str(c["containerId"]) for c in logs["containerLogsInfo"]
            if any(f["fileName"] == "stdout" for f in c.get("containerLogInfo") or [])
            and http2.get(f"/ws/v1/applicationhistory/containerlogs/{c['containerId']}/stdout").text
            == f"done in {c['containerId']}\n"}
    assert len(done) == 2, logs

    # rm1 back: a standby, whose redirect reaches rm2 at its published port.
    cluster.compose("start", "resourcemanager")
    wait_for("rm1 standby", lambda: ha_state(cluster.rm_url, cluster.auth) == "STANDBY", timeout=60, interval=0.2)
    r = httpx.get(f"{cluster.rm_url}/ws/v1/cluster/apps/{app_id}", headers=cluster.auth, timeout=10)
    assert (r.status_code, r.headers.get("location")) == (307, f"{rm2_url(cluster)}/ws/v1/cluster/apps/{app_id}")
    # (httpx drops the token on a redirect to another origin; YarnClient keeps it, as the CLI above did.)
    r = http2.get(r.headers["location"])
    assert r.status_code == 200 and r.json()["app"]["finalStatus"] == "SUCCEEDED", r.text
    http2.close()
