"""compose.yaml end to end: `up -d --scale nodemanager=3` with v1 docker-compose or v2 `docker compose`,
healthy, 3 NodeManagers RUNNING at the RM's REST API, a DistributedShell app whose AM and shell
containers are the NMs' sibling Docker containers, Flink per-job word counts whose JobManager and
TaskManagers are Docker containers (one with a TaskManager container killed and replaced), and `down -v`
leaving nothing (the fixture checks)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from miniyarn.ids import sandbox_hostname
from nodemanager.executor.docker_spec import LABEL_APP, LABEL_CONTAINER, LABEL_NETWORK, LABEL_NODE, sandbox_name
from tests.e2e.conftest import ROOT, ComposeCluster
from tests.flink_yarn.conftest import final_counts
from tests.flink_yarn.integration.test_modes import LINES, expected_lines
from tests.flink_yarn.integration.test_per_job import WORDCOUNT
from tests.integration.conftest import wait_for
from tests.line_server import LineServer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]


def test_three_nodemanagers_register(compose_cluster: ComposeCluster) -> None:
    print(f"compose up -d -> healthy: {compose_cluster.up_to_healthy_s:.1f} s")  # type: ignore[attr-defined]
    nodes = wait_for("3 RUNNING nodes", lambda: (n := compose_cluster.get(
        "/ws/v1/cluster/nodes", states="RUNNING")["nodes"]) and len(n["node"]) == 3 and n["node"], timeout=30)
    assert len({n["id"] for n in nodes}) == 3
    metrics = compose_cluster.get("/ws/v1/cluster/metrics")["clusterMetrics"]
    assert metrics["totalMB"] == 3 * 2048, metrics


def test_distributed_shell_on_compose(compose_cluster: ComposeCluster) -> None:
    app_id = compose_cluster.submit_ds("echo hello from $CONTAINER_ID as $(id -un)\n", name="ds-compose")
    app = compose_cluster.wait_app_done(app_id)
    assert (app["state"], app["finalStatus"], app["user"]) == ("FINISHED", "SUCCEEDED", "e2e"), app
    logs = compose_cluster.aggregated_logs(app_id)
    hellos = [k for k, v in logs.items() if k.endswith(" stdout") and v == f"hello from {k.split()[0]} as yarn\n"]
    assert len(hellos) == 3, logs


# ---- Flink on YARN on the compose cluster: the JobManager and TaskManagers are Docker containers --------
#
# The miniflink client runs on the host against the compose RM, as a user's does. Containers of 1024 MB
# (YARN's minimum) and one vcore each: 3 NMs x (2048 MB, 2 vcores) hold the JobManager and 2 TaskManagers
# with room for a replacement.
FLINK = ["-p", "4", "-D", "taskmanager.numberOfTaskSlots=2", "-D", "jobmanager.memory.process.size=1024m",
         "-D", "taskmanager.memory.process.size=1024m", "-D", "yarn.containers.vcores=1",
         "-D", "heartbeat.interval=500", "-D", "heartbeat.timeout=4000"]
CONTAINER_BYTES = 1024 * 1024 * 1024


@pytest.fixture
def lines(compose_cluster: ComposeCluster) -> Iterator[LineServer]:
    """The socket source's server on this host, where the TaskManagers' containers reach it."""
    server = LineServer(LINES, host=compose_cluster.host_address_for_containers)
    yield server
    server.close()


def flink_env(cluster: ComposeCluster, tmp: Path) -> dict[str, str]:
    # The user's token, as a miniflink user exports it; no Redis URL: clients hold no Redis credential.
    env = {k: v for k, v in os.environ.items() if k != "MINIYARN_REDIS_URL"}
    return {**env, "MINIYARN_RM_ADDRESS": cluster.rm_url, "MINIYARN_TOKEN": cluster.token, "TMPDIR": str(tmp)}


def app_containers(cluster: ComposeCluster, app_id: str, running_only: bool = True) -> dict[str, Any]:
    """`docker ps [-a] --filter label=miniyarn.application-id=<app>`: container name -> container."""
    import docker

    for _ in range(20):
        try:
            found = cluster.engine.containers.list(all=not running_only, filters={"label": f"{LABEL_APP}={app_id}"})
            return {c.name: c for c in found}
        except docker.errors.NotFound:
            # Listed, then removed by its NM before the SDK inspected it (a killed TaskManager): ask again.
            time.sleep(0.1)
    raise AssertionError(f"docker kept losing containers of {app_id} while listing them")


# The JobManager through the RM's proxy, as the user: set per test by `proxy`.
_HTTP: httpx.Client | None = None


def rest(url: str) -> Any:
    assert _HTTP is not None
    r = _HTTP.get(url)
    r.raise_for_status()
    return r.json()


def tm_outputs(jm_url: str) -> dict[str, str]:
    """Each registered TaskManager's stdout as the JobManager's REST serves it (the TM in its container
    sends it over its RPC connection)."""
    assert _HTTP is not None
    return {t["id"]: _HTTP.get(f"{jm_url}/taskmanagers/{t['id']}/stdout").text
            for t in rest(jm_url + "/taskmanagers")["taskmanagers"]}


@pytest.fixture
def proxy(compose_cluster: ComposeCluster) -> Iterator[None]:
    """rest() and tm_outputs() as the cluster's user (the RM's proxy wants the user's token)."""
    global _HTTP
    _HTTP = compose_cluster.http
    yield
    _HTTP = None


