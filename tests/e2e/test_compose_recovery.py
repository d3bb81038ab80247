"""compose.yaml with MINIYARN_NM_RECOVERY=true: a NodeManager crashed (SIGKILL of its container's init) during a
per-job word count comes back by its restart policy as the same node and takes back, by their Docker labels,
the JobManager and TaskManager containers it ran (the same Docker containers, never replaced); the job ends
SUCCEEDED with exact counts, and `down -v` leaves nothing (the compose_cluster fixture checks)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from nodemanager.executor.docker_spec import LABEL_NODE
from tests.e2e.conftest import ComposeCluster, compose_env, compose_up
from tests.e2e.test_compose import FLINK, WORDCOUNT, app_containers, flink_env
from tests.flink_yarn.conftest import final_counts
from tests.flink_yarn.integration.test_modes import LINES, expected_lines
from tests.integration.conftest import wait_for
from tests.line_server import LineServer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def recovering_cluster(engine, image: str, tmp_path_factory: pytest.TempPathFactory,  # type: ignore[no-untyped-def]
                       request: pytest.FixtureRequest) -> Iterator[ComposeCluster]:
    project = f"miniyarn-e2e-rec-{os.getpid()}"
    env = {**compose_env(tmp_path_factory.mktemp("compose-rec"), project), "MINIYARN_NM_RECOVERY": "true",
           # Longer than an NM's restart on a loaded machine: else the RM declares the node LOST first and
           # completes its containers, which the restarted NM then rightly refuses to take back.
           "MINIYARN_NM_EXPIRY_MS": "60000"}
    cluster = ComposeCluster(project, env, engine)
    with compose_up(cluster, engine, request, host_dir=Path(env["MINIYARN_HOST_DIR"])):
        yield cluster


def test_crashed_nm_takes_back_its_flink_containers(recovering_cluster: ComposeCluster, tmp_path: Path) -> None:
    cluster = recovering_cluster
    lines = LineServer(LINES, host=cluster.host_address_for_containers)
    client = subprocess.Popen(
        [sys.executable, "-m", "flink_on_yarn.cli.main", "run", "-t", "yarn-per-job", *FLINK, "-py", WORDCOUNT,
         "--hostname", lines.host, "--port", str(lines.port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT, env=flink_env(cluster, tmp_path),
        start_new_session=True)
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(client.stdout or []), daemon=True)
    reader.start()
    try:
        app = wait_for("the Flink application RUNNING", lambda: next(
            (a for a in (cluster.get("/ws/v1/cluster/apps")["apps"] or {}).get("app", [])
             if a["applicationType"] == "Apache Flink" and a["state"] == "RUNNING"), None), timeout=60)
        app_id = app["id"]
        jm_url = f"/proxy/{app_id}"

        def tm_outputs() -> list[str]:
            tms = cluster.get(jm_url + "/taskmanagers")["taskmanagers"]
            return [cluster.http.get(f"{jm_url}/taskmanagers/{t['id']}/stdout").text for t in tms]

        wait_for("the counts so far", lambda: final_counts(tm_outputs()) == expected_lines(), timeout=90)
        running = app_containers(cluster, app_id)
        assert len(running) == 3, sorted(running)  # the JobManager and 2 TaskManagers
        before = {name: c.id for name, c in running.items()}
        # The NM running the JobManager (the AM) crashes: its containers keep running under Docker.
        am = next(c for name, c in running.items() if name.endswith("_000001"))
        node = am.labels[LABEL_NODE]
        [nm] = [c for c in cluster.containers("nodemanager") if f"{c.attrs['Config']['Hostname']}:8042" == node]
        mine = sorted(name for name, c in running.items() if c.labels[LABEL_NODE] == node)
        os.kill(int(nm.attrs["State"]["Pid"]), signal.SIGKILL)

        def restarted() -> bool:
            nm.reload()
            return bool(nm.attrs["RestartCount"] >= 1
                        and nm.attrs["State"].get("Health", {}).get("Status") == "healthy")

        wait_for("the NodeManager restarted by its policy, healthy", restarted, timeout=90)
        logs = cluster.compose("logs", "--no-color", "nodemanager").stdout
        for name in mine:
            assert f"Recovered container {name}" in logs, logs[-4000:]
        # The same Docker containers run on: none was removed, replaced or restarted.
        assert {n: c.id for n, c in app_containers(cluster, app_id).items()} == before
        assert len(cluster.node_ids()) == 3
        lines.close()  # the source ends, and with it the job
        assert client.wait(timeout=90) == 0, "".join(output)
    finally:
        lines.close()
        if client.poll() is None:
            os.killpg(client.pid, signal.SIGKILL)
            client.wait()
        reader.join(timeout=5)
    out = "".join(output)
    assert f"Application {app_id} FINISHED with final status SUCCEEDED" in out, out
    wait_for(f"every Docker container of {app_id} removed",
             lambda: not app_containers(cluster, app_id, running_only=False), timeout=60)
    tm_outs = [v for k, v in cluster.aggregated_logs(app_id).items() if k.endswith(" taskmanager.out")]
    assert len(tm_outs) == 2 and final_counts(tm_outs) == expected_lines()
