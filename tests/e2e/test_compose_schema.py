"""compose.yaml, compose.host.yaml and compose.ha.yaml against the Compose Specification's JSON schema (the one a
Compose implementation validates files with), so both v1 `docker-compose` and the v2 plugin accept
them; and the few properties the cluster's safety rests on (only the RM published, on 127.0.0.1 by
default; Redis with its ACL file; the NMs with only their credentials share and a stable node id).

Pure: no Docker engine. The schema comes from $COMPOSE_SPEC_SCHEMA, else the copy docker-compose (v1)
installs with itself; with neither the schema check skips, saying so, and the rest still runs."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_PATHS = ("/usr/lib/python3/dist-packages/compose/config/compose_spec.json",
                "/usr/local/lib/python3/dist-packages/compose/config/compose_spec.json")


def load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((ROOT / name).read_text())
    assert isinstance(data, dict)
    return data


def schema() -> dict[str, Any]:
    paths = [os.environ["COMPOSE_SPEC_SCHEMA"]] if os.environ.get("COMPOSE_SPEC_SCHEMA") else list(SCHEMA_PATHS)
    for p in paths:
        if Path(p).is_file():
            found = json.loads(Path(p).read_text())
            assert isinstance(found, dict)
            return found
    pytest.skip(f"no Compose Specification schema here ({', '.join(paths)}); set COMPOSE_SPEC_SCHEMA to "
                "compose-spec.json of the compose-spec repository")


@pytest.mark.parametrize("name", ["compose.yaml", "compose.host.yaml", "compose.ha.yaml"])
def test_file_is_valid_compose_specification(name: str) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    spec = schema()
    drafts = (jsonschema.Draft7Validator, jsonschema.Draft201909Validator, jsonschema.Draft202012Validator)
    known = {d.META_SCHEMA["$schema"].rstrip("#") for d in drafts}
    # docker-compose 1.29's copy names draft 2019-09 by a URL of its own: validate it as that draft.
    cls = (jsonschema.validators.validator_for(spec) if str(spec.get("$schema", "")).rstrip("#") in known
           else jsonschema.Draft201909Validator)
    validator = cls(spec)
    errors = sorted(validator.iter_errors(load(name)), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors)
    # The schema bites: a misspelt key in a service is an error.
    broken = load(name)
    next(iter(broken["services"].values()))["network-mode"] = "host"
    assert list(validator.iter_errors(broken)), "the schema accepted an unknown service key"
    assert "version" not in load(name), "no `version:` key: v2 warns on it, the specification dropped it"


def test_only_the_rm_is_published_and_on_loopback_by_default() -> None:
    services = load("compose.yaml")["services"]
    published = {name: s["ports"] for name, s in services.items() if s.get("ports")}
    assert published == {"resourcemanager": [
        "${MINIYARN_RM_PUBLISH:-127.0.0.1}:${MINIYARN_RM_PORT:-8088}:${MINIYARN_RM_PORT:-8088}"]}
    assert not any("network_mode" in s for name, s in services.items() if name != "credentials")
    assert services["credentials"]["network_mode"] == "none"


def test_daemons_run_with_credentials_token_auth_and_acls() -> None:
    services = load("compose.yaml")["services"]
    assert "--aclfile" in services["redis"]["command"]
    for name in ("resourcemanager", "nodemanager"):
        command = services[name]["command"]
        assert "--credentials-dir" in command, name
        for define in ("hadoop.http.authentication.type=token", "yarn.acl.enable=true"):
            assert define in command, (name, define)
    # The NMs mount their share only, never the RM's master key.
    assert "nm-credentials:/credentials:ro" in services["nodemanager"]["volumes"]
    assert not any(v.startswith("cluster-credentials") for v in services["nodemanager"]["volumes"])


def test_nodemanagers_keep_their_identity_and_restart() -> None:
    nm = load("compose.yaml")["services"]["nodemanager"]
    assert nm["restart"] == "unless-stopped"
    assert nm["environment"]["MINIYARN_NM_DIR_NAME"] == "hostname"
    assert nm["command"][nm["command"].index("--port") + 1] == "8042"
    entrypoint = (ROOT / "images/nm-entrypoint.sh").read_text()
    assert 'set -- --hostname "$name" "$@"' in entrypoint


def test_host_variant_publishes_nothing_and_binds_loopback() -> None:
    """Docker refuses port bindings on the host network, so compose.host.yaml is a file of its own, with
    no `ports`; its daemons bind 127.0.0.1 unless told otherwise."""
    services = load("compose.host.yaml")["services"]
    assert not [name for name, s in services.items() if s.get("ports")]
    assert {s["network_mode"] for name, s in services.items() if name != "credentials"} == {"host"}
    assert "127.0.0.1" in services["redis"]["command"]
    assert "${MINIYARN_RM_BIND:-127.0.0.1}" in services["resourcemanager"]["command"]
    nm = services["nodemanager"]["command"]
    assert nm[nm.index("--bind-host") + 1] == "127.0.0.1"


def _default(text: str) -> int:
    """`${VAR:-4096}` -> 4096."""
    return int(text.split(":-", 1)[1].rstrip("}"))


def test_default_sizes_fit_the_tutorial_job_and_a_replacement_on_3_nms() -> None:
    """Flink's default JobManager and TaskManager sizes, normalized by the RM's own rule with compose's
    minimum allocation: a JobManager, 2 TaskManagers and a replacement TaskManager (one vcore each, the
    tutorial's one slot per TaskManager) all fit at once on 3 default NMs (first fit, as containers land)."""
    from flink_on_yarn.common.config import DEFAULTS
    from flink_on_yarn.common.memory import parse_memory_mb
    from miniyarn.records import Resource
    from resourcemanager.scheduler.normalize import normalize

    services = load("compose.yaml")["services"]
    nm, rm = services["nodemanager"]["command"], services["resourcemanager"]["command"]
    node = Resource(memory=_default(nm[nm.index("--memory-mb") + 1]), vcores=_default(nm[nm.index("--vcores") + 1]))
    [min_mb] = [_default(d.split("=", 1)[1]) for d in rm if d.startswith("yarn.scheduler.minimum-allocation-mb=")]
    minimum, maximum = Resource(memory=min_mb, vcores=1), Resource(memory=8192, vcores=4)
    jm = normalize(Resource(memory=parse_memory_mb(DEFAULTS["jobmanager.memory.process.size"]), vcores=1),
                   minimum, maximum)
    tm = normalize(Resource(memory=parse_memory_mb(DEFAULTS["taskmanager.memory.process.size"]), vcores=1),
                   minimum, maximum)
    assert (jm.memory, tm.memory) == (1792, 1792)
    free = [Resource(memory=node.memory, vcores=node.vcores) for _ in range(3)]
    for ask in (jm, tm, tm, tm):
        fit = next((i for i, f in enumerate(free) if f.memory >= ask.memory and f.vcores >= ask.vcores), None)
        assert fit is not None, f"{ask} does not fit in what is left: {free}"
        free[fit] = Resource(memory=free[fit].memory - ask.memory, vcores=free[fit].vcores - ask.vcores)
