"""`miniyarn rmadmin -getServiceState rm1 | -getAllServiceState | -transitionToStandby [--forcemanual] rm1 |
-transitionToActive [--forcemanual] rm1`: the HA part of YARN's RMAdminCLI (HAAdmin), with YARN's texts and
exit codes. RMs are found by id as YARN finds them: yarn.resourcemanager.ha.rm-ids and
yarn.resourcemanager.webapp.address.<id> (yarn-site.xml or -D)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import click
import httpx

from miniyarn import config
from miniyarn.cli.common import FAILED, fail
from miniyarn.cli.options import CONTEXT, define_option, exactly_one
from miniyarn.client.yarn_client import remote_message
from miniyarn.config import YarnConfiguration, parse_define
from miniyarn.security import client_token

AUTO_FAILOVER_KEY = "yarn.resourcemanager.ha.automatic-failover.enabled"
# HAAdmin's refusal of a manual transition while the elector manages the state.
REFUSE_MANUAL = ("Automatic failover is enabled for {target}\n"
                 "Refusing to manually manage HA state, since it may cause\n"
                 "a split-brain scenario or other incorrect state.\n"
                 "If you are very sure you know what you are doing, please \n"
                 "specify the --forcemanual flag.")
FORCEMANUAL_WARNING = ("You have specified the --forcemanual flag. This flag is dangerous, as it can induce a "
                       "split-brain scenario that WILL CORRUPT your state, possibly irrecoverably.\n")
# A forced transition to active cannot just declare an RM active (the leader election would fight it): it
# makes the active RMs step down (each then sits out one lease) and waits this many leases, plus the
# target's recovery, for the target to take the lease.
ACTIVE_WAIT_LEASES = 3
ACTIVE_WAIT_EXTRA_S = 5.0
# HAAdmin's `%-50s %-10s` lines of -getAllServiceState.
ALL_STATE_PATTERN = "%-50s %-10s"
TIMEOUT_S = 10.0
F = TypeVar("F", bound=Callable[..., Any])


def _service_id_option(name: str, help_text: str) -> Callable[[F], F]:
    # flag_value "": YARN's form is `-transitionToStandby [--forcemanual] <serviceId>`, the id after the flag
    # (then the positional SERVICE_ID), so the option may come without its value.
    def deco(f: F) -> F:
        return click.option(name, name.lstrip("-"), default=None, is_flag=False, flag_value="", metavar="serviceId",
                            help=help_text)(f)
    return deco


@click.command("rmadmin", context_settings=CONTEXT)
@_service_id_option("-getServiceState", "print active or standby for one RM id")
@click.option("-getAllServiceState", "getAllServiceState", is_flag=True, help="print every RM's address and state")
@_service_id_option("-transitionToStandby", "make an RM standby (needs --forcemanual while automatic failover is on)")
@_service_id_option("-transitionToActive", "make an RM active (needs --forcemanual while automatic failover is on): "
                     "the active one steps down and the election hands the lease to it")
@click.option("--forcemanual", "forcemanual", is_flag=True,
              help="act although automatic failover is enabled (dangerous, as in YARN)")
@click.argument("service_id", required=False, default="")
@define_option
@click.pass_context
def command(ctx: click.Context, getServiceState: str | None, getAllServiceState: bool,
            transitionToStandby: str | None, transitionToActive: str | None, forcemanual: bool,
            service_id: str, defines: tuple[str, ...]) -> int:
    """admin tools: the ResourceManagers' HA state (-getServiceState, -transitionToStandby)"""
    verbs = {"getServiceState": getServiceState is not None, "getAllServiceState": getAllServiceState,
             "transitionToStandby": transitionToStandby is not None,
             "transitionToActive": transitionToActive is not None}
    exactly_one(ctx, **verbs)
    return run(RmAdminRequest(getServiceState, getAllServiceState, transitionToStandby, transitionToActive,
                              forcemanual, service_id, defines))


@dataclass(frozen=True)
class RmAdminRequest:
    """What `miniyarn rmadmin` was asked, in YARN's option names."""

    getServiceState: str | None
    getAllServiceState: bool
    transitionToStandby: str | None
    transitionToActive: str | None
    forcemanual: bool
    service_id: str
    defines: tuple[str, ...]


class ServiceError(Exception):
    pass