def check_flink_containers(cluster: ComposeCluster, app_id: str, am_container: str,
                           taskmanagers: set[str]) -> None:
    """Exactly the JobManager (AM) and the TaskManagers run as Docker containers, each labelled with
    its application and container id, limited to its 1024 MB grant, as the image's `yarn` user, in its
    node's network sandbox on the cluster's network, reached at the sandbox's hostname (on the host network,
    the host's)."""
    running = app_containers(cluster, app_id)
    assert set(running) == {am_container, *taskmanagers}, sorted(running)
    nodes = cluster.node_ids()
    for name, c in running.items():
        assert c.labels[LABEL_APP] == app_id and c.labels[LABEL_CONTAINER] == name, c.labels
        assert c.labels[LABEL_NODE] in nodes, c.labels
        host = c.attrs["HostConfig"]
        assert host["Memory"] == CONTAINER_BYTES and host["MemorySwap"] == CONTAINER_BYTES, (name, host["Memory"])
        assert c.attrs["Config"]["User"] == "1000:1000" and c.labels[LABEL_NETWORK] == cluster.network
        if cluster.host_network:
            assert host["NetworkMode"] == "host", host["NetworkMode"]
            continue
        node = c.labels[LABEL_NODE]
        sandbox = cluster.engine.containers.get(sandbox_name(node))
        assert host["NetworkMode"] == f"container:{sandbox.id}", host["NetworkMode"]
        assert sandbox.labels[LABEL_NODE] == node and sandbox.status == "running"
        aliases = sandbox.attrs["NetworkSettings"]["Networks"][cluster.network]["Aliases"]
        assert sandbox_hostname(node.rsplit(":", 1)[0]) in aliases, aliases


def no_container_left(cluster: ComposeCluster, app_id: str) -> None:
    wait_for(f"every Docker container of {app_id} removed",
             lambda: not app_containers(cluster, app_id, running_only=False), timeout=30)
    # The RM hears of the last exits with the NMs' next heartbeats, which may come after the removals.
    wait_for(f"the RM counting no running container of {app_id}",
             lambda: cluster.get(f"/ws/v1/cluster/apps/{app_id}")["app"]["runningContainers"] == 0, timeout=10)


