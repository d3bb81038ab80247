"""The Docker runtime's decisions, as pure functions: which runtime and image a container asks for,
which bind mounts it may have, the `docker run` it becomes, the environment it inherits, and what
its end means (the engine's OOM kill is YARN's -104). No Docker SDK here, so all of it is tested
without a daemon; `nodemanager.executor.docker` does the I/O.

>>> requested_runtime({"YARN_CONTAINER_RUNTIME_TYPE": "docker"})
'docker'
>>> parse_mounts("/data:/data:ro")
[Mount(source='/data', target='/data', read_only=True)]
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from miniyarn.exit_status import ContainerExitStatus
from miniyarn.ids import container_hostname, sandbox_hostname
from nodemanager.diagnostics import byte_string
from nodemanager.executor.base import LaunchSpec, without_identity

# YARN's launch-context variables for its Docker runtime (DockerLinuxContainerRuntime).
RUNTIME_TYPE = "YARN_CONTAINER_RUNTIME_TYPE"
DOCKER_IMAGE = "YARN_CONTAINER_RUNTIME_DOCKER_IMAGE"
DOCKER_MOUNTS = "YARN_CONTAINER_RUNTIME_DOCKER_MOUNTS"
# YARN's NM keys: the default image, and the host paths containers may mount besides the NM's dirs.
IMAGE_KEY = "yarn.nodemanager.runtime.linux.docker.image-name"
ALLOWED_RO_KEY = "yarn.nodemanager.runtime.linux.docker.allowed-ro-mounts"
ALLOWED_RW_KEY = "yarn.nodemanager.runtime.linux.docker.allowed-rw-mounts"
DEFAULT_IMAGE = "miniyarn:latest"
# YARN's key for the network containers join when they ask for none; "host" (YARN's default) shares
# the NM host's network, any other name is a Docker network there (compose's own bridge network).
NETWORK_KEY = "yarn.nodemanager.runtime.linux.docker.default-container-network"
HOST_NETWORK = "host"
# Ours, beside YARN's keys. On a network of its own (not the host's), true: a node's containers share one
# network namespace, held by a small sandbox container of the node's, as a host-network node's containers
# share its host's: one address per node (`sandbox_hostname`), and a container start that makes no network
# interface (about 100 ms, against 300-500 ms for a start that attaches to a bridge network). false: each
# container its own address and hostname (`container_hostname`).
SHARED_NETNS_KEY = "yarn.nodemanager.runtime.linux.docker.shared-network-namespace"
# Processes (threads count too: the kernel's pids controller counts tasks) one container may have. A
# fork bomb in a task must not take every pid on the host with it; a TaskManager runs a few hundred
# threads, so 4096 leaves room. YARN has no key for it; this one sits with its Docker runtime's. 0 or
# less: no limit (Docker's own default).
PIDS_LIMIT_KEY = "yarn.nodemanager.runtime.linux.docker.pids-limit"
DEFAULT_PIDS_LIMIT = 4096
RUNTIMES = ("default", "docker")

# Labels on every container we start: orphan cleanup and `docker ps --filter label=...` read them.
LABEL_APP = "miniyarn.application-id"
LABEL_CONTAINER = "miniyarn.container-id"
LABEL_NODE = "miniyarn.node-id"
# The Docker network a container is of (also for those in a sandbox's namespace, which Docker lists on none).
LABEL_NETWORK = "miniyarn.network"
# Set on a node's network sandbox only: no YARN container, so the orphan sweep leaves it to its node.
LABEL_ROLE = "miniyarn.role"
SANDBOX_ROLE = "network-sandbox"

# Never inside a YARN container: whoever holds the socket is root on the host.
DOCKER_SOCKETS = ("/var/run/docker.sock", "/run/docker.sock")

# Inherited variables that name paths or programs: a container takes these from its image, not
# from the NM (whose venv and conf dirs do not exist inside it). The rest of YARN's whitelist
# (LANG, TZ, MINIYARN_RM_ADDRESS, ...) still comes from the NM.
IMAGE_OWNED_ENV = ("PATH", "PYTHONPATH", "VIRTUAL_ENV", "JAVA_HOME", "HADOOP_CONF_DIR", "YARN_CONF_DIR", "HOME")

# The wrapper the container runs: stdout/stderr into the log dir as the process executor does,
# then launch_container.sh. $1 = log dir, $2 = script.
WRAPPER = 'exec >>"$1/stdout" 2>>"$1/stderr" </dev/null; exec /bin/bash "$2"'


class DockerLaunchError(OSError):
    """A container cannot be started by Docker; the message is the diagnostic the AM reads."""


def requested_runtime(launch_env: Mapping[str, str]) -> str | None:
    """The runtime a launch context asks for, or None to take the NM's --executor."""
    value = launch_env.get(RUNTIME_TYPE, "").strip().lower()
    if not value:
        return None
    if value not in RUNTIMES:
        raise DockerLaunchError(f"{RUNTIME_TYPE}={value!r} is not a runtime this NodeManager has; "
                                f"use one of: {', '.join(RUNTIMES)}")
    return value


