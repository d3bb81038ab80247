"""`miniflink`: the `flink` command's verbs (run, list, cancel) and the standalone scripts' (start-cluster, ...).

    miniflink start-cluster | stop-cluster
    miniflink run [-t remote|yarn-per-job|yarn-session] [-m host:port] [-yid APPID] [-p N] [-d] [-D k=v]...
                  -py FILE [args]
    miniflink run -m yarn-cluster [-yjm MB] [-ytm MB] [-ys SLOTS] [-ynm NAME] [-yqu QUEUE] [-yD k=v]... [-yd]
                  -py FILE [args]      (Flink's older YARN syntax: a per-job cluster, or -yid's session)
    miniflink run-application -t yarn-application [-p N] [-D k=v]... -py FILE [args]
    miniflink yarn-session [-d] [-s SLOTS] [-jm MB] [-tm MB] [-nm NAME] [-qu QUEUE] [-D k=v]...
    miniflink yarn-session -id APPID stop
    miniflink list [-m host:port | -yid APPID] [-a] | cancel [-m host:port | -yid APPID] JOBID
    miniflink taskmanager start|stop|start-foreground
    miniflink standalone-job start|stop|start-foreground --python FILE [args]
"""

from __future__ import annotations

import argparse
import socket
import sys
import time
from datetime import datetime

from flink_on_yarn.cli import yarn
from flink_on_yarn.client.executor import ExecutionContext
from flink_on_yarn.client.program import ProgramError, run_program
from flink_on_yarn.client.rest_client import RemoteExecutor, RestClient, RestError
from flink_on_yarn.runtime.config import Configuration, conf_dir, parse_dynamic
from flink_on_yarn.security import secret as cluster_secret
from flink_on_yarn.standalone import cluster, daemons
from flink_on_yarn.yarn.descriptor import DeploymentError


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("-m", "--jobmanager", default=None, help="JobManager REST address host:port")
    p.add_argument("-D", dest="dynamic", action="append", default=[], metavar="key=value")
    p.add_argument("-yid", "--yarnapplicationId", dest="yid", default=None, help="a Flink cluster on YARN")
    p.add_argument("-t", "--target", default=None)


def _endpoint(ns: argparse.Namespace, config: Configuration) -> tuple[str, str | None]:
    """The JobManager's REST address and the token to present there: a cluster on YARN through the RM's
    proxy with the user's miniyarn token; any other with this user's cluster secret (secret.py)."""
    if ns.jobmanager and ns.jobmanager != yarn.YARN_CLUSTER:
        return str(ns.jobmanager), _standalone_token(config)
    on_yarn = yarn.yarn_rest_address(ns.yid, ns.target, config)
    if on_yarn is not None:
        return on_yarn.rest_url, on_yarn.token
    return cluster.rest_address(config), _standalone_token(config)


def _standalone_token(config: Configuration) -> str | None:
    found = cluster_secret.for_client(config)
    return found.decode() if found is not None else None


def _split_program(argv: list[str]) -> tuple[list[str], str | None, list[str]]:
    """Options before `-py FILE`, the file, and the program's own arguments after it."""
    for i, a in enumerate(argv):
        if a in ("-py", "--python") and i + 1 < len(argv):
            return argv[:i], argv[i + 1], argv[i + 2:]
    return argv, None, []


def cmd_run(argv: list[str]) -> int:
    opts, program, prog_args = _split_program(argv)
    p = argparse.ArgumentParser(prog="miniflink run")
    _common(p)
    p.add_argument("-p", "--parallelism", type=int, default=None)
    p.add_argument("-d", "--detached", action="store_true")
    yarn.add_yarn_cluster_options(p)
    ns = p.parse_args(opts)
    if program is None:
        print("error: no program given; use -py FILE", file=sys.stderr)
        return 1
    try:
        dynamic = parse_dynamic(ns.dynamic)
        dynamic.update(yarn.yarn_cluster_keys(ns))
        config = Configuration.load(dynamic)
        parallelism = ns.parallelism or config.get_int("parallelism.default")
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    target = ns.target
    on_yarn_cluster = ns.jobmanager == yarn.YARN_CLUSTER
    if target is None and (not ns.jobmanager or on_yarn_cluster) and (
            ns.yid or config.get("yarn.application.id", "") or yarn.session_from_properties(config)):
        target = "yarn-session"
    elif target is None and on_yarn_cluster:
        target = "yarn-per-job"
    detached = ns.detached or ns.yd
    if target == "yarn-application":
        return yarn.err("-t yarn-application deploys with `miniflink run-application -t yarn-application -py FILE`")
    if target in ("yarn-per-job", "yarn-session"):
        return yarn.run_on_yarn(target, ns.yid, dynamic, parallelism, detached, program, prog_args)
    if on_yarn_cluster:
        return yarn.err(f"-m yarn-cluster deploys on YARN; it cannot go with -t {target}")
    if target not in (None, "remote", "local"):
        return yarn.err(f"unknown deployment target {target!r}; use remote, yarn-per-job, yarn-session or "
                        "yarn-application")
    address, token = _endpoint(ns, config)
    ctx = ExecutionContext(executor=RemoteExecutor(address, token=token), default_parallelism=parallelism,
                           detached=detached, config=dynamic, sysout=True)
    try:
        run_program(program, prog_args, ctx)
    except ProgramError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


