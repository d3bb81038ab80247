"""Flink-on-YARN option parsing and mappings: pure."""

from __future__ import annotations

import click
import pytest

from flink_on_yarn.cli.yarn import cluster_keys, yarn_cluster_keys, yarn_cluster_options
from flink_on_yarn.common.memory import jvm_overhead_mb, parse_memory_mb
from flink_on_yarn.yarn.descriptor import jobmanager_url
from flink_on_yarn.yarn.options import (
    application_final_status,
    check_fits,
    final_status,
    format_properties,
    job_state_from_final,
    jobmanager_resource,
    parse_properties,
    taskmanager_resource,
)


@pytest.mark.parametrize(("text", "mb"), [("1728m", 1728), ("1g", 1024), ("512 mb", 512), ("1600M", 1600),
                                          ("1048576", 1), ("1048577", 2), ("2 gb", 2048)])
def test_memory_sizes_in_flinks_syntax(text: str, mb: int) -> None:
    assert parse_memory_mb(text) == mb


@pytest.mark.parametrize("text", ["", "lots", "1.5g", "12 parsecs"])
def test_bad_memory_sizes_name_the_expected_form(text: str) -> None:
    with pytest.raises(ValueError, match="not a memory size"):
        parse_memory_mb(text)


def test_taskmanager_container_asks_a_vcore_per_slot_unless_told() -> None:
    assert taskmanager_resource({"taskmanager.numberOfTaskSlots": "3"}) == (1728, 3)
    assert taskmanager_resource({"taskmanager.numberOfTaskSlots": "3", "yarn.containers.vcores": "1"}) == (1728, 1)
    assert jobmanager_resource({}) == (1600, 1)
    with pytest.raises(ValueError, match="at least 1"):
        taskmanager_resource({"taskmanager.numberOfTaskSlots": "0"})


def test_too_big_for_yarn_names_both_sizes_and_the_keys() -> None:
    with pytest.raises(ValueError) as e:
        check_fits("TaskManagers", "taskmanager.memory.process.size", 10000, 1, 8192, 4)
    assert "Maximum Memory: 8192 MB, requested: 10000 MB" in str(e.value)
    assert "yarn.scheduler.maximum-allocation-mb" in str(e.value)
    with pytest.raises(ValueError, match="virtual cores"):
        check_fits("TaskManagers", "taskmanager.memory.process.size", 1024, 8, 8192, 4)
    check_fits("TaskManagers", "taskmanager.memory.process.size", 8192, 4, 8192, 4)


def test_final_statuses_follow_flinks_mapping() -> None:
    assert [final_status(s) for s in ("FINISHED", "FAILED", "CANCELED")] == ["SUCCEEDED", "FAILED", "KILLED"]
    assert [job_state_from_final(s) for s in ("SUCCEEDED", "FAILED", "KILLED")] == ["FINISHED", "FAILED", "CANCELED"]
    assert application_final_status(["FINISHED", "FINISHED"], True) == "SUCCEEDED"
    assert application_final_status(["FINISHED", "CANCELED"], False) == "KILLED"
    assert application_final_status(["FINISHED"], False) == "FAILED"
    assert application_final_status([], False) == "FAILED"


def test_properties_file_round_trips() -> None:
    text = format_properties({"applicationID": "application_1_0001", "dynamicPropertiesString": r"a=b\c"})
    assert text.startswith("#")
    assert parse_properties(text) == {"applicationID": "application_1_0001", "dynamicPropertiesString": r"a=b\c"}


def test_jobmanager_url_comes_from_the_registered_rpc_address() -> None:
    assert jobmanager_url({"amRPCAddress": "10.0.0.5:41234"}) == "http://10.0.0.5:41234"
    assert jobmanager_url({"amRPCAddress": "N/A"}) is None
    assert jobmanager_url({}) is None


def test_flink_run_yarn_cluster_options_set_the_keys_of_yarn_session_options() -> None:
    command = yarn_cluster_options(click.Command("run", callback=lambda **_: None))

    def parse(args: list[str]) -> dict[str, object]:
        return command.make_context("run", args).params

    ns = parse(["-yjm", "1024", "-ytm", "2g", "-ys", "2", "-ynm", "wc", "-yqu", "root.a",
                "-yD", "heartbeat.timeout=60 s", "-yd"])
    assert ns["yd"] and yarn_cluster_keys(ns) == {
        "jobmanager.memory.process.size": "1024m", "taskmanager.memory.process.size": "2g",
        "taskmanager.numberOfTaskSlots": "2", "yarn.application.name": "wc", "yarn.application.queue": "root.a",
        "heartbeat.timeout": "60 s"}
    assert yarn_cluster_keys(parse([])) == {} == cluster_keys(None, None, None, None, None)
    with pytest.raises(ValueError):
        yarn_cluster_keys(parse(["-yD", "no-equals-sign"]))


def test_jvm_overhead_share_as_flink_budgets_it() -> None:
    """Where a TaskManager container budgets its fork server: Flink's JVM overhead, 10 % within 192m..1g."""
    assert jvm_overhead_mb({}) == 192  # 10 % of the default 1728m is below the minimum
    assert jvm_overhead_mb({"taskmanager.memory.process.size": "4g"}) == 409
    assert jvm_overhead_mb({"taskmanager.memory.process.size": "64g"}) == 1024
    assert jvm_overhead_mb({"taskmanager.memory.process.size": "1g", "taskmanager.memory.jvm-overhead.min": "16m",
                            "taskmanager.memory.jvm-overhead.fraction": "0.02"}) == 20
