"""The Docker runtime's pure decisions: runtime choice, mounts, the run spec, inherited env, OOM -> -104."""

from __future__ import annotations

from pathlib import Path

import pytest

from miniyarn.records import Resource
from nodemanager.executor import create_executor
from nodemanager.executor.base import LaunchSpec
from nodemanager.executor.docker_spec import (
    DEFAULT_PIDS_LIMIT,
    DockerLaunchError,
    Mount,
    check_mount,
    env_list,
    exit_reason,
    image_of,
    inherited_env,
    parse_mounts,
    requested_runtime,
    run_spec,
    sandbox_spec,
)

CID = "container_1700000000000_0001_01_000002"
APP = "application_1700000000000_0001"


def spec(memory: int = 512, vcores: int = 1, launch_env: dict[str, str] | None = None) -> LaunchSpec:
    work = Path("/nm/local/usercache/alice/appcache") / APP / CID
    return LaunchSpec(container_id=CID, app_id=APP, user="alice", work_dir=work, log_dir=Path("/nm/logs") / APP / CID,
                      script=work / "launch_container.sh", env={}, resource=Resource(memory=memory, vcores=vcores),
                      launch_env=launch_env or {})


def test_runtime_and_image_come_from_yarns_variables() -> None:
    assert requested_runtime({}) is None
    assert requested_runtime({"YARN_CONTAINER_RUNTIME_TYPE": "Docker"}) == "docker"
    assert requested_runtime({"YARN_CONTAINER_RUNTIME_TYPE": "default"}) == "default"
    with pytest.raises(DockerLaunchError, match="runc"):
        requested_runtime({"YARN_CONTAINER_RUNTIME_TYPE": "runc"})
    assert image_of({}, "miniyarn:latest") == "miniyarn:latest"
    assert image_of({"YARN_CONTAINER_RUNTIME_DOCKER_IMAGE": "x:1"}, "miniyarn:latest") == "x:1"


def test_run_spec_has_limits_labels_same_path_mounts_and_no_socket() -> None:
    run = run_spec(spec(memory=512, vcores=8), "miniyarn:latest", "127.0.0.1:4242", "1000:1000", host_cpus=2)
    kw = run.kwargs()
    assert kw["mem_limit"] == kw["memswap_limit"] == 512 * 1024 * 1024
    assert kw["nano_cpus"] == 2 * 10**9  # clamped to the engine's CPUs
    assert kw["network_mode"] == "host" and kw["user"] == "1000:1000" and kw["name"] == CID
    assert kw["labels"] == {"miniyarn.application-id": APP, "miniyarn.container-id": CID,
                            "miniyarn.node-id": "127.0.0.1:4242", "miniyarn.network": "host"}
    work, logs = str(spec().work_dir), str(spec().log_dir)
    assert kw["volumes"] == {work: {"bind": work, "mode": "rw"}, logs: {"bind": logs, "mode": "rw"}}
    assert kw["working_dir"] == work
    assert kw["entrypoint"][-2:] == [logs, f"{work}/launch_container.sh"]
    assert not any("docker.sock" in k for k in kw["volumes"])
    one = run_spec(spec(vcores=1), "i", "n", "1000:1000", host_cpus=16).kwargs()
    assert one["nano_cpus"] == 10**9


def test_run_spec_on_a_network_of_its_own_has_a_hostname_its_dns_resolves() -> None:
    """Compose's bridge network: the container joins it by name, its hostname (its $NM_HOST) a DNS label
    derived from the container id, and the same name as its alias there, which the network's DNS resolves
    for the RM's proxy and the other containers; no host network."""
    run = run_spec(spec(), "miniyarn:latest", "nm-1:8042", "1000:1000", host_cpus=2, network="miniyarn-e2e")
    kw = run.kwargs()
    assert run.hostname == "ctr-1700000000000-0001-01-000002"
    assert "network_mode" not in kw and kw["network"] == "miniyarn-e2e" and kw["hostname"] == run.hostname
    assert kw["networking_config"] == {"miniyarn-e2e": {"Aliases": [run.hostname]}}
    assert kw["name"] == CID and kw["labels"]["miniyarn.container-id"] == CID
    host = run_spec(spec(), "miniyarn:latest", "n", "1000:1000", host_cpus=2, network="host")
    assert host.hostname is None and host.kwargs()["network_mode"] == "host" and "hostname" not in host.kwargs()


def test_in_a_node_sandbox_a_container_takes_its_network_and_sets_up_none() -> None:
    """Sharing the node's network namespace: `container:<sandbox>` as the network mode, no hostname,
    alias or network of its own (Docker refuses those with a joined namespace); labelled with its
    network still, so one filter finds every container of the cluster."""
    run = run_spec(spec(), "miniyarn:latest", "nm-1:8042", "1000:1000", host_cpus=2, network="miniyarn-e2e",
                   sandbox="0123abcd")
    kw = run.kwargs()
    assert kw["network_mode"] == "container:0123abcd" and run.hostname is None
    assert not {"network", "hostname", "networking_config"} & set(kw)
    assert kw["labels"]["miniyarn.network"] == "miniyarn-e2e" and kw["labels"]["miniyarn.container-id"] == CID


