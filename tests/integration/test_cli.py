"""The `miniyarn` CLI against a real RM and two real NMs: DistributedShell and its logs, kill, and
the `yarn` command's output shapes (application -list/-status, node -list, queue -status)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
import redis

from miniyarn.cli.main import main
from tests.conftest import alive, free_port, logs_aggregated
from tests.integration.conftest import Cluster, submit_ds, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


def cli(capsys: pytest.CaptureFixture[str], c: Cluster, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    extra = ["--rm-address", c.rm_url]
    if argv[0] in ("logs",):
        extra += ["--redis-url", c.admin_url]
    code = main([*argv, *extra])
    out, err = capsys.readouterr()
    return code, out, err


def test_distributed_shell_succeeds_and_logs_show_each_container(cluster: Cluster,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, cluster, "distributed-shell", "-shell_command", "echo hello from $CONTAINER_ID",
                       "-num_containers", "3", "-container_memory", "128")
    assert code == 0, out
    assert "Application completed successfully" in out
    app_id = re.search(r"Submitting application (application_\d+_\d+)", out).group(1)  # type: ignore[union-attr]
    r = redis.Redis.from_url(cluster.admin_url)
    wait_for("logs aggregated", lambda: logs_aggregated(r, app_id))

    code, out, err = cli(capsys, cluster, "logs", "-applicationId", app_id)
    assert code == 0, err
    workers = sorted(set(re.findall(r"hello from (container_\S+)", out)))
    assert len(workers) == 3 and all(not w.endswith("_000001") for w in workers), out
    for cid in workers:
        assert re.search(rf"Container: {cid} on 127\.0\.0\.1_\d+\nLogAggregationType: AGGREGATED\n=+\n"
                         rf"LogType:stdout\nLogLastModifiedTime:.+\nLogLength:{len(f'hello from {cid}') + 1}\n"
                         rf"LogContents:\nhello from {cid}\n\nEnd of LogType:stdout\n\*+\n", out), out
    assert "LogType:AppMaster.stdout" in out

    code, out, _ = cli(capsys, cluster, "logs", "-applicationId", app_id, "-containerId", workers[0],
                       "-log_files", "stdout")
    assert code == 0 and out.count("Container: ") == 1 and f"hello from {workers[0]}" in out
    code, out, _ = cli(capsys, cluster, "logs", "-applicationId", app_id, "-am", "1")
    assert code == 0 and set(re.findall(r"Container: (\S+)", out)) == {app_id.replace("application", "container")
                                                                     + "_01_000001"}, out
    assert "LogType:AppMaster.stdout" in out and "hello from" not in out
    code, _, err = cli(capsys, cluster, "logs", "-applicationId", app_id, "-am", "0")
    assert code == 255 and err.startswith("Invalid input for option -am.")
    code, _, err = cli(capsys, cluster, "logs", "-applicationId", app_id.replace("_0001", "_0099"))
    assert code == 255 and err.startswith("Can not find the logs for the application: ") and err.count("\n") == 1


# Unregisters, then takes its time to exit: the window in which YARN reports the app FINISHED (RMAppState
# FINISHING) while the AM container still runs and no node has uploaded anything.
LINGERING_AM = """
import time
from miniyarn.client.amrm_client import AMRMClient
from miniyarn.states.application import FinalApplicationStatus
am = AMRMClient()
am.register(host="127.0.0.1")
print("unregistering, then exiting slowly", flush=True)
am.unregister(FinalApplicationStatus.SUCCEEDED, "")
time.sleep(3)
"""


def test_logs_of_an_app_whose_am_is_still_exiting_come_from_the_node(
        cluster: Cluster, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    script = tmp_path / "lingering_am.py"
    script.write_text(LINGERING_AM)
    app_id = str(httpx.post(f"{cluster.rm_url}/ws/v1/cluster/apps/new-application").json()["application-id"])
    body = {"application-id": app_id, "application-name": "lingering", "application-type": "YARN",
            "resource": {"memory": 128, "vCores": 1}, "max-app-attempts": 1,
            "am-container-spec": {"commands": {"command": f"$PYTHON {script} 1><LOG_DIR>/AppMaster.stdout "
                                                          "2><LOG_DIR>/AppMaster.stderr"}}}
    assert httpx.post(f"{cluster.rm_url}/ws/v1/cluster/apps", json=body).status_code == 202
    exiting = wait_for("FINISHED with the AM still running", lambda: (a := cluster.app(app_id))["state"] == "FINISHED"
                       and a["finishedTime"] == 0 and a)
    assert exiting["runningContainers"] == 1

    code, out, err = cli(capsys, cluster, "logs", "-applicationId", app_id, "-log_files", "AppMaster.stdout")
    assert code == 0, err
    assert "LogAggregationType: LOCAL" in out and "unregistering, then exiting slowly" in out, out

    cluster.wait_app_state(app_id, "FINISHED")
    r = redis.Redis.from_url(cluster.admin_url)
    wait_for("logs aggregated", lambda: logs_aggregated(r, app_id))
    r.close()
    code, out, err = cli(capsys, cluster, "logs", "-applicationId", app_id, "-log_files", "AppMaster.stdout")
    assert code == 0, err
    assert "LogAggregationType: AGGREGATED" in out and "unregistering, then exiting slowly" in out, out


def report_fields(out: str, title: str) -> dict[str, str]:
    """A `yarn ... -status` report: its title line, then `\tName : value` lines."""
    lines = out.splitlines()
    assert lines[0] == title, out
    return dict(line.lstrip("\t").split(" : ", 1) for line in lines[1:] if line.startswith("\t"))


def nm_containers(c: Cluster) -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    for node in c.running_nodes():
        body = httpx.get(f"http://{node['nodeHTTPAddress']}/ws/v1/node/containers", timeout=5).json()
        for item in (body.get("containers") or {}).get("container") or []:
            out[str(item["id"])] = item
    return out


def test_kill_running_application_stops_its_containers(cluster: Cluster, capsys: pytest.CaptureFixture[str]) -> None:
    app_id = submit_ds(cluster.rm_url, cluster.redis_url, "echo started; sleep 60", 2, name="sleepers")
    wait_for("AM + 2 containers running", lambda: cluster.app(app_id)["runningContainers"] == 3)

    def running_pids() -> list[int] | None:
        pids = [int(str(v["pid"])) for v in nm_containers(cluster).values() if v["state"] == "RUNNING" and v["pid"]]
        return pids if len(pids) == 3 else None

    pids: list[int] = wait_for("3 container processes", running_pids)

    code, out, _ = cli(capsys, cluster, "application", "-list")
    assert code == 0 and app_id in out and "RUNNING" in out
    code, out, _ = cli(capsys, cluster, "logs", "-applicationId", app_id, "-log_files", "stdout")
    assert code == 0 and out.count("LogAggregationType: LOCAL") == 3 and out.count("started\n") == 2, out

    attempt_id = app_id.replace("application_", "appattempt_") + "_000001"
    am_container = app_id.replace("application_", "container_") + "_01_000001"
    code, out, _ = cli(capsys, cluster, "applicationattempt", "-list", app_id)
    lines = out.splitlines()
    assert code == 0 and lines[0] == "Total number of application attempts :1"
    assert [h.strip() for h in lines[1].split("\t")] == ["ApplicationAttempt-Id", "State", "AM-Container-Id",
                                                         "Tracking-URL"]
    assert [f.strip() for f in lines[2].split("\t")][:3] == [attempt_id, "RUNNING", am_container]
    code, out, _ = cli(capsys, cluster, "applicationattempt", "-status", attempt_id)
    fields = report_fields(out, "Application Attempt Report : ")
    assert code == 0 and (fields["State"], fields["AMContainer"]) == ("RUNNING", am_container)

    code, out, _ = cli(capsys, cluster, "container", "-list", attempt_id)
    lines = out.splitlines()
    assert code == 0 and lines[0] == "Total number of containers :3"
    assert [h.strip() for h in lines[1].split("\t")] == ["Container-Id", "Start Time", "Finish Time", "State", "Host",
                                                         "Node Http Address", "LOG-URL"]
    rows = [[f.strip() for f in line.split("\t")] for line in lines[2:]]
    assert all(r[2] == "N/A" and r[3] == "RUNNING" and r[5] == f"http://{r[4]}" and "/node/" in r[6] for r in rows)
    assert re.fullmatch(r"\w{3} \w{3} \d\d \d\d:\d\d:\d\d [+-]\d{4} \d{4}", rows[0][1]), rows[0]
    worker = next(r[0] for r in rows if r[0] != am_container)
    code, out, _ = cli(capsys, cluster, "container", "-status", worker)
    fields = report_fields(out, "Container Report : ")
    assert code == 0 and (fields["State"], fields["Finish-Time"], fields["Exit Status"]) == ("RUNNING", "0", "N/A")
    assert fields["Resource"] == "<memory:128, vCores:1>" and fields["LOG-URL"].startswith(cluster.rm_url)
    code, _, err = cli(capsys, cluster, "container", "-status", am_container[:-2] + "99")
    assert code == 255 and err == f"Container with id '{am_container[:-2]}99' doesn't exist in RM.\n"
    code, _, err = cli(capsys, cluster, "applicationattempt", "-status", attempt_id[:-1] + "2")
    assert code == 255 and err == f"Application Attempt with id '{attempt_id[:-1]}2' doesn't exist in RM.\n"
    code, _, err = cli(capsys, cluster, "container", "-list", "appattempt_1_0001_000001")
    assert code == 255 and err == "Application for AppAttempt with id 'appattempt_1_0001_000001' doesn't exist in RM.\n"
    code, _, err = cli(capsys, cluster, "container", "-status", "not_a_container")
    assert code == 255 and err.count("\n") == 1 and "not_a_container" in err

    code, out, _ = cli(capsys, cluster, "application", "-kill", app_id)
    assert code == 0
    assert out == f"Killing application {app_id}\nKilled application {app_id}\n"
    report = cluster.app(app_id)
    assert (report["state"], report["finalStatus"]) == ("KILLED", "KILLED")
    wait_for("container processes gone", lambda: not alive(set(pids)), timeout=10)
    wait_for("no running containers", lambda: cluster.app(app_id)["runningContainers"] == 0)
    code, out, _ = cli(capsys, cluster, "application", "-kill", app_id)
    assert code == 0 and out == f"Application {app_id} has already finished \n"
    code, out, _ = cli(capsys, cluster, "container", "-status", worker)
    fields = report_fields(out, "Container Report : ")
    assert code == 0 and fields["State"] == "COMPLETE" and fields["Finish-Time"] != "0"
    assert int(fields["Exit Status"]) < 0, fields  # killed with the application: a negative ContainerExitStatus


def test_output_shapes_of_list_status_node_and_queue(cluster: Cluster, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, cluster, "application", "-list")
    lines = out.splitlines()
    assert code == 0 and lines[0] == ("Total number of applications (application-types: [], states: "
                                      "[SUBMITTED, ACCEPTED, RUNNING] and tags: []):0")
    assert [h.strip() for h in lines[1].split("\t")] == [
        "Application-Id", "Application-Name", "Application-Type", "User", "Queue", "State", "Final-State",
        "Progress", "Tracking-URL"]

    app_id = submit_ds(cluster.rm_url, cluster.redis_url, "true", 1, name="sleepers")
    cluster.wait_app_state(app_id, "FINISHED", timeout=30)
    code, out, _ = cli(capsys, cluster, "application", "-list", "-appStates", "FINISHED", "-appTypes", "yarn")
    lines = out.splitlines()
    assert lines[0] == ("Total number of applications (application-types: [YARN], states: [FINISHED] and "
                        "tags: []):1")
    row = [f.strip() for f in lines[2].split("\t")]
    assert row[:8] == [app_id, "sleepers", "YARN", row[3], "default", "FINISHED", "SUCCEEDED", "100%"]
    assert row[8].startswith(cluster.rm_url)
    code, out, _ = cli(capsys, cluster, "application", "-list", "-appStates", "bogus")
    assert code == 255 and out.startswith("The application state BOGUS is invalid.\n")

    code, out, _ = cli(capsys, cluster, "application", "-status", app_id)
    fields = report_fields(out, "Application Report : ")
    assert code == 0
    assert fields["Application-Id"] == app_id and fields["State"] == "FINISHED"
    assert fields["Final-State"] == "SUCCEEDED" and fields["Progress"] == "100%"
    assert re.fullmatch(r"\d+ MB-seconds, \d+ vcore-seconds", fields["Aggregate Resource Allocation"])
    assert fields["Running Containers"] == "0" and fields["Allocated Resource"] == "<memory:0, vCores:0>"
    for name in ("Queue", "Start-Time", "Finish-Time", "Tracking-URL", "RPC Port", "AM Host", "Diagnostics"):
        assert name in fields or f"\t{name} : " in out
    missing = app_id[:-4] + "9999"
    code, out, err = cli(capsys, cluster, "application", "-status", missing)
    assert code == 255 and err == f"Application with id '{missing}' doesn't exist in RM.\n"
    code, _, err = cli(capsys, cluster, "application", "-kill", missing)
    assert code == 255 and "doesn't exist in RM." in err

    code, out, _ = cli(capsys, cluster, "node", "-list")
    lines = out.splitlines()
    assert code == 0 and lines[0] == "Total Nodes:2"
    assert [h.strip() for h in lines[1].split("\t")] == [
        "Node-Id", "Node-State", "Node-Http-Address", "Number-of-Running-Containers"]
    assert len(lines[1].split("\t")[0]) == 16
    for line in lines[2:]:
        node, state, http, count = (f.strip() for f in line.split("\t"))
        assert state == "RUNNING" and http == node and count == "0"
    code, out, _ = cli(capsys, cluster, "node", "-list", "-states", "LOST")
    assert code == 0 and out.splitlines()[0] == "Total Nodes:0"
    code, out, _ = cli(capsys, cluster, "node", "-status", node)
    fields = report_fields(out, "Node Report : ")
    assert code == 0 and (fields["Node-Id"], fields["Rack"], fields["Node-State"]) == (node, "/default-rack", "RUNNING")
    assert (fields["Memory-Used"], fields["Memory-Capacity"], fields["CPU-Capacity"]) == ("0MB", "4096MB", "4 vcores")
    assert re.fullmatch(r"\w{3} \d\d/\w{3}/\d\d \d\d:\d\d:\d\d:\d{2,3}\w+", fields["Last-Health-Update"]), fields
    code, _, err = cli(capsys, cluster, "node", "-status", "nowhere:1")
    assert code == 255 and err == "Could not find the node report for node id : nowhere:1\n"

    code, out, _ = cli(capsys, cluster, "queue", "-status", "default")
    assert code == 0 and out.splitlines()[:6] == [
        "Queue Information : ", "Queue Name : default", "\tState : RUNNING", "\tCapacity : 100.00%",
        "\tCurrent Capacity : .00%", "\tMaximum Capacity : 100.00%"]
    assert "\tDefault Node Label expression : <DEFAULT_PARTITION>" in out
    code, _, err = cli(capsys, cluster, "queue", "-status", "nosuch")
    assert code == 255 and err == "Cannot get queue from RM by queueName = nosuch, please check.\n"


def test_unreachable_rm_is_one_line_naming_the_fix(capsys: pytest.CaptureFixture[str]) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    for argv in (["application", "-list"], ["node", "-list"], ["queue", "-status", "default"],
                 ["application", "-status", "application_1_0001"]):
        assert main([*argv, "--rm-address", nowhere]) == 255
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and nowhere in err and "MINIYARN_RM_ADDRESS" in err, err
