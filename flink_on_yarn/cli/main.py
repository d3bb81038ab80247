"""`miniflink`: the `flink` command's verbs (run, list, cancel) and the standalone scripts' (start-cluster, ...).

    miniflink start-cluster | stop-cluster
    miniflink run [-t remote|yarn-per-job|yarn-session] [-m host:port] [-yid APPID] [-p N] [-d] [-D k=v]...
                  -py FILE [args]
    miniflink run -m yarn-cluster [-yjm MB] [-ytm MB] [-ys SLOTS] [-ynm NAME] [-yqu QUEUE] [-yD k=v]... [-yd]
                  -py FILE [args]      (Flink's older YARN syntax: a per-job cluster, or -yid's session)
    miniflink run-application -t yarn-application [-p N] [-D k=v]... -py FILE [args]
    miniflink yarn-session [-d] [-s SLOTS] [-jm MB] [-tm MB] [-nm NAME] [-qu QUEUE] [-D k=v]...
    miniflink yarn-session -id APPID stop
    miniflink run ... -s SAVEPOINT_PATH [-n|--allowNonRestoredState] -py FILE [args]
    miniflink list [-m host:port | -yid APPID] [-a] | cancel [-m host:port | -yid APPID] [-s [DIR]] JOBID
    miniflink savepoint [-m host:port | -yid APPID] JOBID [DIR]
    miniflink stop [-m host:port | -yid APPID] [-p|--savepointPath DIR] [-d|--drain] JOBID
    miniflink taskmanager start|stop|start-foreground
    miniflink standalone-job start|stop|start-foreground --python FILE [args]
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from datetime import datetime

import click

from flink_on_yarn.cli import savepoint as savepoints
from flink_on_yarn.cli import yarn
from flink_on_yarn.cli.completion import job_ids, yarn_application_ids
from flink_on_yarn.cli.endpoint import endpoint
from flink_on_yarn.cli.options import (
    CONTEXT,
    ProgramCommand,
    check_parallelism,
    client_options,
    detached_option,
    dynamic_option,
    parallelism_option,
    program_option,
    target_option,
)
from flink_on_yarn.client.executor import ExecutionContext
from flink_on_yarn.client.program import ProgramError, run_program
from flink_on_yarn.client.rest_client import RemoteExecutor, RestClient, RestError
from flink_on_yarn.common.config import Configuration, conf_dir, parse_dynamic
from flink_on_yarn.runtime.savepoints import IGNORE_UNCLAIMED, RESTORE_PATH
from flink_on_yarn.security import secret as cluster_secret
from flink_on_yarn.standalone import cluster, daemons
from flink_on_yarn.yarn.descriptor import DeploymentError

COMPLETE_VAR = "_MINIFLINK_COMPLETE"
# The verbs that deploy on YARN: SIGTERM there is an interrupt like Ctrl-C, so that a deployment it stops
# kills its half-deployed application (descriptor.deploy) instead of leaving it to start unattended.
DEPLOYING_VERBS = ("run", "run-application", "yarn-session")
_interrupted_by = [signal.SIGINT]


def _terminate(signum: int, _frame: object) -> None:
    _interrupted_by[0] = signal.Signals(signum)
    raise KeyboardInterrupt


class FlinkGroup(click.Group):
    """The verbs' return value is the exit status, and every error they can meet is one line on stderr
    (never a traceback), also under click's CliRunner."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            rv = super().invoke(ctx)
        except (ValueError, DeploymentError, cluster_secret.SecretError) as e:
            print(f"error: {e}", file=sys.stderr)
            rv = 1
        except KeyboardInterrupt as e:
            # Caught here, before click turns it into a bare Abort: one line, and the shell's status for
            # death by that signal (130 SIGINT, 143 SIGTERM).
            print(f"error: {e}" if str(e) else "error: interrupted", file=sys.stderr)
            rv = 128 + _interrupted_by[0]
        ctx.exit(int(rv or 0))


@click.group(cls=FlinkGroup, context_settings=CONTEXT, add_help_option=False)
def cli() -> None:
    """miniflink: the `flink` command's verbs and the standalone scripts'."""


