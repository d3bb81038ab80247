"""YARN's records as pydantic models.

Python attributes are snake_case; aliases carry the names YARN's REST API uses, so a submission
body written for Hadoop (`application-id`, `am-container-spec`, `vCores`, ...) parses as it is.

>>> Resource(memory=2048, vcores=1)
Resource(memory=2048, vcores=1)
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from miniyarn.states.container import ContainerState

ANY = "*"  # ResourceRequest.ANY: any host, any rack
GUARANTEED = "GUARANTEED"  # ExecutionType: the only one we run (no OPPORTUNISTIC containers)


class Record(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")


R = TypeVar("R", bound=BaseModel)
_set = object.__setattr__


def trusted(cls: type[R], **values: Any) -> R:
    """An instance of `cls` from values that are already valid, every field given.

    What `model_construct` does, less its walk over the fields for defaults and aliases: the RM
    builds several records per allocated container, where model_construct was ~15 % of its CPU."""
    obj = object.__new__(cls)
    _set(obj, "__dict__", values)
    _set(obj, "__pydantic_fields_set__", set(values))
    _set(obj, "__pydantic_extra__", None)
    _set(obj, "__pydantic_private__", None)
    return obj


class Resource(Record):
    memory: int = Field(0, alias="memory")
    vcores: int = Field(0, alias="vCores")

    def __str__(self) -> str:
        return f"<memory:{self.memory}, vCores:{self.vcores}>"

    def fits_in(self, other: Resource) -> bool:
        return self.memory <= other.memory and self.vcores <= other.vcores

    # Arithmetic skips validation: both operands are already valid, and the scheduler does this
    # several times per container, where validation was a tenth of the RM's CPU.
    def __add__(self, other: Resource) -> Resource:
        return trusted(Resource, memory=self.memory + other.memory, vcores=self.vcores + other.vcores)

    def __sub__(self, other: Resource) -> Resource:
        return trusted(Resource, memory=self.memory - other.memory, vcores=self.vcores - other.vcores)

    def times(self, n: int) -> Resource:
        return trusted(Resource, memory=self.memory * n, vcores=self.vcores * n)

    def rest(self) -> dict[str, int]:
        return {"memory": self.memory, "vCores": self.vcores}


class LocalResourceType(StrEnum):
    FILE = "FILE"
    ARCHIVE = "ARCHIVE"
    PATTERN = "PATTERN"


class LocalResourceVisibility(StrEnum):
    PUBLIC = "PUBLIC"
    PRIVATE = "PRIVATE"
    APPLICATION = "APPLICATION"


class LocalResource(Record):
    """A file the NM puts in the container's working directory before launch.

    `resource` is a URL: `blob://<sha256>` for files staged in Redis (miniyarn's HDFS), or
    `file:///path` for a file on the NM's own disk.
    """

    resource: str
    type: LocalResourceType = LocalResourceType.FILE
    visibility: LocalResourceVisibility = LocalResourceVisibility.APPLICATION
    size: int = 0
    timestamp: int = 0


class ContainerLaunchContext(Record):
    commands: list[str] = Field(default_factory=list)
    environment: dict[str, str] = Field(default_factory=dict)
    local_resources: dict[str, LocalResource] = Field(default_factory=dict, alias="local-resources")
    # YARN's application ACLs (VIEW_APP, MODIFY_APP -> a Hadoop ACL string), `application-acls` in its REST.
    application_acls: dict[str, str] = Field(default_factory=dict, alias="application-acls")

    @model_validator(mode="before")
    @classmethod
    def _yarn_rest_shapes(cls, data: Any) -> Any:
        """Accept YARN's REST wrappers: `{"entry": [{key, value}]}` maps and `{"command": ...}`."""
        if not isinstance(data, dict):
            return data
        out = dict(data)
        commands = out.get("commands")
        if isinstance(commands, dict) and "command" in commands:
            cmd = commands["command"]
            out["commands"] = cmd if isinstance(cmd, list) else [cmd]
        elif isinstance(commands, str):
            out["commands"] = [commands]
        for key in ("environment", "local-resources", "local_resources", "application-acls", "application_acls"):
            value = out.get(key)
            if isinstance(value, dict) and set(value) == {"entry"}:
                entries = value["entry"]
                if isinstance(entries, dict):
                    entries = [entries]
                if not isinstance(entries, list) or not all(
                        isinstance(e, dict) and "key" in e and "value" in e for e in entries):
                    raise ValueError(f"{key}.entry must be a list of {{key, value}} objects")
                out[key] = {e["key"]: e["value"] for e in entries}
        return out


class ResourceRequest(Record):
    """An AM's ask: `num_containers` of `capability` at `priority` on `resource_name` (`*` = anywhere)."""

    priority: int = 0
    resource_name: str = Field(ANY, alias="resourceName")
    capability: Resource
    num_containers: int = Field(0, alias="numContainers")
    relax_locality: bool = Field(True, alias="relaxLocality")
    allocation_request_id: int = Field(-1, alias="allocationRequestId")

    @field_validator("num_containers")
    @classmethod
    def _non_negative(cls, v: int) -> int:
        if v < 0:
            raise ValueError(f"Invalid numContainers {v}; it must be >= 0")
        return v


class Container(Record):
    """A grant: this much resource on this node, for this application attempt."""

    id: str
    node_id: str
    node_http_address: str
    resource: Resource
    priority: int = 0
    allocation_request_id: int = -1
    exec_type: str = GUARANTEED


class ContainerStatus(Record):
    container_id: str
    state: ContainerState
    exit_status: int = -1000
    diagnostics: str = ""


class ApplicationSubmissionContext(Record):
    """What a client submits (YARN's REST body for POST /ws/v1/cluster/apps)."""

    application_id: str = Field(alias="application-id")
    application_name: str = Field("N/A", alias="application-name")
    queue: str = "default"
    priority: int = Field(0, ge=-(2**31), le=2**31 - 1)  # YARN's Priority is a Java int
    am_container_spec: ContainerLaunchContext = Field(
        default_factory=ContainerLaunchContext, alias="am-container-spec")
    unmanaged_am: bool = Field(False, alias="unmanaged-AM")
    max_app_attempts: int = Field(0, alias="max-app-attempts")
    resource: Resource = Field(default_factory=lambda: Resource(memory=1024, vcores=1))
    application_type: str = Field("YARN", alias="application-type")
    keep_containers_across_application_attempts: bool = Field(
        False, alias="keep-containers-across-application-attempts")
    application_tags: list[str] = Field(default_factory=list, alias="application-tags")
    user: str = ""
