"""The Docker executor against a real engine: a host NodeManager with `--executor docker` (or one
container asking for YARN_CONTAINER_RUNTIME_TYPE=docker) starts sibling containers with labels and
limits, reports the engine's OOM kill as -104, and fails a bad image or mount with a diagnostic while
it keeps running."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from miniyarn.ids import sandbox_hostname
from nodemanager.executor.docker_spec import sandbox_name
from tests.conftest import Processes, admin_url, logs_aggregated
from tests.e2e.conftest import Sweeper
from tests.nodemanager.integration.conftest import NM, cid, start_nm, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def docker_nm(processes: Processes, redis_url: str, sweeper: Sweeper, image: str, executor: str = "docker") -> NM:
    nm = start_nm(processes, redis_url, extra=["--executor", executor, "-D",
                                               f"yarn.nodemanager.runtime.linux.docker.image-name={image}"])
    sweeper.nodes.add(nm.node_id)
    return nm


def test_containers_run_as_labelled_limited_siblings(redis_url: str, processes: Processes, sweeper: Sweeper,
                                                     image: str) -> None:
    nm = docker_nm(processes, redis_url, sweeper, image)
    nm.start(cid(2), ["echo hello from $CONTAINER_ID as $(id -u) on $NM_HOST; sleep 60"], memory=256)
    nm.wait_state(cid(2), "RUNNING")
    [c] = wait_for("the Docker container", lambda: sweeper.containers(nm.node_id), timeout=20)
    c.reload()
    assert c.status == "running"
    assert c.labels["miniyarn.container-id"] == cid(2)
    assert c.labels["miniyarn.application-id"] == cid(2).replace("container_", "application_")[:-10]
    assert c.labels["miniyarn.node-id"] == nm.node_id
    host = c.attrs["HostConfig"]
    assert host["Memory"] == 256 * 1024 * 1024 and host["NetworkMode"] == "host"
    assert host["NanoCpus"] == 10**9
    assert all("docker.sock" not in b for b in host.get("Binds") or [])
    assert c.attrs["Config"]["User"] != "" and not c.attrs["Config"]["User"].startswith("0")
    # Its stdout is the file the NM serves, at the same path as on the host.
    out = wait_for("stdout", lambda: "hello" in (t := nm.get(f"/node/containerlogs/{cid(2)}/alice/stdout").text)
                   and t, timeout=10)
    assert f"hello from {cid(2)} as 1000 on" in out
    nm.stop(cid(2))
    done = nm.wait_state(cid(2), "COMPLETE", timeout=20)
    assert done["exit_status"] == -105, done
    wait_for("the Docker container removed", lambda: not sweeper.containers(nm.node_id), timeout=10)


def test_engine_oom_kill_is_minus_104(redis_url: str, processes: Processes, sweeper: Sweeper, image: str) -> None:
    nm = docker_nm(processes, redis_url, sweeper, image)
    nm.start(cid(3), ['$PYTHON -c "b = bytearray(400 * 1024 * 1024); import time; time.sleep(30)"'], memory=64)
    done = nm.wait_state(cid(3), "COMPLETE", timeout=60)
    assert done["exit_status"] == -104, done
    assert "running beyond the 'PHYSICAL' memory limit" in done["diagnostics"]
    assert "64 MB of 64 MB physical memory used" in done["diagnostics"]


def test_bad_image_and_bad_mount_fail_the_container_not_the_nm(redis_url: str, processes: Processes,
                                                               sweeper: Sweeper, image: str) -> None:
    nm = docker_nm(processes, redis_url, sweeper, image)
    nm.start(cid(4), ["true"], env={"YARN_CONTAINER_RUNTIME_DOCKER_IMAGE": "miniyarn-no-such-image:0"})
    bad = nm.wait_state(cid(4), "COMPLETE", timeout=20)
    assert bad["exit_status"] == -1000, bad
    assert "Docker image 'miniyarn-no-such-image:0' is not on the Docker engine" in bad["diagnostics"]
    nm.start(cid(5), ["true"], env={"YARN_CONTAINER_RUNTIME_DOCKER_MOUNTS": "/etc:/host-etc:ro"})
    refused = nm.wait_state(cid(5), "COMPLETE", timeout=20)
    assert refused["exit_status"] == -1000, refused
    assert "Mount /etc:/host-etc:ro is outside the dirs this NodeManager allows" in refused["diagnostics"]
    nm.start(cid(6), ["true"], env={"YARN_CONTAINER_RUNTIME_DOCKER_MOUNTS": "/var/run:/x:ro"})
    sock = nm.wait_state(cid(6), "COMPLETE", timeout=20)
    assert "Docker socket" in sock["diagnostics"], sock
    assert nm.get("/health").status_code == 200
    nm.start(cid(7), ["exit 3"])
    assert nm.wait_state(cid(7), "COMPLETE", timeout=30)["exit_status"] == 3


def test_one_container_asks_for_docker_on_a_process_nm(redis_url: str, processes: Processes, sweeper: Sweeper,
                                                       image: str) -> None:
    nm = docker_nm(processes, redis_url, sweeper, image, executor="process")
    nm.start(cid(8), ["test -d /opt/miniyarn && sleep 60"], env={"YARN_CONTAINER_RUNTIME_TYPE": "docker"})
    nm.start(cid(9), ["test ! -d /opt/miniyarn"])
    assert nm.wait_state(cid(9), "COMPLETE", timeout=20)["exit_status"] == 0
    nm.wait_state(cid(8), "RUNNING")
    [c] = wait_for("the Docker container", lambda: sweeper.containers(nm.node_id), timeout=20)
    assert c.labels["miniyarn.container-id"] == cid(8)
    nm.app_finished()
    assert nm.wait_state(cid(8), "COMPLETE", timeout=20)["exit_status"] == -107


def test_distributed_shell_runs_in_docker_containers(redis_url: str, processes: Processes, sweeper: Sweeper,
                                                     image: str) -> None:
    """DistributedShell end to end with a real RM: its AM and its 3 shell containers are Docker
    containers; their output reaches Redis through log aggregation as with the process executor."""
    import redis

    from miniyarn import keys
    from miniyarn.redisconn import text
    from tests.integration.conftest import Cluster, start_rm, submit_ds

    cluster = Cluster(redis_url, start_rm(processes, redis_url), processes)
    nm = docker_nm(processes, redis_url, sweeper, image)
    wait_for("the NM RUNNING at the RM", lambda: cluster.running_nodes(), timeout=20)
    r = redis.Redis.from_url(admin_url(redis_url))
    app_id = submit_ds(cluster.rm_url, redis_url,
                       "echo hello from $CONTAINER_ID in $(test -d /opt/miniyarn && echo docker)\n", name="ds-docker")
    seen = wait_for("Docker containers of the app", lambda: len(sweeper.containers(nm.node_id)) >= 1, timeout=30)
    assert seen
    report = cluster.wait_app_state(app_id, "FINISHED", "FAILED", "KILLED", timeout=90)
    assert (report["state"], report["finalStatus"]) == ("FINISHED", "SUCCEEDED"), report
    wait_for("logs aggregated", lambda: logs_aggregated(r, app_id))
    logs = {text(k): text(v) for k, v in r.hgetall(keys.app_logs(app_id)).items()}
    hellos = [k for k, v in logs.items() if k.endswith(" stdout") and v == f"hello from {k.split()[0]} in docker\n"]
    assert len(hellos) == 3, logs
    wait_for("no containers left", lambda: not sweeper.containers(nm.node_id), timeout=20)


def test_orphans_of_this_node_are_removed_at_start(redis_url: str, processes: Processes, sweeper: Sweeper,
                                                   image: str, engine) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import free_port

    port = free_port()
    node_id = f"127.0.0.1:{port}"
    sweeper.nodes.add(node_id)
    orphan = engine.containers.run(image, ["sleep", "300"], detach=True, labels={
        "miniyarn.node-id": node_id, "miniyarn.container-id": cid(10)}, name=f"miniyarn-orphan-{port}")
    other = engine.containers.run(image, ["sleep", "300"], detach=True, labels={
        "miniyarn.node-id": f"127.0.0.1:{port + 1}"}, name=f"miniyarn-other-{port}")
    try:
        nm = start_nm(processes, redis_url, extra=["--executor", "docker", "--port", str(port)])
        assert nm.node_id == node_id
        wait_for("the orphan removed", lambda: not sweeper.containers(node_id), timeout=15)
        other.reload()
        assert other.status == "running"  # another node's containers are not ours to remove
    finally:
        for c in (orphan, other):
            try:
                c.remove(force=True)
            except Exception:
                pass


def test_engine_that_does_not_answer_fails_the_container(redis_url: str, processes: Processes, sweeper: Sweeper,
                                                         tmp_path: Path) -> None:
    import re

    processes.start("nm", ["-m", "nodemanager", "--redis-url", redis_url, "--port", "0", "--executor", "docker",
                           "-D", "yarn.resourcemanager.nodemanagers.heartbeat-interval-ms=200"],
                    env={"DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock"})
    line = wait_for("the NodeManager to start",
                    lambda: re.search(r"NodeManager (\S+) started", processes.log("nm")), timeout=15)
    import redis as redis_lib

    nm = NM(line.group(1), redis_lib.Redis.from_url(admin_url(redis_url)), processes, "nm")
    nm.start(cid(11), ["true"])
    done = nm.wait_state(cid(11), "COMPLETE", timeout=20)
    assert done["exit_status"] == -1000, done
    assert "does not answer" in done["diagnostics"] and "no-docker.sock" in done["diagnostics"]
    assert nm.get("/health").status_code == 200


@pytest.fixture
def bridge(engine):  # type: ignore[no-untyped-def]
    """A Docker bridge network of this test's own, removed after it (with anything the test left on it)."""
    net = engine.networks.create(f"miniyarn-e2e-sandbox-{os.getpid()}", driver="bridge")
    yield net.name
    for c in engine.containers.list(all=True, filters={"label": f"miniyarn.network={net.name}"}):
        c.remove(force=True)
    net.remove()