@cli.command("run", cls=ProgramCommand, context_settings=CONTEXT)
@client_options
@parallelism_option
@detached_option
@click.option("-s", "--fromSavepoint", "from_savepoint", default=None, metavar="PATH",
              help="the savepoint (or retained checkpoint) to restore the job from")
@click.option("-n", "--allowNonRestoredState", "allow_non_restored", is_flag=True,
              help="skip savepoint state that cannot be mapped to the new program")
@yarn.yarn_cluster_options
@program_option
def cmd_run(jobmanager: str | None, dynamic: tuple[str, ...], yid: str | None, target: str | None,
            parallelism: int | None, detached: bool, from_savepoint: str | None, allow_non_restored: bool,
            program: str | None, program_args: tuple[str, ...],
            **yarn_opts: str | bool | tuple[str, ...] | None) -> int:
    """Runs a program: on a JobManager (-m), or on YARN (-t yarn-per-job|yarn-session, -m yarn-cluster)."""
    if program is None:
        print("error: no program given; use -py FILE", file=sys.stderr)
        return 1
    try:
        check_parallelism(parallelism)
        dyn = parse_dynamic(list(dynamic))
        if from_savepoint:
            # Flink's SavepointRestoreSettings travel as these keys, to the job's configuration.
            dyn[RESTORE_PATH] = from_savepoint
            dyn[IGNORE_UNCLAIMED] = "true" if allow_non_restored else "false"
        dyn.update(yarn.yarn_cluster_keys(yarn_opts))
        config = Configuration.load(dyn)
        parallelism = parallelism or config.get_int("parallelism.default")
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    on_yarn_cluster = jobmanager == yarn.YARN_CLUSTER
    if target is None and (not jobmanager or on_yarn_cluster) and (
            yid or config.get("yarn.application.id", "") or yarn.session_from_properties(config)):
        target = "yarn-session"
    elif target is None and on_yarn_cluster:
        target = "yarn-per-job"
    detached = detached or bool(yarn_opts.get("yd"))
    if target == "yarn-application":
        return yarn.err("-t yarn-application deploys with `miniflink run-application -t yarn-application -py FILE`")
    if target in ("yarn-per-job", "yarn-session"):
        return yarn.run_on_yarn(target, yid, dyn, parallelism, detached, program, list(program_args))
    if on_yarn_cluster:
        return yarn.err(f"-m yarn-cluster deploys on YARN; it cannot go with -t {target}")
    if target not in (None, "remote", "local"):
        return yarn.err(f"unknown deployment target {target!r}; use remote, yarn-per-job, yarn-session or "
                        "yarn-application")
    address, token = endpoint(jobmanager, yid, target, config)
    ctx = ExecutionContext(executor=RemoteExecutor(address, token=token), default_parallelism=parallelism,
                           detached=detached, config=dyn, sysout=True)
    try:
        run_program(program, list(program_args), ctx)
    except ProgramError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


@cli.command("run-application", cls=ProgramCommand, context_settings=CONTEXT)
@target_option(default="yarn-application")
@parallelism_option
@dynamic_option
@program_option
def cmd_run_application(target: str, parallelism: int | None, dynamic: tuple[str, ...], program: str | None,
                        program_args: tuple[str, ...]) -> int:
    """Deploys an application cluster on YARN whose JobManager runs the program's main."""
    return yarn.run_application(target, parallelism, list(dynamic), program, list(program_args))


@cli.command("yarn-session", context_settings=CONTEXT)
@click.option("-d", "--detached", "detached", is_flag=True)
@click.option("-s", "--slots", "slots", default=None)
@click.option("-jm", "--jobManagerMemory", "jm", default=None)
@click.option("-tm", "--taskManagerMemory", "tm", default=None)
@click.option("-nm", "--name", "name", default=None)
@click.option("-qu", "--queue", "queue", default=None)
@click.option("-id", "--applicationId", "app_id", default=None, shell_complete=yarn_application_ids)
@dynamic_option
@click.argument("action", required=False, type=click.Choice(["stop"]))
def cmd_yarn_session(detached: bool, slots: str | None, jm: str | None, tm: str | None, name: str | None,
                     queue: str | None, app_id: str | None, dynamic: tuple[str, ...], action: str | None) -> int:
    """Starts a Flink session cluster on YARN, attaches to one (-id), or stops one (-id APPID stop)."""
    return yarn.yarn_session(detached, yarn.cluster_keys(slots, name, queue, jm, tm), app_id, list(dynamic), action)