def cmd_list(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="miniflink list")
    _common(p)
    p.add_argument("-a", "--all", action="store_true")
    p.add_argument("-r", "--running", action="store_true")
    ns = p.parse_args(argv)
    config = Configuration.load(parse_dynamic(ns.dynamic))
    try:
        address, token = _endpoint(ns, config)
        jobs = RestClient(address, token=token).jobs_overview()
    except RestError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print("Waiting for response...")

    def show(title: str, selected: list[dict[str, object]]) -> None:
        if not selected:
            print(f"No {title.lower()} jobs.")
            return
        print(f"------------------ {title} Jobs -------------------")
        for j in sorted(selected, key=lambda x: int(str(x["start-time"]))):
            started = datetime.fromtimestamp(int(str(j["start-time"])) / 1000).strftime("%d.%m.%Y %H:%M:%S")
            print(f"{started} : {j['jid']} : {j['name']} ({j['state']})")
        print("--------------------------------------------------------------")

    active = [j for j in jobs if j["state"] in ("RUNNING", "RESTARTING", "CREATED", "CANCELLING", "FAILING")]
    show("Running/Restarting", active)
    if ns.all:
        show("Terminated", [j for j in jobs if j not in active])
    return 0


def cmd_cancel(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="miniflink cancel")
    _common(p)
    p.add_argument("job_id")
    ns = p.parse_args(argv)
    config = Configuration.load(parse_dynamic(ns.dynamic))
    address, token = _endpoint(ns, config)
    rest = RestClient(address, token=token)
    print(f"Cancelling job {ns.job_id}.")
    try:
        rest.cancel(ns.job_id)
    except RestError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    deadline = time.monotonic() + 60
    try:
        while rest.job(ns.job_id)["state"] not in ("CANCELED", "FINISHED", "FAILED") and time.monotonic() < deadline:
            time.sleep(0.1)
    except RestError as e:
        # A per-job or application cluster on YARN stops with its job: a JobManager gone after the
        # cancel was accepted is the cancel taking effect.
        if address == (ns.jobmanager or "") or cluster.rest_address(config) == address:
            print(f"error: {e}", file=sys.stderr)
            return 1
    print(f"Cancelled job {ns.job_id}.")
    return 0


def cmd_daemon(kind: str, argv: list[str]) -> int:
    opts, program, prog_args = _split_program(argv)
    p = argparse.ArgumentParser(prog=f"miniflink {kind}")
    p.add_argument("action", choices=["start", "stop", "stop-all", "start-foreground"])
    p.add_argument("-D", dest="dynamic", action="append", default=[], metavar="key=value")
    ns = p.parse_args(opts)
    dynamic = parse_dynamic(ns.dynamic)
    config = Configuration.load(dynamic)
    d = conf_dir()
    args = cluster.config_args(d, dynamic)
    proc_kind = {"taskmanager": daemons.TASKMANAGER, "jobmanager": daemons.JOBMANAGER,
                 "standalone-job": daemons.STANDALONE_JOB}[kind]
    if proc_kind == daemons.STANDALONE_JOB and ns.action.startswith("start"):
        if program is None:
            print("error: standalone-job needs --python FILE", file=sys.stderr)
            return 1
        args += ["--python", program, "--", *prog_args]
    if ns.action == "start-foreground":
        import runpy

        sys.argv = [daemons.MODULES[proc_kind], *args]
        runpy.run_module(daemons.MODULES[proc_kind], run_name="__main__")
        return 0
    if ns.action == "start":
        pid = daemons.start(config, proc_kind, args)
        print(f"Starting {proc_kind} daemon (pid: {pid}) on host {socket.gethostname()}.")
        return 0
    stopped = daemons.stop(config, proc_kind, all_instances=ns.action == "stop-all" or kind != "taskmanager")
    if not stopped:
        print(f"No {proc_kind} daemon to stop on host {socket.gethostname()}.")
    for pid in stopped:
        print(f"Stopping {proc_kind} daemon (pid: {pid}) on host {socket.gethostname()}.")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help", "help"):
        print(__doc__)
        return 0 if args else 1
    verb, rest = args[0], args[1:]
    try:
        if verb == "run":
            return cmd_run(rest)
        if verb == "run-application":
            return yarn.cmd_run_application(rest, _split_program(rest))
        if verb == "yarn-session":
            return yarn.cmd_yarn_session(rest)
        if verb == "list":
            return cmd_list(rest)
        if verb == "cancel":
            return cmd_cancel(rest)
        if verb in ("start-cluster", "stop-cluster"):
            p = argparse.ArgumentParser(prog=f"miniflink {verb}")
            p.add_argument("-D", dest="dynamic", action="append", default=[], metavar="key=value")
            ns = p.parse_args(rest)
            dyn = parse_dynamic(ns.dynamic)
            return cluster.start_cluster(dyn) if verb == "start-cluster" else cluster.stop_cluster(dyn)
        if verb in ("taskmanager", "jobmanager", "standalone-job"):
            return cmd_daemon(verb, rest)
    except (ValueError, DeploymentError, cluster_secret.SecretError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"error: unknown command {verb!r}; see `miniflink --help`", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
