"""`miniflink` on YARN: `run -t yarn-per-job|yarn-session`, `run-application -t yarn-application`,
`yarn-session`, and finding a YARN cluster's JobManager for `list` and `cancel`.

The RM is found from `MINIYARN_RM_ADDRESS` (default http://127.0.0.1:8088); a session's application id
from `-yid`, `-Dyarn.application.id=…`, or the `.yarn-properties-<user>` file `yarn-session` writes.
"""

from __future__ import annotations

import getpass
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import click
import httpx

from flink_on_yarn.cli.options import check_parallelism
from flink_on_yarn.client.executor import ExecutionContext
from flink_on_yarn.client.program import ProgramError, run_program
from flink_on_yarn.common.config import Configuration, parse_dynamic
from flink_on_yarn.yarn.descriptor import (
    FINAL_STATES,
    ClusterHandle,
    ClusterSpec,
    DeploymentError,
    YarnClusterDescriptor,
    jobmanager_url,
)
from flink_on_yarn.yarn.executors import YarnPerJobExecutor, YarnSessionExecutor
from flink_on_yarn.yarn.options import Mode, format_properties, parse_properties
from miniyarn import config as yarn_config
from miniyarn.client.yarn_client import YarnClientError

YARN_TARGETS = ("yarn-per-job", "yarn-session", "yarn-application")

F = TypeVar("F", bound=Callable[..., Any])


