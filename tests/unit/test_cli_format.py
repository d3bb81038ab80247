"""The `yarn` CLI's number, date and row formats, and the pure helpers behind the commands."""

from __future__ import annotations

import time

import click
import pytest

from miniyarn.cli import application, container, logs, node, queue
from miniyarn.cli.common import java_percent, java_two_decimals, split_list, yarn_time
from miniyarn.cli.main import cli, main


@pytest.mark.parametrize(("fraction", "text"), [
    (0.0, "0%"), (0.5, "50%"), (1.0, "100%"), (0.12346, "12.35%"), (0.001, "0.1%"), (0.99999, "100%"),
])
def test_java_percent(fraction: float, text: str) -> None:
    assert java_percent(fraction) == text


@pytest.mark.parametrize(("value", "text"), [(0.0, ".00"), (100.0, "100.00"), (50.5, "50.50"),
                                             (0.125, ".12"),  # HALF_EVEN, as DecimalFormat rounds
                                             (12.3456, "12.35")])
def test_java_two_decimals(value: float, text: str) -> None:
    assert java_two_decimals(value) == text


def test_split_list() -> None:
    assert split_list(" RUNNING, ,ACCEPTED,") == ["RUNNING", "ACCEPTED"]
    assert split_list(None) == []


def test_application_row_is_yarns_column_pattern() -> None:
    app = {"id": "application_1700000000000_0001", "name": "ds", "applicationType": "YARN", "user": "alice",
           "queue": "default", "state": "RUNNING", "finalStatus": "UNDEFINED", "progress": 50.0,
           "trackingUrl": "http://rm:8088/proxy/application_1700000000000_0001/"}
    row = application.app_row(app)
    cols = row.split("\t")
    assert [len(c) for c in cols[:8]] == [30, 20, 20, 10, 10, 18, 18, 15]
    assert [c.strip() for c in cols] == ["application_1700000000000_0001", "ds", "YARN", "alice", "default",
                                         "RUNNING", "UNDEFINED", "50%", app["trackingUrl"]]
    assert application.format_row(application.HEADER).split("\t")[0] == " " * 16 + "Application-Id"


def test_report_lines_follow_application_report_order() -> None:
    app = {"id": "application_1_0001", "state": "RUNNING", "finalStatus": "UNDEFINED", "progress": 0.0,
           "amRPCAddress": "host1:4567", "memorySeconds": 10, "vcoreSeconds": 2, "runningContainers": 2,
           "allocatedMB": 2048, "allocatedVCores": 2}
    lines = application.report_lines(app)
    assert lines[0] == "Application Report : "
    names = [line.split(" : ")[0].strip() for line in lines[1:]]
    assert names[:4] == ["Application-Id", "Application-Name", "Application-Type", "User"]
    assert names.index("Progress") < names.index("State") < names.index("Final-State") < names.index("Tracking-URL")
    assert "\tRPC Port : 4567" in lines and "\tAM Host : host1" in lines
    assert "\tAggregate Resource Allocation : 10 MB-seconds, 2 vcore-seconds" in lines
    assert "\tAllocated Resource : <memory:2048, vCores:2>" in lines
    no_am = application.report_lines({**app, "amRPCAddress": "N/A"})
    assert "\tRPC Port : -1" in no_am and "\tAM Host : N/A" in no_am


def test_node_row() -> None:
    row = node.node_row({"id": "h:1", "state": "RUNNING", "nodeHTTPAddress": "h:1", "numContainers": 3})
    assert [len(c) for c in row.split("\t")] == [16, 15, 17, 28]
    assert row.split("\t")[-1].strip() == "3"


def test_find_queue_in_capacity_tree_and_fifo() -> None:
    tree = {"type": "capacityScheduler", "queueName": "root", "queues": {"queue": [
        {"queueName": "a", "queuePath": "root.a", "queues": {"queue": [
            {"queueName": "a1", "queuePath": "root.a.a1", "capacity": 50.0, "usedCapacity": 12.5,
             "maxCapacity": 100.0, "state": "RUNNING"}]}}]}}
    found = queue.find_queue(tree, "a1")
    assert found is not None and found["queuePath"] == "root.a.a1"
    assert queue.find_queue(tree, "root.a.a1") is found and queue.find_queue(tree, "zz") is None
    assert queue.status_lines(found)[3:6] == ["\tCapacity : 50.00%", "\tCurrent Capacity : 12.50%",
                                              "\tMaximum Capacity : 100.00%"]
    fifo = {"type": "fifoScheduler", "capacity": 1.0, "usedCapacity": 0.25, "qstate": "RUNNING"}
    q = queue.find_queue(fifo, "default")
    assert q is not None and queue.status_lines(q)[3:5] == ["\tCapacity : 100.00%", "\tCurrent Capacity : 25.00%"]
    assert queue.find_queue(fifo, "other") is None


