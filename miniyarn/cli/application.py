"""`miniyarn application -list | -status ID | -kill ID`: YARN's ApplicationCLI, its output to the
character (the column pattern, `Application Report : ` block, kill messages and exit codes)."""

from __future__ import annotations

import time
from typing import Any

import click

from miniyarn.cli import completion
from miniyarn.cli.common import (
    FAILED,
    am_host_and_port,
    fail,
    java_percent,
    report_block,
    split_list,
    yarn_client,
)
from miniyarn.cli.options import CONTEXT, app_id_option, exactly_one, rm_address_option, states_option
from miniyarn.client.yarn_client import YarnClient, YarnClientError
from miniyarn.states.application import CLIENT_STATES

# ApplicationCLI.APPLICATIONS_PATTERN.
APPLICATIONS_PATTERN = "%30s\t%20s\t%20s\t%10s\t%10s\t%18s\t%18s\t%15s\t%35s"
HEADER = ("Application-Id", "Application-Name", "Application-Type", "User", "Queue", "State", "Final-State",
          "Progress", "Tracking-URL")
DEFAULT_STATES = ["SUBMITTED", "ACCEPTED", "RUNNING"]
ALL_STATES = [s.value for s in CLIENT_STATES]
FINAL_STATES = {"FINISHED", "FAILED", "KILLED"}
# YarnClientImpl.killApplication polls until the RM says KILLED; our RM gives an AM that does not
# exit KILL_GRACE_MS (5 s) before declaring it KILLED anyway, so 30 s is generous.
KILL_WAIT_S = 30.0


@click.command("application", context_settings=CONTEXT)
@click.option("-list", "--list", "list_", is_flag=True,
              help="list applications (default states SUBMITTED, ACCEPTED, RUNNING)")
@app_id_option("-status", "--status", "status_id", help_text="print an application's report")
@app_id_option("-kill", "--kill", "kill_id", live_only=True, help_text="kill applications (more ids may follow)")
@click.argument("more_ids", nargs=-1, metavar="", shell_complete=completion.live_application_ids)
@states_option("-appStates", "--appStates", "app_states", complete=completion.app_states,
               help_text="with -list: comma-separated states, or ALL")
@click.option("-appTypes", "--appTypes", "app_types", multiple=True, metavar="Types",
              help="with -list: comma-separated application types")
@rm_address_option
@click.pass_context
def command(ctx: click.Context, list_: bool, status_id: str | None, kill_id: str | None, more_ids: tuple[str, ...],
            app_states: tuple[str, ...], app_types: tuple[str, ...], rm_address: str | None) -> int:
    """prints application(s) report / kill application"""
    exactly_one(ctx, list=list_, status=status_id, kill=kill_id)
    if more_ids and kill_id is None:  # only -kill takes several ids (`-kill ID ID ...`, as YARN's)
        raise click.UsageError(f"unrecognized arguments: {' '.join(more_ids)}", ctx)
    with yarn_client(rm_address) as yarn:
        try:
            if list_:
                return list_apps(yarn, split_list(",".join(app_states)), split_list(",".join(app_types)))
            if status_id:
                return status(yarn, status_id)
            return max(kill(yarn, app_id) for app_id in (str(kill_id), *more_ids))
        except YarnClientError as e:
            return fail(str(e))


def format_row(values: tuple[object, ...]) -> str:
    return APPLICATIONS_PATTERN % tuple(str(v) for v in values)


def app_row(app: dict[str, Any]) -> str:
    return format_row((app["id"], app.get("name", ""), app.get("applicationType", ""), app.get("user", ""),
                       app.get("queue", ""), app["state"], app["finalStatus"],
                       java_percent(float(app.get("progress", 0.0)) / 100), app.get("trackingUrl", "")))