def image_of(launch_env: Mapping[str, str], default: str) -> str:
    return launch_env.get(DOCKER_IMAGE, "").strip() or default


@dataclass(frozen=True)
class Mount:
    source: str
    target: str
    read_only: bool


def parse_mounts(text: str) -> list[Mount]:
    """YARN_CONTAINER_RUNTIME_DOCKER_MOUNTS: `src:dst:mode[,src:dst:mode...]`, mode `ro` or `rw`."""
    mounts: list[Mount] = []
    for item in (p.strip() for p in text.split(",")):
        if not item:
            continue
        parts = item.split(":")
        if len(parts) == 2:
            parts.append("rw")
        if len(parts) != 3 or parts[2] not in ("ro", "rw") or not parts[0] or not parts[1]:
            raise DockerLaunchError(f"Invalid mount {item!r} in {DOCKER_MOUNTS}: expected source:target:ro|rw")
        src, dst = os.path.normpath(parts[0]), os.path.normpath(parts[1])
        if not os.path.isabs(src) or not os.path.isabs(dst):
            raise DockerLaunchError(f"Invalid mount {item!r} in {DOCKER_MOUNTS}: both paths must be absolute")
        mounts.append(Mount(src, dst, parts[2] == "ro"))
    return mounts


def _under(path: str, root: str) -> bool:
    path, root = os.path.normpath(path), os.path.normpath(root)
    return path == root or path.startswith(root.rstrip("/") + "/")


def check_mount(mount: Mount, allowed_ro: Iterable[str], allowed_rw: Iterable[str]) -> None:
    """Raise DockerLaunchError unless `mount` lies inside an allowed dir (rw ones allow either mode)
    and holds no Docker socket."""
    for sock in DOCKER_SOCKETS:
        if _under(sock, mount.source):
            raise DockerLaunchError(f"Mount {mount.source} would put the Docker socket {sock} inside a "
                                    "YARN container; that is never allowed")
    rw = [d for d in allowed_rw if d]
    ro = [d for d in allowed_ro if d]
    if any(_under(mount.source, d) for d in rw):
        return
    if mount.read_only and any(_under(mount.source, d) for d in ro):
        return
    allowed = ", ".join([*(f"{d} (rw)" for d in rw), *(f"{d} (ro)" for d in ro)]) or "none"
    raise DockerLaunchError(
        f"Mount {mount.source}:{mount.target}:{'ro' if mount.read_only else 'rw'} is outside the dirs this "
        f"NodeManager allows ({allowed}); add it to {ALLOWED_RO_KEY if mount.read_only else ALLOWED_RW_KEY}")


def split_dirs(value: str) -> list[str]:
    return [os.path.normpath(p.strip()) for p in value.split(",") if p.strip()]


def inherited_env(image_env: Mapping[str, str], nm_env: Mapping[str, str]) -> dict[str, str]:
    """What a Docker container inherits (YARN's whitelist then picks from it): the NM's variables
    except those naming paths or programs, which come from the image."""
    out = {k: v for k, v in without_identity(nm_env).items() if k not in IMAGE_OWNED_ENV}
    out.update({k: v for k, v in image_env.items() if k in IMAGE_OWNED_ENV})
    return out


def env_list(pairs: Iterable[str]) -> dict[str, str]:
    """An image's Config.Env (`K=V` strings) as a dict."""
    return dict(p.split("=", 1) for p in pairs if "=" in p)