@cli.command("list", context_settings=CONTEXT)
@client_options
@click.option("-a", "--all", "show_all", is_flag=True)
@click.option("-r", "--running", "running", is_flag=True)
def cmd_list(jobmanager: str | None, dynamic: tuple[str, ...], yid: str | None, target: str | None,
             show_all: bool, running: bool) -> int:
    """Lists the running (and with -a the terminated) jobs."""
    config = Configuration.load(parse_dynamic(list(dynamic)))
    try:
        address, token = endpoint(jobmanager, yid, target, config)
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
    if show_all:
        show("Terminated", [j for j in jobs if j not in active])
    return 0


def _rest(jobmanager: str | None, dynamic: tuple[str, ...], yid: str | None, target: str | None) -> RestClient:
    config = Configuration.load(parse_dynamic(list(dynamic)))
    address, token = endpoint(jobmanager, yid, target, config)
    return RestClient(address, token=token)


@cli.command("savepoint", context_settings=CONTEXT)
@client_options
@click.argument("job_id", shell_complete=job_ids)
@click.argument("directory", required=False)
def cmd_savepoint(jobmanager: str | None, dynamic: tuple[str, ...], yid: str | None, target: str | None,
                  job_id: str, directory: str | None) -> int:
    """Triggers a savepoint of a running job (into DIR, else execution.checkpointing.savepoint-dir)."""
    return savepoints.savepoint(_rest(jobmanager, dynamic, yid, target), job_id, directory)


@cli.command("stop", context_settings=CONTEXT)
@client_options
@click.option("-p", "--savepointPath", "directory", default=None, metavar="DIR",
              help="where the savepoint goes (else execution.checkpointing.savepoint-dir)")
@click.option("-d", "--drain", "drain", is_flag=True,
              help="emit MAX_WATERMARK before the savepoint: every window and event-time timer fires")
@click.argument("job_id", shell_complete=job_ids)
def cmd_stop(jobmanager: str | None, dynamic: tuple[str, ...], yid: str | None, target: str | None,
             directory: str | None, drain: bool, job_id: str) -> int:
    """Stops a job with a savepoint (its sources end behind the savepoint's barrier; the job FINISHES)."""
    return savepoints.stop(_rest(jobmanager, dynamic, yid, target), job_id, directory, drain)


@cli.command("cancel", context_settings=CONTEXT)
@client_options
@click.option("-s", "--withSavepoint", "with_savepoint", is_flag=False, flag_value="", default=None,
              metavar="[DIR]", help="deprecated (use stop): take a savepoint, then cancel")
@click.argument("job_id", required=False, shell_complete=job_ids)
def cmd_cancel(jobmanager: str | None, dynamic: tuple[str, ...], yid: str | None, target: str | None,
               with_savepoint: str | None, job_id: str | None) -> int:
    """Cancels a job (with -s after a savepoint)."""
    if job_id is None and with_savepoint:
        job_id, with_savepoint = with_savepoint, ""  # `cancel -s JOBID`: -s took the job id as its directory
    if job_id is None:
        raise click.UsageError("Missing argument 'JOB_ID'.")
    config = Configuration.load(parse_dynamic(list(dynamic)))
    address, token = endpoint(jobmanager, yid, target, config)
    rest = RestClient(address, token=token)
    if with_savepoint is not None:
        return savepoints.cancel_with_savepoint(rest, job_id, with_savepoint or None)
    print(f"Cancelling job {job_id}.")
    try:
        rest.cancel(job_id)
    except RestError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    deadline = time.monotonic() + 60
    try:
        while rest.job(job_id)["state"] not in ("CANCELED", "FINISHED", "FAILED") and time.monotonic() < deadline:
            time.sleep(0.1)
    except RestError as e:
        # A per-job or application cluster on YARN stops with its job: a JobManager gone after the
        # cancel was accepted is the cancel taking effect.
        if address == (jobmanager or "") or cluster.rest_address(config) == address:
            print(f"error: {e}", file=sys.stderr)
            return 1
    print(f"Cancelled job {job_id}.")
    return 0