def list_apps(yarn: YarnClient, states: list[str], types: list[str]) -> int:
    wanted = [s.upper() for s in states] or DEFAULT_STATES
    if "ALL" in wanted:
        wanted = ALL_STATES
    bad = [s for s in wanted if s not in ALL_STATES]
    if bad:
        print(f"The application state {bad[0]} is invalid.")
        print("The valid application state can be one of the following: ALL," + ",".join(ALL_STATES))
        return FAILED
    ordered = [s for s in ALL_STATES if s in wanted]  # EnumSet order, as Java prints it
    type_set = sorted({t.upper() for t in types})
    apps = yarn.list_applications(states=ordered, types=type_set or None)
    print(f"Total number of applications (application-types: [{', '.join(type_set)}], "
          f"states: [{', '.join(ordered)}] and tags: []):{len(apps)}")
    print(format_row(HEADER))
    for app in apps:
        print(app_row(app))
    return 0


def not_found(app_id: str) -> int:
    return fail(f"Application with id '{app_id}' doesn't exist in RM.")


def get_app(yarn: YarnClient, app_id: str) -> dict[str, Any] | None:
    try:
        return yarn.get_application(app_id)
    except YarnClientError as e:
        if e.status == 404:
            return None
        raise


def report_lines(app: dict[str, Any]) -> list[str]:
    """ApplicationCLI.printApplicationReport, then what a user asks next: what runs now, and its size."""
    host, port = am_host_and_port(str(app.get("amRPCAddress") or ""))
    fields = [
        ("Application-Id", app["id"]),
        ("Application-Name", app.get("name", "")),
        ("Application-Type", app.get("applicationType", "")),
        ("User", app.get("user", "")),
        ("Queue", app.get("queue", "")),
        ("Application Priority", app.get("priority", 0)),
        ("Start-Time", app.get("startedTime", 0)),
        ("Finish-Time", app.get("finishedTime", 0)),
        ("Progress", java_percent(float(app.get("progress", 0.0)) / 100)),
        ("State", app["state"]),
        ("Final-State", app["finalStatus"]),
        ("Tracking-URL", app.get("trackingUrl", "N/A")),
        ("RPC Port", port),
        ("AM Host", host),
        ("Aggregate Resource Allocation",
         f"{app.get('memorySeconds', 0)} MB-seconds, {app.get('vcoreSeconds', 0)} vcore-seconds"),
        ("Aggregate Resource Preempted", "0 MB-seconds, 0 vcore-seconds"),
        ("Log Aggregation Status", app.get("logAggregationStatus", "N/A")),
        ("Diagnostics", app.get("diagnostics", "")),
        ("Unmanaged Application", str(bool(app.get("unmanagedApplication", False))).lower()),
        ("Application Node Label Expression", "<Not set>"),
        ("AM container Node Label Expression", "<DEFAULT_PARTITION>"),
        ("Running Containers", app.get("runningContainers", 0)),
        ("Allocated Resource", f"<memory:{app.get('allocatedMB', 0)}, vCores:{app.get('allocatedVCores', 0)}>"),
    ]
    return report_block("Application Report : ", fields)


def status(yarn: YarnClient, app_id: str) -> int:
    app = get_app(yarn, app_id)
    if app is None:
        return not_found(app_id)
    print("\n".join(report_lines(app)))
    return 0


def kill(yarn: YarnClient, app_id: str) -> int:
    app = get_app(yarn, app_id)
    if app is None:
        return not_found(app_id)
    if app["state"] in FINAL_STATES:
        print(f"Application {app_id} has already finished ")
        return 0
    print(f"Killing application {app_id}", flush=True)
    yarn.kill_application(app_id)
    deadline = time.monotonic() + KILL_WAIT_S
    while (app := yarn.get_application(app_id))["state"] not in FINAL_STATES:
        if time.monotonic() > deadline:
            return fail(f"Application {app_id} is still {app['state']} {KILL_WAIT_S:.0f} s after the kill; "
                        f"see: miniyarn application -status {app_id}")
        time.sleep(0.1)
    print(f"Killed application {app_id}")
    return 0
