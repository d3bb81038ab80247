"""Flink-on-YARN options, no I/O: memory sizes in Flink's syntax, container sizes from Flink's keys,
Flink's names for the YARN application, final statuses, and the `.yarn-properties-<user>` file format.

>>> parse_memory_mb("1728m")
1728
>>> taskmanager_resource({"taskmanager.numberOfTaskSlots": "2", "taskmanager.memory.process.size": "1g"})
(1024, 2)
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from flink_on_yarn.common.config import DEFAULTS, parsed_value
from flink_on_yarn.common.memory import parse_memory_mb

APPLICATION_TYPE = "Apache Flink"
# Files in the AM container's working directory, and the variable naming the staged configuration so
# the AM can hand the same file to its TaskManagers.
CONF_FILE = "flink-conf.yaml"
JOB_GRAPH_FILE = "job.graph"
CONF_RESOURCE_ENV = "_FLINK_CONF_RESOURCE"

class Mode(StrEnum):
    PER_JOB = "per-job"
    SESSION = "session"
    APPLICATION = "application"


DEFAULT_NAMES = {Mode.PER_JOB: "Flink per-job cluster", Mode.SESSION: "Flink session cluster",
                 Mode.APPLICATION: "Flink Application Cluster"}


def _get(conf: Mapping[str, str], key: str) -> str:
    return conf.get(key) or DEFAULTS.get(key, "")


def _int(conf: Mapping[str, str], key: str, default: int) -> int:
    return parsed_value(conf, key, default, int, "an integer")


def slots_per_taskmanager(conf: Mapping[str, str]) -> int:
    slots = _int(conf, "taskmanager.numberOfTaskSlots", 1)
    if slots < 1:
        raise ValueError(f"taskmanager.numberOfTaskSlots must be at least 1, got {slots}")
    return slots


def taskmanager_resource(conf: Mapping[str, str]) -> tuple[int, int]:
    """(memory MB, vcores) of one TaskManager container: `taskmanager.memory.process.size`, and
    `yarn.containers.vcores` or else one vcore per slot, as Flink's YARN driver asks."""
    memory = parse_memory_mb(_get(conf, "taskmanager.memory.process.size"))
    vcores = _int(conf, "yarn.containers.vcores", slots_per_taskmanager(conf))
    return memory, vcores


def jobmanager_resource(conf: Mapping[str, str]) -> tuple[int, int]:
    return parse_memory_mb(_get(conf, "jobmanager.memory.process.size")), _int(conf, "yarn.appmaster.vcores", 1)


def check_fits(what: str, key: str, memory: int, vcores: int, max_memory: int, max_vcores: int) -> None:
    """Flink refuses a deployment YARN could never satisfy before it submits anything."""
    if memory > max_memory:
        raise ValueError(
            f"The cluster does not have the requested resources for the {what} available! "
            f"Maximum Memory: {max_memory} MB, requested: {memory} MB. Please check the "
            f"'yarn.scheduler.maximum-allocation-mb' and the '{key}' configuration values")
    if vcores > max_vcores:
        raise ValueError(
            f"The number of requested virtual cores for the {what} ({vcores}) exceeds the maximum number of "
            f"virtual cores ({max_vcores}) available in the YARN cluster. Please check the "
            "'yarn.scheduler.maximum-allocation-vcores' and 'yarn.containers.vcores' configuration values")


def final_status(job_state: str) -> str:
    """The YARN final status a JobManager unregisters with for its job's terminal state."""
    return {"FINISHED": "SUCCEEDED", "CANCELED": "KILLED"}.get(job_state, "FAILED")


def application_final_status(job_states: list[str], program_ok: bool) -> str:
    """Application mode: every job FINISHED and main returned → SUCCEEDED; any cancelled → KILLED."""
    if "CANCELED" in job_states:
        return "KILLED"
    if program_ok and all(s == "FINISHED" for s in job_states):
        return "SUCCEEDED"
    return "FAILED"


def job_state_from_final(final: str) -> str:
    """The reverse, for a client that finds the cluster gone: what became of the per-job cluster's job."""
    return {"SUCCEEDED": "FINISHED", "KILLED": "CANCELED"}.get(final, "FAILED")


def format_properties(values: Mapping[str, str]) -> str:
    """Java properties text (Flink keeps the session's application id in `.yarn-properties-<user>`)."""
    lines = ["#Generated YARN properties file"]
    for k, v in sorted(values.items()):
        lines.append(f"{k}={v.replace(chr(92), chr(92) * 2)}")
    return "\n".join(lines) + "\n"


def parse_properties(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", "!")):
            continue
        key, _, value = line.partition("=")
        out[key.strip()] = value.strip().replace(chr(92) * 2, chr(92))
    return out
