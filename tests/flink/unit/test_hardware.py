"""The memory a TaskManager reports: the host's, or its cgroup's limit when it has one (a Docker container)."""

from __future__ import annotations

from pathlib import Path

from flink_on_yarn.runtime.hardware import cgroup_limit_bytes, cpu_cores, physical_memory_bytes

GIB = 1 << 30


def test_cgroup_limit_parsing() -> None:
    assert cgroup_limit_bytes("1073741824\n") == GIB
    assert cgroup_limit_bytes("max\n") is None
    assert cgroup_limit_bytes("") is None


def test_physical_memory_is_the_cgroup_limit_when_lower(tmp_path: Path) -> None:
    v2, v1 = tmp_path / "memory.max", tmp_path / "limit_in_bytes"
    assert physical_memory_bytes(24 * GIB, (v2, v1)) == 24 * GIB  # no cgroup files: the host's
    v2.write_text("max\n")
    assert physical_memory_bytes(24 * GIB, (v2, v1)) == 24 * GIB  # v2 without a limit
    v1.write_text(f"{GIB}\n")
    assert physical_memory_bytes(24 * GIB, (v2, v1)) == GIB  # v1 with one
    v2.write_text(f"{2 * GIB}\n")
    assert physical_memory_bytes(24 * GIB, (v2, v1)) == 2 * GIB  # v2 is read first
    v2.write_text("9223372036854771712\n")  # v1-style "unlimited"
    assert physical_memory_bytes(24 * GIB, (v2,)) == 24 * GIB


def test_doctests() -> None:
    import doctest

    from flink_on_yarn.runtime import hardware
    assert doctest.testmod(hardware).failed == 0


def test_cores_are_capped_by_the_cgroup_quota_and_the_granted_vcores(tmp_path: Path) -> None:
    import os

    visible = len(os.sched_getaffinity(0))
    cpu_max = tmp_path / "cpu.max"  # absent: no quota
    assert cpu_cores(None, cpu_max) == visible
    assert cpu_cores(1, cpu_max) == 1  # a 1-vcore YARN container, whatever the machine has
    assert cpu_cores(visible + 8, cpu_max) == visible  # a grant beyond the machine is the machine
    cpu_max.write_text("50000 100000\n")  # docker run --cpus 0.5
    assert cpu_cores(None, cpu_max) == 1
    cpu_max.write_text("max 100000\n")
    assert cpu_cores(0, cpu_max) == visible


def test_the_appmaster_gives_each_taskmanager_its_containers_vcores() -> None:
    from flink_on_yarn.yarn.appmaster import taskmanager_launch_context
    from miniyarn.records import Container, Resource

    container = Container(id="container_1_0001_01_000002", node_id="n:1", node_http_address="n:2",
                          resource=Resource(memory=1024, vcores=1))
    [command] = taskmanager_launch_context("conf", "jm", 1, 2, b"s", container).commands
    assert "-D taskmanager.cpu.cores=1 " in command and "-D taskmanager.numberOfTaskSlots=2 " in command