def test_the_node_sandbox_only_sleeps_on_the_network_under_the_nodes_labels() -> None:
    sb = sandbox_spec("878067b81b46:8042", "878067b81b46", "miniyarn-e2e", "miniyarn:latest", "1000:1000")
    kw = sb.kwargs()
    assert kw["name"] == "miniyarn-sandbox-878067b81b46-8042" and kw["entrypoint"] == ["sleep", "infinity"]
    assert kw["network"] == "miniyarn-e2e" and kw["hostname"] == "yarn-878067b81b46"
    assert kw["networking_config"] == {"miniyarn-e2e": {"Aliases": ["yarn-878067b81b46"]}}
    assert kw["labels"] == {"miniyarn.node-id": "878067b81b46:8042", "miniyarn.network": "miniyarn-e2e",
                            "miniyarn.role": "network-sandbox"}
    assert "miniyarn.container-id" not in kw["labels"]  # not a YARN container: no orphan of anyone's
    assert kw["mem_limit"] == 32 * 2**20 and kw["pids_limit"] == 16 and kw["user"] == "1000:1000"
    assert kw["volumes"] == {} and kw["security_opt"] == ["no-new-privileges"]


def test_mounts_parse_and_are_checked_against_allowed_dirs() -> None:
    assert parse_mounts("/a:/b:ro, /c:/d:rw,/e:/f") == [Mount("/a", "/b", True), Mount("/c", "/d", False),
                                                         Mount("/e", "/f", False)]
    for bad in ("/a", "/a:/b:xx", "a:/b:ro", "/a:b:ro"):
        with pytest.raises(DockerLaunchError, match="Invalid mount"):
            parse_mounts(bad)
    check_mount(Mount("/data/x", "/x", True), allowed_ro=["/data"], allowed_rw=[])
    check_mount(Mount("/nm/local/y", "/y", False), allowed_ro=[], allowed_rw=["/nm/local"])
    with pytest.raises(DockerLaunchError, match="outside the dirs"):
        check_mount(Mount("/data/x", "/x", False), allowed_ro=["/data"], allowed_rw=[])
    with pytest.raises(DockerLaunchError, match="outside the dirs"):
        check_mount(Mount("/database", "/x", True), allowed_ro=["/data"], allowed_rw=[])
    with pytest.raises(DockerLaunchError, match="Docker socket"):
        check_mount(Mount("/var/run", "/x", True), allowed_ro=["/"], allowed_rw=["/"])
    with pytest.raises(DockerLaunchError, match="Docker socket"):
        check_mount(Mount("/run/docker.sock", "/s", False), allowed_ro=[], allowed_rw=["/run"])


def test_container_inherits_paths_from_its_image_and_the_rest_from_the_nm() -> None:
    image_env = env_list(["PATH=/opt/miniyarn/bin:/usr/bin", "PYTHON=/opt/miniyarn/bin/python", "junk"])
    nm_env = {"PATH": "/work/.venv/bin", "VIRTUAL_ENV": "/work/.venv", "LANG": "C.UTF-8", "HOME": "/root",
              "MINIYARN_RM_ADDRESS": "http://127.0.0.1:8088"}
    env = inherited_env(image_env, nm_env)
    assert env == {"PATH": "/opt/miniyarn/bin:/usr/bin", "LANG": "C.UTF-8",
                   "MINIYARN_RM_ADDRESS": "http://127.0.0.1:8088"}


def test_oom_killed_is_minus_104_with_yarns_wording() -> None:
    assert exit_reason({"OOMKilled": False, "ExitCode": 137}, CID, 64 << 20, 42) is None
    status, text = exit_reason({"OOMKilled": True, "ExitCode": 137}, CID, 64 << 20, 42) or (0, "")
    assert status == -104
    assert text.startswith(f"Container [pid=42,containerID={CID}] is running beyond the 'PHYSICAL' memory limit.")
    assert "64 MB of 64 MB physical memory used" in text and "exit code 137" in text


def test_executor_choice_per_container() -> None:
    nm = create_executor("process")
    assert nm.name == "process" and nm.monitored
    assert nm.select({}).name == "process"
    assert nm.select({"YARN_CONTAINER_RUNTIME_TYPE": "default"}).name == "process"
    docker_nm = create_executor("docker")  # makes no connection until something is launched
    assert docker_nm.name == "docker" and not docker_nm.monitored
    assert docker_nm.select({"YARN_CONTAINER_RUNTIME_TYPE": "default"}).name == "process"
    with pytest.raises(ValueError, match="Unknown executor"):
        create_executor("lxc")


def test_containers_get_a_pids_limit_unless_turned_off() -> None:
    assert run_spec(spec(), "i", "n", "1000:1000", host_cpus=2).kwargs()["pids_limit"] == DEFAULT_PIDS_LIMIT == 4096
    assert run_spec(spec(), "i", "n", "1000:1000", host_cpus=2, pids_limit=64).kwargs()["pids_limit"] == 64
    assert "pids_limit" not in run_spec(spec(), "i", "n", "1000:1000", host_cpus=2, pids_limit=0).kwargs()


def test_no_nm_identity_reaches_a_docker_container() -> None:
    nm_env = {"USER": "root", "LOGNAME": "root", "HOME": "/root", "SUDO_USER": "admin", "LANG": "C.UTF-8"}
    assert inherited_env({}, nm_env) == {"LANG": "C.UTF-8"}
    assert inherited_env({"HOME": "/home/app"}, nm_env) == {"LANG": "C.UTF-8", "HOME": "/home/app"}