def service_state(address: str) -> str:
    """`active` or `standby`, as HAServiceProtocol.getServiceStatus says it (ServiceError if unreachable)."""
    try:
        resp = httpx.get(f"{address}/ws/v1/cluster/info", headers=client_token.headers(), timeout=TIMEOUT_S)
    except httpx.HTTPError as e:
        raise ServiceError(f"Call to {address} failed on connection exception: {e}") from None
    if resp.status_code != 200:
        raise ServiceError(remote_message(resp))
    return str(resp.json()["clusterInfo"].get("haState", "ACTIVE")).lower()


def _host_port(address: str) -> str:
    return address.split("://", 1)[-1]


def run(args: RmAdminRequest) -> int:
    try:
        conf = YarnConfiguration(dict(parse_define(d) for d in args.defines))
    except ValueError as e:
        return fail(f"rmadmin: {e}")
    ids = config.rm_ids(conf)
    verb = ("-getServiceState" if args.getServiceState is not None else "-getAllServiceState"
            if args.getAllServiceState else "-transitionToStandby" if args.transitionToStandby is not None
            else "-transitionToActive")
    wanted = args.getServiceState or args.transitionToStandby or args.transitionToActive or args.service_id
    if not ids:
        return fail(f"Cannot run {verb} when ResourceManager HA is not enabled")
    if not wanted and not args.getAllServiceState:
        return fail(f"{verb}: incorrect number of arguments\nUsage: rmadmin [{verb} <serviceId>]")
    if args.getAllServiceState:
        for rm_id in ids:
            address = config.rm_webapp_address(conf, rm_id)
            try:
                state = service_state(address)
            except ServiceError as e:
                state = f"Failed to connect: {e}"
            print(ALL_STATE_PATTERN % (_host_port(address), state))
        return 0
    if wanted not in ids:
        return fail(f"Illegal argument: {wanted} is not one of yarn.resourcemanager.ha.rm-ids ({','.join(ids)})")
    address = config.rm_webapp_address(conf, wanted)
    if not address:
        return fail(f"yarn.resourcemanager.webapp.address.{wanted} is not set")
    if args.getServiceState is not None:
        try:
            print(service_state(address))
        except ServiceError as e:
            return fail(f"Operation failed: {e}")
        return 0
    automatic = conf.get_bool(AUTO_FAILOVER_KEY, True)
    if automatic and not args.forcemanual:
        return fail(REFUSE_MANUAL.format(target=_host_port(address)))
    if args.forcemanual:
        print(FORCEMANUAL_WARNING, file=sys.stderr)
    if args.transitionToActive is not None:
        others = [a for a in (config.rm_webapp_address(conf, i) for i in ids if i != wanted) if a]
        return transition_to_active(address, others, conf.get_int("yarn.resourcemanager.ha.lease-ms"))
    refused = transition_to_standby(address)
    return fail(f"Operation failed: {refused}") if refused else 0


def transition_to_standby(address: str) -> str:
    """Make the RM at `address` standby; "" if done, else why not."""
    try:
        resp = httpx.post(f"{address}/ws/v1/cluster/ha/transitionToStandby", json={},
                          headers=client_token.headers(), timeout=TIMEOUT_S)
    except httpx.HTTPError as e:
        return f"Call to {address} failed on connection exception: {e}"
    return "" if resp.status_code == 200 else remote_message(resp)


def transition_to_active(address: str, others: list[str], lease_ms: int) -> int:
    """The RM at `address` active: every other active RM steps down (sitting out one lease, so the standby
    target takes the lease), then wait for the target to say it is active."""
    try:
        if service_state(address) == "active":
            return 0
    except ServiceError as e:
        return fail(f"Operation failed: {e}")
    for other in others:
        try:
            active = service_state(other) == "active"
        except ServiceError:
            continue  # unreachable: holds no lease it can renew
        if active and (refused := transition_to_standby(other)):
            return fail(f"Operation failed: {refused}")
    wait_s = ACTIVE_WAIT_LEASES * lease_ms / 1000 + ACTIVE_WAIT_EXTRA_S
    deadline = time.monotonic() + wait_s
    state = ""
    while time.monotonic() < deadline:
        try:
            state = service_state(address)
        except ServiceError as e:
            state = str(e)
        if state == "active":
            return 0
        time.sleep(0.1)
    return fail(f"Operation failed: {_host_port(address)} did not become active within "
                f"{wait_s:.0f}s (last state: {state}); "
                "another ResourceManager may have taken the lease")


__all__ = ["FAILED", "command", "run", "service_state"]