def err(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 1


def rm_address() -> str:
    return yarn_config.rm_address(None)


def properties_file(config: Configuration) -> Path:
    where = config.get("yarn.properties-file.location", "") or tempfile.gettempdir()
    return Path(where) / f".yarn-properties-{getpass.getuser()}"


def session_from_properties(config: Configuration) -> str | None:
    path = properties_file(config)
    if not path.is_file():
        return None
    app_id = parse_properties(path.read_text()).get("applicationID")
    if app_id:
        print(f"Found Yarn properties file under {path}.")
    return app_id or None


def application_id(yid: str | None, config: Configuration) -> str | None:
    return yid or config.get("yarn.application.id", "") or None


def attach(app_id: str, descriptor: YarnClusterDescriptor) -> ClusterHandle:
    """The JobManager of a running Flink application on YARN."""
    try:
        report = descriptor.yarn.get_application(app_id)
    except YarnClientError as e:
        raise DeploymentError(str(e)) from None
    if report["state"] in FINAL_STATES:
        raise DeploymentError(f"The Flink cluster {app_id} has already ended ({report['state']}, final status "
                              f"{report['finalStatus']}); start a new one with `miniflink yarn-session`")
    url = jobmanager_url(report)
    if url is None or report["state"] != "RUNNING":
        return descriptor.follow_deployment(app_id)
    return descriptor.handle(app_id)


def yarn_rest_address(yid: str | None, target: str | None, config: Configuration) -> ClusterHandle | None:
    """For `list`/`cancel`: the YARN cluster named (its JobManager through the RM's proxy), or None."""
    app_id = application_id(yid, config)
    if app_id is None and target in YARN_TARGETS:
        app_id = session_from_properties(config)
        if app_id is None:
            raise DeploymentError(f"-t {target} needs the cluster's application id: -yid APPID or "
                                  "-Dyarn.application.id=APPID")
    if app_id is None:
        return None
    return attach(app_id, YarnClusterDescriptor(rm_address()))


def run_on_yarn(target: str, yid: str | None, dynamic: dict[str, str], parallelism: int, detached: bool,
                program: str, program_args: list[str]) -> int:
    """`miniflink run -t yarn-per-job|yarn-session`."""
    if not Path(program).is_file():
        return err(f"the program {program} does not exist")
    try:
        config = Configuration.load(dynamic)
    except ValueError as e:
        return err(str(e))
    descriptor = YarnClusterDescriptor(rm_address())
    shipped = config.explicit()
    try:
        if target == "yarn-per-job":
            executor: YarnPerJobExecutor | YarnSessionExecutor = YarnPerJobExecutor(descriptor, shipped,
                                                                                     detached)
        else:
            app_id = application_id(yid, config) or session_from_properties(config)
            if app_id is None:
                return err("no Flink session on YARN to submit to: start one with `miniflink yarn-session -d`, "
                           "or name it with -yid APPID / -Dyarn.application.id=APPID")
            executor = YarnSessionExecutor(descriptor, attach(app_id, descriptor))
        ctx = ExecutionContext(executor=executor, default_parallelism=parallelism, detached=detached,
                               config=dynamic, sysout=True)
        run_program(program, program_args, ctx)
    except (ProgramError, DeploymentError) as e:
        return err(str(e))
    if isinstance(executor, YarnPerJobExecutor) and not detached:
        for cluster in executor.clusters:
            report = descriptor.wait_final(cluster.app_id)
            print(f"Application {cluster.app_id} {report['state']} with final status {report['finalStatus']}")
    elif isinstance(executor, YarnPerJobExecutor):
        for cluster in executor.clusters:
            print(f"The Flink YARN application {cluster.app_id} runs detached; "
                  f"stop it with `miniflink cancel -yid {cluster.app_id} <JobID>` or "
                  f"`miniyarn application -kill {cluster.app_id}`")
    return 0


def _memory(value: str) -> str:
    return f"{value}m" if value.isdigit() else value


def cluster_keys(slots: str | None, name: str | None, queue: str | None, jm: str | None,
                 tm: str | None) -> dict[str, str]:
    """The configuration keys behind yarn-session's -s/-nm/-qu/-jm/-tm (and run's -ys/-ynm/-yqu/-yjm/-ytm);
    memory without a unit is MB, as Flink's YARN CLI reads it."""
    pairs = (("taskmanager.numberOfTaskSlots", slots), ("yarn.application.name", name),
             ("yarn.application.queue", queue), ("jobmanager.memory.process.size", jm and _memory(jm)),
             ("taskmanager.memory.process.size", tm and _memory(tm)))
    return {key: value for key, value in pairs if value}


# `flink run -m yarn-cluster` and its -y options: Flink's YARN syntax before -t (still in 1.13, and in
# most tutorials). -m yarn-cluster deploys a per-job cluster, or submits to the session named by -yid,
# -Dyarn.application.id or the properties file, as Flink's FlinkYarnSessionCli decides.
YARN_CLUSTER = "yarn-cluster"


def yarn_cluster_options(f: F) -> F:
    """run's -y options (their values reach the command as keyword arguments, read by yarn_cluster_keys)."""
    for deco in (click.option("-yd", "--yarndetached", "yd", is_flag=True, help="with -m yarn-cluster: detached"),
                 click.option("-yD", "yarn_dynamic", multiple=True, metavar="key=value",
                              help="with -m yarn-cluster: a configuration key (repeatable)"),
                 click.option("-yqu", "--yarnqueue", "yqu", default=None, metavar="QUEUE", help="the YARN queue"),
                 click.option("-ynm", "--yarnname", "ynm", default=None, metavar="NAME",
                              help="the YARN application's name"),
                 click.option("-ys", "--yarnslots", "ys", default=None, metavar="SLOTS",
                              help="slots per TaskManager"),
                 click.option("-ytm", "--yarntaskManagerMemory", "ytm", default=None, metavar="MB",
                              help="TaskManager memory (MB without a unit)"),
                 click.option("-yjm", "--yarnjobManagerMemory", "yjm", default=None, metavar="MB",
                              help="JobManager memory (MB without a unit)")):
        f = deco(f)
    return f


def yarn_cluster_keys(opts: Mapping[str, object]) -> dict[str, str]:
    """What run's -y options set (-yD pairs, then the named options); raises ValueError on a bad -yD."""
    def text(key: str) -> str | None:
        value = opts.get(key)
        return value if isinstance(value, str) else None

    yarn_dynamic = opts.get("yarn_dynamic") or ()
    out = parse_dynamic([str(item) for item in yarn_dynamic] if isinstance(yarn_dynamic, tuple | list) else [])
    out.update(cluster_keys(text("ys"), text("ynm"), text("yqu"), text("yjm"), text("ytm")))
    return out


def run_application(target: str, parallelism: int | None, dynamic_items: list[str], program: str | None,
                    prog_args: list[str]) -> int:
    """`miniflink run-application -t yarn-application`."""
    if target != "yarn-application":
        return err(f"run-application supports -t yarn-application (got {target!r}); for a standalone "
                   "application cluster use `miniflink standalone-job start --python FILE`")
    if program is None:
        return err("no program given; use -py FILE")
    if not Path(program).is_file():
        return err(f"the program {program} does not exist")
    try:
        check_parallelism(parallelism)
        dynamic = parse_dynamic(dynamic_items)
        if parallelism:
            dynamic["parallelism.default"] = str(parallelism)
        config = Configuration.load(dynamic)
        descriptor = YarnClusterDescriptor(rm_address())
        cluster = descriptor.deploy(ClusterSpec(Mode.APPLICATION, config.explicit(), program=Path(program),
                                                program_args=prog_args))
    except (ValueError, DeploymentError) as e:
        return err(str(e))
    print(f"Submitted application {cluster.app_id}; its main runs in the JobManager. "
          f"Follow it at {cluster.proxy_url}")
    return 0


def yarn_session(detached: bool, keys: dict[str, str], app_id: str | None, dynamic_items: list[str],
                 action: str | None) -> int:
    """`miniflink yarn-session`: start a session (keys: what -s/-nm/-qu/-jm/-tm set), or with -id attach/stop."""
    try:
        dynamic = parse_dynamic(dynamic_items)
    except ValueError as e:
        return err(str(e))
    dynamic.update(keys)
    config = Configuration.load(dynamic)
    descriptor = YarnClusterDescriptor(rm_address())
    if app_id and action == "stop":
        return stop_session(descriptor, app_id, config)
    if app_id:
        try:
            cluster = attach(app_id, descriptor)
        except DeploymentError as e:
            return err(str(e))
        print(f"JobManager Web Interface: {cluster.proxy_url}")
        return 0
    try:
        cluster = descriptor.deploy(ClusterSpec(Mode.SESSION, config.explicit()))
    except DeploymentError as e:
        return err(str(e))
    path = properties_file(config)
    path.write_text(format_properties({"applicationID": cluster.app_id,
                                       "dynamicPropertiesString": "@@".join(f"{k}={v}" for k, v in dynamic.items())}))
    print(f"Writing the application id {cluster.app_id} to {path}: `miniflink run` submits there by default.")
    if detached:
        print("The Flink YARN session cluster has been started in detached mode. In order to stop Flink "
              "gracefully, use the following command:\n"
              f"$ miniflink yarn-session -id {cluster.app_id} stop\n"
              "If this should not be possible, then you can also kill Flink via YARN's web interface or via:\n"
              f"$ miniyarn application -kill {cluster.app_id}")
        return 0
    print("Flink session cluster is running; type 'stop' or press Ctrl-C to stop it.", flush=True)
    try:
        for line in sys.stdin:
            if line.strip() == "stop":
                break
        else:
            # No terminal to read from (stdin closed): stay up until interrupted, like a daemon.
            while descriptor.yarn.get_application(cluster.app_id)["state"] not in FINAL_STATES:
                time.sleep(1)
            return 0
    except KeyboardInterrupt:
        pass
    return stop_session(descriptor, cluster.app_id, config)


def stop_session(descriptor: YarnClusterDescriptor, app_id: str, config: Configuration) -> int:
    """Flink's graceful stop: the JobManager unregisters (FINISHED/SUCCEEDED) and its containers go."""
    try:
        report = descriptor.yarn.get_application(app_id)
    except YarnClientError as e:
        return err(str(e))
    url = jobmanager_url(report)
    if report["state"] not in FINAL_STATES and url is not None:
        print(f"Shutting down the Flink session cluster {app_id}")
        try:
            descriptor.http.delete(descriptor.proxy_of(app_id) + "/cluster", timeout=10).raise_for_status()
        except httpx.HTTPError:
            descriptor.yarn.kill_application(app_id, "Flink session stopped by the client")
        report = descriptor.wait_final(app_id)
    elif report["state"] not in FINAL_STATES:
        descriptor.yarn.kill_application(app_id, "Flink session stopped by the client")
        report = descriptor.wait_final(app_id)
    path = properties_file(config)
    if path.is_file() and parse_properties(path.read_text()).get("applicationID") == app_id:
        path.unlink()
        print(f"Deleted Yarn properties file {path}")
    print(f"Application {app_id} {report['state']} with final status {report['finalStatus']}")
    return 0