def test_on_a_bridge_network_a_nodes_containers_share_its_sandbox(redis_url: str, processes: Processes,
                                                                  sweeper: Sweeper, image: str, engine,  # type: ignore[no-untyped-def]
                                                                  bridge: str) -> None:
    """The NM starts its network sandbox when it starts (before any container), on the network, with the
    node's hostname; each container joins its namespace (no network of its own), has that hostname as
    $NM_HOST, and the network's DNS resolves it; a graceful stop removes the sandbox with the containers."""
    nm = start_nm(processes, redis_url, extra=[
        "--executor", "docker", "-D", f"yarn.nodemanager.runtime.linux.docker.image-name={image}",
        "-D", f"yarn.nodemanager.runtime.linux.docker.default-container-network={bridge}"])
    sweeper.nodes.add(nm.node_id)
    # Started with the NM (beside its registration), not with the first container.
    [sandbox] = wait_for("the node's network sandbox", lambda: sweeper.containers(nm.node_id), timeout=20)
    assert sandbox.name == sandbox_name(nm.node_id) and sandbox.status == "running"
    host = sandbox_hostname(nm.node_id.rsplit(":", 1)[0])
    assert host in sandbox.attrs["NetworkSettings"]["Networks"][bridge]["Aliases"]
    for n in (2, 3):
        nm.start(cid(n), ['echo "on $NM_HOST as $(hostname), resolved $(getent hosts $NM_HOST | cut -d" " -f1)"; '
                          "sleep 60"], memory=256)
    for n in (2, 3):
        nm.wait_state(cid(n), "RUNNING")
        c = engine.containers.get(cid(n))
        assert c.attrs["HostConfig"]["NetworkMode"] == f"container:{sandbox.id}"
        assert c.labels["miniyarn.network"] == bridge
        ip = sandbox.attrs["NetworkSettings"]["Networks"][bridge]["IPAddress"]
        out = wait_for("stdout", lambda n=n: "resolved" in (
            t := nm.get(f"/node/containerlogs/{cid(n)}/alice/stdout").text) and t, timeout=10)
        assert f"on {host} as {host}, resolved {ip}" in out, out
    processes.stop_all()  # SIGTERM: the NM ends its containers, then its sandbox
    assert not sweeper.containers(nm.node_id)