def test_log_entry_format_is_logcli_s() -> None:
    e = logs.LogEntry("container_1_0001_01_000002", "h_1", "stdout", b"hi\n", 0, "AGGREGATED")
    text = logs.format_entry(e)
    head = "Container: container_1_0001_01_000002 on h_1"
    lines = text.split("\n")
    assert lines[:4] == [head, "LogAggregationType: AGGREGATED", "=" * len(head), "LogType:stdout"]
    assert lines[4].startswith("LogLastModifiedTime:") and lines[5:8] == ["LogLength:3", "LogContents:", "hi"]
    assert lines[8:12] == ["", "End of LogType:stdout", "*" * (len("End of LogType:stdout") + 50), ""]
    assert text.endswith("\n\n")


def test_log_select_filters_container_and_files() -> None:
    es = [logs.LogEntry(c, "n", f, b"", 0, "LOCAL") for c in ("c2", "c1") for f in ("stdout", "stderr")]
    assert [(e.container_id, e.file) for e in logs.select(es, None, [])] == [
        ("c1", "stderr"), ("c1", "stdout"), ("c2", "stderr"), ("c2", "stdout")]
    assert [(e.container_id, e.file) for e in logs.select(es, "c2", ["stdout"])] == [("c2", "stdout")]
    assert len(logs.select(es, None, ["ALL"])) == 4


def test_yarn_time_is_times_format_and_na_when_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        assert yarn_time(1795639849906) == "Wed Nov 25 20:50:49 +0000 2026"
        assert yarn_time(0) == "N/A"
    finally:
        monkeypatch.undo()
        time.tzset()


def test_node_health_time_is_nodeclis_format(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        assert node.health_time(1795639849906) == "Wed 25/Nov/26 08:50:49:906UTC"
        assert node.health_time(1795639849005) == "Wed 25/Nov/26 08:50:49:05UTC"
    finally:
        monkeypatch.undo()
        time.tzset()


def test_container_row_is_yarns_container_pattern() -> None:
    row = container.container_row({"containerId": "container_1_0001_01_000002", "startedTime": 0, "finishedTime": 0,
                                   "containerState": "RUNNING", "nodeId": "h:1", "nodeHttpAddress": "h:1",
                                   "logUrl": "http://rm/node/h:1/containerlogs/c/u"})
    assert row == container.CONTAINER_PATTERN % ("container_1_0001_01_000002", "N/A", "N/A", "RUNNING", "h:1",
                                                 "http://h:1", "http://rm/node/h:1/containerlogs/c/u")
    assert row.split("\t")[3] == "             RUNNING"  # %20s, right-aligned as Java's printf


def test_log_am_option_picks_attempts_am_containers() -> None:
    assert logs.am_attempts("ALL") is None and logs.am_attempts("1,2") == {1, 2} and logs.am_attempts("-1") == {-1}
    for bad in ("0", "-2", "x", ""):
        with pytest.raises(ValueError):
            logs.am_attempts(bad)
    es = [logs.LogEntry(c, "n", "stdout", b"", 0, "LOCAL") for c in (
        "container_1_0001_01_000001", "container_1_0001_01_000002", "container_1_0001_02_000001",
        "container_e3_1_0001_03_000001")]
    def ids(attempts: set[int] | None) -> list[str]:
        return [e.container_id for e in logs.am_entries(es, attempts)]
    assert ids(None) == ["container_1_0001_01_000001", "container_1_0001_02_000001", "container_e3_1_0001_03_000001"]
    assert ids({1}) == ["container_1_0001_01_000001"]
    assert ids({-1}) == ["container_e3_1_0001_03_000001"]
    assert ids({2, -1}) == ["container_1_0001_02_000001", "container_e3_1_0001_03_000001"]


def test_parser_has_yarns_verbs_and_bad_usage_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    verbs = cli.list_commands(click.Context(cli))
    assert set(verbs) == {"resourcemanager", "nodemanager", "application", "applicationattempt", "container",
                          "node", "logs", "queue", "distributed-shell", "minicluster", "token", "credentials",
                          "rmadmin"}
    # Each verb's module, imported only when the verb is asked for, holds the command of that name.
    assert all(getattr(cli.get_command(click.Context(cli), v), "name", None) == v for v in verbs)
    ctx = application.command.make_context("application", ["-list", "-appStates", "ALL", "-appStates", "KILLED"])
    assert ctx.params["list_"] and ctx.params["app_states"] == ("ALL", "KILLED")
    assert main(["application"]) == 2  # one of -list/-status/-kill is required
    assert main(["application", "-list", "-status", "x"]) == 2
    assert main(["logs"]) == 2
    capsys.readouterr()


def test_invalid_states_are_refused_before_asking_the_rm(capsys: pytest.CaptureFixture[str]) -> None:
    nowhere = "http://127.0.0.1:9"
    assert main(["node", "-list", "-states", "SLEEPY", "--rm-address", nowhere]) == 255
    out = capsys.readouterr().out
    assert out.startswith("The node state SLEEPY is invalid.\nThe valid node state can be one of the following: ")