@cli.command("start-cluster", context_settings=CONTEXT)
@dynamic_option
def cmd_start_cluster(dynamic: tuple[str, ...]) -> int:
    """Starts a standalone cluster (a JobManager and the configured TaskManagers)."""
    return cluster.start_cluster(parse_dynamic(list(dynamic)))


@cli.command("stop-cluster", context_settings=CONTEXT)
@dynamic_option
def cmd_stop_cluster(dynamic: tuple[str, ...]) -> int:
    """Stops the standalone cluster."""
    return cluster.stop_cluster(parse_dynamic(list(dynamic)))


DAEMON_ACTIONS = click.Choice(["start", "stop", "stop-all", "start-foreground"])


def _daemon_command(kind: str) -> None:
    @cli.command(kind, cls=ProgramCommand, context_settings=CONTEXT)
    @click.argument("action", type=DAEMON_ACTIONS)
    @dynamic_option
    @program_option
    def command(action: str, dynamic: tuple[str, ...], program: str | None, program_args: tuple[str, ...]) -> int:
        return cmd_daemon(kind, action, list(dynamic), program, list(program_args))

    command.help = f"Starts or stops a {kind} daemon on this host."


def cmd_daemon(kind: str, action: str, dynamic_items: list[str], program: str | None,
               prog_args: list[str]) -> int:
    dynamic = parse_dynamic(dynamic_items)
    config = Configuration.load(dynamic)
    d = conf_dir()
    args = cluster.config_args(d, dynamic)
    proc_kind = {"taskmanager": daemons.TASKMANAGER, "jobmanager": daemons.JOBMANAGER,
                 "standalone-job": daemons.STANDALONE_JOB}[kind]
    if proc_kind == daemons.STANDALONE_JOB and action.startswith("start"):
        if program is None:
            print("error: standalone-job needs --python FILE", file=sys.stderr)
            return 1
        args += ["--python", program, "--", *prog_args]
    if action == "start-foreground":
        import runpy

        sys.argv = [daemons.MODULES[proc_kind], *args]
        runpy.run_module(daemons.MODULES[proc_kind], run_name="__main__")
        return 0
    if action == "start":
        pid = daemons.start(config, proc_kind, args)
        print(f"Starting {proc_kind} daemon (pid: {pid}) on host {socket.gethostname()}.")
        return 0
    stopped = daemons.stop(config, proc_kind, all_instances=action == "stop-all" or kind != "taskmanager")
    if not stopped:
        print(f"No {proc_kind} daemon to stop on host {socket.gethostname()}.")
    for pid in stopped:
        print(f"Stopping {proc_kind} daemon (pid: {pid}) on host {socket.gethostname()}.")
    return 0


for _kind in ("taskmanager", "jobmanager", "standalone-job"):
    _daemon_command(_kind)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if COMPLETE_VAR in os.environ:
        # click's completion protocol: the shell's words come in the environment, the answer on stdout.
        cli.main(args, prog_name="miniflink", complete_var=COMPLETE_VAR)
        return 0
    if not args or args[0] in ("-h", "--help", "help"):
        print(__doc__)
        return 0 if args else 1
    if args[0] not in cli.commands:
        print(f"error: unknown command {args[0]!r}; see `miniflink --help`", file=sys.stderr)
        return 1
    if args[0] in DEPLOYING_VERBS:
        signal.signal(signal.SIGTERM, _terminate)
    try:
        # Not standalone: click returns the status FlinkGroup.invoke exits with (or --help's 0) instead of
        # calling sys.exit, so that main() stays callable from tests and other code.
        return int(cli.main(args, prog_name="miniflink", standalone_mode=False) or 0)
    except click.ClickException as e:  # a usage error: click's message, argparse's exit status 2
        e.show()
        return e.exit_code

if __name__ == "__main__":
    sys.exit(main())