@dataclass(frozen=True)
class RunSpec:
    """The arguments of one `docker create` (docker SDK `containers.create` keywords via `kwargs`)."""

    name: str
    image: str
    entrypoint: list[str]
    working_dir: str
    user: str
    mem_bytes: int
    nano_cpus: int
    labels: dict[str, str]
    mounts: list[Mount] = field(default_factory=list)
    pids_limit: int = DEFAULT_PIDS_LIMIT
    network: str = HOST_NETWORK
    # The container's own name on its network (its $NM_HOST); None on the host network or in a sandbox.
    hostname: str | None = None
    # The node's network sandbox whose namespace this container joins (name or id); "" for none.
    sandbox: str = ""

    def network_kwargs(self) -> dict[str, Any]:
        if self.sandbox:
            # The sandbox's interface, address, hostname and DNS: no network set-up of its own at start.
            return {"network_mode": f"container:{self.sandbox}"}
        if self.hostname is None:
            # The host network, as YARN's Docker runtime by default: the AM, Redis and the RM are
            # reached at the addresses the NM hands out, and container ports are the host's.
            return {"network_mode": HOST_NETWORK}
        # A network of its own (compose's): reached by its hostname, an alias the network's DNS
        # resolves for every member (the RM's proxy, the other TaskManagers, the JobManager).
        return {"network": self.network, "hostname": self.hostname,
                "networking_config": {self.network: {"Aliases": [self.hostname]}}}

    def kwargs(self) -> dict[str, Any]:
        return {
            "name": self.name, "image": self.image, "entrypoint": self.entrypoint, "command": [],
            "working_dir": self.working_dir, "user": self.user, "labels": self.labels,
            **self.network_kwargs(),
            # memswap = mem: no swap, so going over the grant is an OOM kill (-104), not slowness.
            "mem_limit": self.mem_bytes, "memswap_limit": self.mem_bytes, "nano_cpus": self.nano_cpus,
            # A real init as PID 1: it forwards the NM's SIGTERM and reaps what the command forks.
            "init": True, "security_opt": ["no-new-privileges"],
            **({"pids_limit": self.pids_limit} if self.pids_limit > 0 else {}),
            "volumes": {m.source: {"bind": m.target, "mode": "ro" if m.read_only else "rw"} for m in self.mounts},
            "detach": True,
        }


def run_spec(spec: LaunchSpec, image: str, node_id: str, user: str, host_cpus: int,
             extra_mounts: Iterable[Mount] = (), pids_limit: int = DEFAULT_PIDS_LIMIT,
             network: str = HOST_NETWORK, sandbox: str = "") -> RunSpec:
    """The Docker container for one YARN container: its work and log dirs mounted at the same paths
    (so launch_container.sh, log pages and aggregation work unchanged), limits from its Resource."""
    work, logs = str(spec.work_dir), str(spec.log_dir)
    network = network or HOST_NETWORK
    own_host = network != HOST_NETWORK and not sandbox
    mounts = [Mount(work, work, False), Mount(logs, logs, False), *extra_mounts]
    # Docker refuses more CPUs than the host has, and YARN's vcores are shares, not cores.
    cpus = max(1, min(spec.resource.vcores, max(1, host_cpus)))
    return RunSpec(
        name=spec.container_id, image=image,
        entrypoint=["/bin/bash", "-c", WRAPPER, "miniyarn-launch", logs, str(spec.script)],
        working_dir=work, user=user, mem_bytes=spec.resource.memory * 1024 * 1024, nano_cpus=cpus * 10**9,
        labels={LABEL_APP: spec.app_id, LABEL_CONTAINER: spec.container_id, LABEL_NODE: node_id,
                LABEL_NETWORK: network},
        mounts=mounts, pids_limit=pids_limit, network=network,
        hostname=container_hostname(spec.container_id) if own_host else None, sandbox=sandbox)


def sandbox_name(node_id: str) -> str:
    """The Docker name of a node's network sandbox: one per node id on an engine.

    >>> sandbox_name("878067b81b46:8042")
    'miniyarn-sandbox-878067b81b46-8042'
    """
    return "miniyarn-sandbox-" + "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in node_id)


def sandbox_spec(node_id: str, node_host: str, network: str, image: str, user: str) -> RunSpec:
    """The container holding a node's shared network namespace on `network`: it only sleeps, with a
    sliver of memory, CPU and pids, under its node's labels and the hostname its containers take."""
    return RunSpec(
        name=sandbox_name(node_id), image=image, entrypoint=["sleep", "infinity"], working_dir="/", user=user,
        mem_bytes=32 * 1024 * 1024, nano_cpus=10**8,
        labels={LABEL_NODE: node_id, LABEL_NETWORK: network, LABEL_ROLE: SANDBOX_ROLE},
        pids_limit=16, network=network, hostname=sandbox_hostname(node_host))


def exit_reason(state: Mapping[str, Any], container_id: str, mem_bytes: int, pid: int) -> tuple[int, str] | None:
    """From a finished container's State: YARN's -104 and its wording when the engine's OOM killer
    ended it, else None (the exit code stands)."""
    if not state.get("OOMKilled"):
        return None
    code = int(state.get("ExitCode", 137))
    return (int(ContainerExitStatus.KILLED_EXCEEDED_PMEM),
            f"Container [pid={pid},containerID={container_id}] is running beyond the 'PHYSICAL' memory limit. "
            f"Current usage: {byte_string(mem_bytes)} of {byte_string(mem_bytes)} physical memory used; "
            f"the Docker engine's OOM killer ended it (State.OOMKilled, exit code {code}). Killing container.\n")
