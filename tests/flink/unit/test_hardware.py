"""The memory a TaskManager reports: the host's, or its cgroup's limit when it has one (a Docker container)."""

from __future__ import annotations

from pathlib import Path

from flink_on_yarn.runtime.hardware import cgroup_limit_bytes, physical_memory_bytes

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