def test_flink_per_job_wordcount_in_docker_containers(compose_cluster: ComposeCluster, lines: LineServer,
                                                      tmp_path: Path, proxy: None,
                                                      yarn_logs_on_failure: None) -> None:
    """`miniflink run -t yarn-per-job -p 4` with 2 slots per TaskManager: 1 JobManager + 2 TaskManager
    Docker containers while the job runs, exact counts, SUCCEEDED, and no container left after."""
    rm = compose_cluster.rm_url
    client = subprocess.Popen(
        [sys.executable, "-m", "flink_on_yarn.cli.main", "run", "-t", "yarn-per-job", *FLINK, "-py", WORDCOUNT,
         "--hostname", lines.host, "--port", str(lines.port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
        env=flink_env(compose_cluster, tmp_path), start_new_session=True)
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(client.stdout or []), daemon=True)
    reader.start()
    try:
        app = wait_for("the Flink application's JobManager registered", lambda: next(
            (a for a in (compose_cluster.get("/ws/v1/cluster/apps")["apps"] or {}).get("app", [])
             if a["applicationType"] == "Apache Flink" and a["state"] == "RUNNING"
             and a["amRPCAddress"] not in ("", "N/A")), None), timeout=60)
        # The JobManager wants its application's secret: ask through the RM's proxy, which presents it.
        app_id, jm_url = app["id"], f"{rm}/proxy/{app['id']}"
        am_container = compose_cluster.get(f"/ws/v1/cluster/apps/{app_id}/appattempts")[
            "appAttempts"]["appAttempt"][-1]["containerId"]
        tms = wait_for("2 TaskManagers registered", lambda: len(
            t := {x["id"] for x in rest(jm_url + "/taskmanagers")["taskmanagers"]}) == 2 and t, timeout=60)
        check_flink_containers(compose_cluster, app_id, am_container, tms)
        # Each TaskManager sees its container's memory limit, not the host's, as a container-aware JVM does.
        assert {x["hardware"]["physicalMemory"] for x in rest(jm_url + "/taskmanagers")["taskmanagers"]} == {
            1024 * 1024 * 1024}
        wait_for("the counts in the TaskManagers' stdout (JobManager REST)",
                 lambda: final_counts(list(tm_outputs(jm_url).values())) == expected_lines(), timeout=30)
        lines.close()  # the socket closes: the source ends, and with it the job
        assert client.wait(timeout=60) == 0, "".join(output)
    finally:
        if client.poll() is None:
            os.killpg(client.pid, signal.SIGKILL)
            client.wait()
        reader.join(timeout=5)
    out = "".join(output)
    assert "YARN application has been deployed successfully." in out, out
    assert f"Application {app_id} FINISHED with final status SUCCEEDED" in out, out
    no_container_left(compose_cluster, app_id)
    logs = compose_cluster.aggregated_logs(app_id)
    tm_outs = {k.split()[0]: v for k, v in logs.items() if k.endswith(" taskmanager.out")}
    assert set(tm_outs) == tms, sorted(logs)
    assert final_counts(list(tm_outs.values())) == expected_lines()
    jm_log = next(v for k, v in logs.items() if k.startswith(am_container) and k.endswith(" jobmanager.log"))
    assert "Requesting new TaskManager container with <memory:1024, vCores:1>" in jm_log, jm_log


def test_flink_killed_taskmanager_container_is_replaced(compose_cluster: ComposeCluster, lines: LineServer,
                                                        tmp_path: Path, proxy: None,
                                                        yarn_logs_on_failure: None) -> None:
    """A streaming per-job job with a fixed-delay restart strategy: `docker kill` one TaskManager's
    container, YARN reports it completed, the JobManager asks for a new one, the job restarts and
    counts exactly again; cancel ends the application KILLED and leaves no container."""
    rm = compose_cluster.rm_url
    env = flink_env(compose_cluster, tmp_path)
    res = subprocess.run(
        [sys.executable, "-m", "flink_on_yarn.cli.main", "run", "-t", "yarn-per-job", "-d", *FLINK,
         "-D", "restart-strategy=fixed-delay", "-D", "restart-strategy.fixed-delay.attempts=3",
         "-D", "restart-strategy.fixed-delay.delay=500 ms", "-py", WORDCOUNT,
         "--hostname", lines.host, "--port", str(lines.port)],
        capture_output=True, text=True, timeout=90, cwd=ROOT, env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    job_id = res.stdout.split("JobID ")[1].split()[0]
    app_id = res.stdout.split("Submitted application ")[1].split()[0]
    jm_url = f"{rm}/proxy/{app_id}"  # the RM's proxy presents the application's secret to the JobManager
    am_container = compose_cluster.get(f"/ws/v1/cluster/apps/{app_id}/appattempts")[
        "appAttempts"]["appAttempt"][-1]["containerId"]
    tms = {t["id"] for t in rest(jm_url + "/taskmanagers")["taskmanagers"]}
    assert len(tms) == 2, tms
    check_flink_containers(compose_cluster, app_id, am_container, tms)
    wait_for("first counts", lambda: final_counts(list(tm_outputs(jm_url).values())) == expected_lines(), timeout=30)

    victim, survivor = sorted(tms)
    before = len(tm_outputs(jm_url)[survivor])
    compose_cluster.engine.containers.get(victim).kill()  # docker kill: SIGKILL, as a crashed host would
    new_tms = wait_for("a replacement TaskManager registered", lambda: len(
        t := {x["id"] for x in rest(jm_url + "/taskmanagers")["taskmanagers"]}) == 2 and victim not in t and t,
        timeout=60)
    [replacement] = new_tms - tms
    wait_for("the replacement's Docker container, the victim's gone", lambda: set(
        app_containers(compose_cluster, app_id)) == {am_container, *new_tms}, timeout=30)
    check_flink_containers(compose_cluster, app_id, am_container, new_tms)
    wait_for("the job running again", lambda: rest(f"{jm_url}/jobs/{job_id}")["state"] == "RUNNING", timeout=30)
    # The restarted job's 4 subtasks run on the survivor and the replacement and count from scratch.
    wait_for("exact counts after the restart", lambda: (outs := tm_outputs(jm_url)) and (
        len(outs[survivor]) > before or final_counts([outs[replacement]]))
        and final_counts(list(outs.values())) == expected_lines(), timeout=30)
    history = rest(jm_url + "/resourcemanager/allocation-history")["events"]
    assert sum(1 for e in history if e["event"] == "taskmanager-registered") == 3, history

    res = subprocess.run([sys.executable, "-m", "flink_on_yarn.cli.main", "cancel", "-yid", app_id, job_id],
                         capture_output=True, text=True, timeout=60, cwd=ROOT, env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    app = compose_cluster.wait_app_done(app_id, timeout=60)
    assert app["finalStatus"] == "KILLED", app
    no_container_left(compose_cluster, app_id)


def test_crashed_nodemanager_comes_back_as_the_same_node(compose_cluster: ComposeCluster) -> None:
    """SIGKILL of an NM container's init from the host (a crash; `docker kill` would count as a stop):
    its restart policy starts it again under the same node id, `<hostname>:8042`; that life removes the
    YARN container and sweeps the work area the killed one left, and the RM still lists 3 nodes, not 4."""
    if compose_cluster.host_network:
        pytest.skip("the host-network variant's NMs take a free port: a restarted NM is a new node there")
    before = compose_cluster.node_ids()
    assert len(before) == 3 and all(n.endswith(":8042") for n in before), before
    app_id = compose_cluster.submit_ds("sleep 600\n", containers=1, name="sleeper")
    shell = wait_for("the shell's Docker container running", lambda: next(
        (c for c in app_containers(compose_cluster, app_id).values() if not c.name.endswith("_000001")), None),
        timeout=60)
    node = shell.labels[LABEL_NODE]
    [nm] = [c for c in compose_cluster.containers("nodemanager") if f"{c.attrs['Config']['Hostname']}:8042" == node]
    area = Path(compose_cluster.env["MINIYARN_HOST_DIR"]) / f"nm-{nm.attrs['Config']['Hostname']}"
    assert [p for p in area.rglob(shell.name) if p.is_dir()], f"no work dir of {shell.name} under {area}"
    os.kill(int(nm.attrs["State"]["Pid"]), signal.SIGKILL)

    def restarted() -> bool:
        nm.reload()
        return bool(nm.attrs["RestartCount"] >= 1 and nm.attrs["State"].get("Health", {}).get("Status") == "healthy")

    wait_for("the NodeManager restarted by its policy, healthy", restarted, timeout=60)
    wait_for(f"the YARN container {shell.name} of the NM's earlier life removed",
             lambda: shell.name not in app_containers(compose_cluster, app_id, running_only=False), timeout=30)
    assert not [p for p in area.rglob(shell.name)], f"{shell.name}'s dirs outlived its NM under {area}"
    wait_for("the same 3 nodes RUNNING", lambda: {n["id"] for n in (compose_cluster.get(
        "/ws/v1/cluster/nodes", states="RUNNING")["nodes"] or {}).get("node", [])} == before, timeout=30)
    assert compose_cluster.node_ids() == before
    killed = compose_cluster.http.put(f"/ws/v1/cluster/apps/{app_id}/state", json={"state": "KILLED"})
    assert killed.status_code in (200, 202), killed.text
    assert compose_cluster.wait_app_done(app_id, timeout=60)["state"] in ("KILLED", "FAILED")
    no_container_left(compose_cluster, app_id)


def test_restart_keeps_yarn_state(compose_cluster: ComposeCluster) -> None:
    """Redis writes an append-only file on its volume: after `restart` the RM recovers every application
    (state, final status, diagnostics) from it, and the NodeManagers register again."""
    def apps() -> dict[str, tuple[str, str]]:
        got = compose_cluster.get("/ws/v1/cluster/apps")["apps"]
        return {a["id"]: (a["state"], a["finalStatus"]) for a in (got["app"] if got else [])}

    before = apps()
    assert before, "the tests before this one ran applications"
    compose_cluster.compose("restart", timeout=180)
    compose_cluster.wait_healthy(6, timeout=150)
    wait_for("3 RUNNING nodes again", lambda: len(compose_cluster.get(
        "/ws/v1/cluster/nodes", states="RUNNING")["nodes"]["node"]) == 3, timeout=60)
    assert apps() == before


# ---- compose's security: the cluster's secrets stay with the daemons ------------------------------------

# Run in a YARN container: what a task's code could try against Redis with what its environment holds.
PROBE = '''env >"$LOG_DIRS/env.txt"
$PYTHON - <<'PY'
import socket
# A bare connection, RESP by hand: what any code in the container can do with no credential.
tries = {{"ping": "PING", "keys": "KEYS *", "get": "GET yarn:rm:state", "rpush": "RPUSH yarn:rm:inbox x",
         "auth-default": 'AUTH default ""', "hello": "HELLO 3"}}
with socket.create_connection(("{host}", {port}), timeout=5) as s:
    f = s.makefile("rb")
    for name, command in tries.items():
        s.sendall(command.encode() + b"\\r\\n")
        print(name, f.readline().decode().strip())
PY
'''


def test_yarn_container_holds_no_redis_credential(compose_cluster: ComposeCluster) -> None:
    """Inside a YARN container on compose: no Redis password in its environment, and a bare Redis
    connection (`default` is off) can neither read, write, nor log in as `default`."""
    host, port = compose_cluster.redis_address_for_containers
    app_id = compose_cluster.submit_ds(PROBE.format(host=host, port=port), containers=1, name="probe")
    app = compose_cluster.wait_app_done(app_id)
    assert app["finalStatus"] == "SUCCEEDED", app
    logs = compose_cluster.aggregated_logs(app_id)
    [env] = [v for k, v in logs.items() if k.endswith(" env.txt")]
    [out] = [v for k, v in logs.items() if k.endswith(" stdout") and "ping " in v]
    assert "CONTAINER_ID=" in env, env
    for role in ("rm", "nm"):
        password = compose_cluster.compose("exec", "-T", "resourcemanager", "cat",
                                           f"/credentials/redis-{role}.password").stdout.strip()
        assert len(password) == 64 and password not in env, f"redis-{role}.password in a container's environment"
    assert not [line for line in env.splitlines() if line.startswith("MINIYARN_REDIS_URL=") and "@" in line], env
    results = dict(line.split(" ", 1) for line in out.splitlines())
    for name in ("ping", "keys", "get", "rpush"):
        assert results[name] == "-NOAUTH Authentication required.", out
    assert results["hello"].startswith("-NOAUTH"), out
    assert results["auth-default"].startswith("-WRONGPASS"), out


def test_rm_rest_wants_a_token(compose_cluster: ComposeCluster) -> None:
    """Compose's RM runs with token auth: no token, or a forged one, is YARN's 401 RemoteException."""
    bare = httpx.get(f"{compose_cluster.rm_url}/ws/v1/cluster/apps", timeout=5)
    assert bare.status_code == 401, bare.text
    assert bare.json()["RemoteException"]["exception"] == "AuthenticationException", bare.text
    assert bare.headers["WWW-Authenticate"].startswith("Bearer")
    forged = compose_cluster.token[:-4] + ("AAAA" if not compose_cluster.token.endswith("AAAA") else "BBBB")
    r = httpx.get(f"{compose_cluster.rm_url}/ws/v1/cluster/apps", headers={"Authorization": f"Bearer {forged}"},
                  timeout=5)
    assert r.status_code == 401, r.text
    assert httpx.get(f"{compose_cluster.rm_url}/health", timeout=5).status_code == 200
    assert compose_cluster.http.get("/ws/v1/cluster/apps").status_code == 200
