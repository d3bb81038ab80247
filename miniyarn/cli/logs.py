"""`miniyarn logs -applicationId ID [-containerId C | -am N,M|ALL|-1] [-log_files F]`: YARN's LogCLI.

Aggregated logs come from the RM's log server (`/ws/v1/applicationhistory/...`, as LogCLI reads them
from YARN's AHS), so a user needs a token, never a Redis credential; the parts not yet aggregated (a
running application, or nodes that still owe their upload) come from the NMs' own log endpoints, as
LogCLI reads a running application's logs from its NodeManagers. Both get `client_token.headers()`.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import click
import httpx

from miniyarn import config
from miniyarn.cli import completion
from miniyarn.cli.common import fail, java_date, split_list, yarn_client
from miniyarn.cli.options import CONTEXT, redis_url_option, rm_address_option
from miniyarn.client.yarn_client import YarnClient, YarnClientError
from miniyarn.ids import ApplicationId, ContainerId, InvalidIdError
from miniyarn.security import client_token

FINAL_STATES = {"FINISHED", "FAILED", "KILLED"}
# An NM that does not answer in this long is down; its logs come later from Redis, if ever.
NM_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class LogEntry:
    container_id: str
    node: str  # as printed: host_port when aggregated (YARN names the node's log file so), host:port live
    file: str
    contents: bytes
    modified_ms: int
    aggregation: str  # AGGREGATED or LOCAL


@dataclass(frozen=True)
class LogsRequest:
    """What `miniyarn logs` was asked for (its options, as parsed)."""
    app_id: str
    container_id: str | None
    am: str | None
    log_files: tuple[str, ...]
    rm_address: str | None


@click.command("logs", context_settings=CONTEXT)
@click.option("-applicationId", "--applicationId", "app_id", required=True, metavar="Application ID",
              shell_complete=completion.application_ids)
@click.option("-containerId", "--containerId", "container_id", default=None, metavar="Container ID",
              shell_complete=completion.container_ids, help="only this container's logs")
@click.option("-am", "--am", "am", default=None, metavar="AM Containers",
              help="only the AM containers' logs: 1,2 for attempts 1 and 2, ALL, or -1 for the latest")
@click.option("-log_files", "--log_files", "log_files", multiple=True, metavar="Log File Name",
              help="comma-separated file names (stdout, stderr, ...); ALL for every file")
# Accepted and ignored: aggregated logs come from the RM now, users hold no Redis credential.
@redis_url_option("ignored", hidden=True)
@rm_address_option
def command(app_id: str, container_id: str | None, am: str | None, log_files: tuple[str, ...],
            redis_url: str | None, rm_address: str | None) -> int:
    """dump container logs"""
    return run(LogsRequest(app_id, container_id, am, log_files, rm_address))


def format_entry(e: LogEntry) -> str:
    """LogToolUtils' header, the contents, and LogAggregationFileController's suffix."""
    head = f"Container: {e.container_id} on {e.node}"
    end = f"End of LogType:{e.file}"
    return (f"{head}\nLogAggregationType: {e.aggregation}\n{'=' * len(head)}\nLogType:{e.file}\n"
            f"LogLastModifiedTime:{java_date(e.modified_ms)}\nLogLength:{len(e.contents)}\nLogContents:\n"
            f"{e.contents.decode(errors='replace')}\n{end}\n{'*' * (len(end) + 50)}\n\n")


class LogServerError(Exception):
    """The RM's log server refused or failed; the message is what to print."""


def _refusal(resp: httpx.Response) -> str:
    try:
        return str(resp.json()["RemoteException"]["message"])
    except (ValueError, KeyError, TypeError):
        return f"HTTP {resp.status_code}"


def aggregated(rm: httpx.Client, app_id: str) -> tuple[list[LogEntry], set[str]]:
    """The app's aggregated files (contents not yet read) and the nodes that still owe theirs."""
    resp = rm.get(f"/ws/v1/applicationhistory/apps/{app_id}/logs")
    if resp.status_code == 404:
        return [], set()
    if resp.status_code != 200:
        raise LogServerError(f"The ResourceManager refused the logs of {app_id}: {_refusal(resp)}")
    body = resp.json()
    out = []
    for info in body.get("containerLogsInfo") or []:
        node = str(info["nodeId"]).replace(":", "_")
        for f in info.get("containerLogInfo") or []:
            out.append(LogEntry(str(info["containerId"]), node, str(f["fileName"]), b"",
                                int(f.get("lastModifiedTime") or 0), "AGGREGATED"))
    return out, {str(n) for n in body.get("pendingNodes") or []}


def with_contents(rm: httpx.Client, e: LogEntry) -> LogEntry:
    resp = rm.get(f"/ws/v1/applicationhistory/containerlogs/{e.container_id}/{quote(e.file, safe='')}")
    if resp.status_code != 200:
        raise LogServerError(f"The ResourceManager refused {e.file} of {e.container_id}: {_refusal(resp)}")
    return dataclasses.replace(e, contents=resp.content)


def live(http: httpx.Client, node_address: str, app_id: str) -> list[LogEntry]:
    """Every log file of `app_id`'s containers on one NM, through its /ws/v1/node API."""
    base = f"http://{node_address}/ws/v1/node"
    resp = http.get(f"{base}/apps/{app_id}")
    if resp.status_code == 404:
        return []
    resp.raise_for_status()
    out = []
    for cid in resp.json()["app"].get("containerids") or []:
        listing = http.get(f"{base}/containerlogs/{cid}")
        if listing.status_code != 200:
            continue
        for info in listing.json():
            node = str(info.get("nodeId") or node_address)
            for f in info.get("containerLogInfo") or []:
                body = http.get(f"{base}/containerlogs/{cid}/{quote(str(f['fileName']), safe='')}")
                if body.status_code == 200:
                    out.append(LogEntry(cid, node, str(f["fileName"]), body.content,
                                        int(f.get("lastModifiedTime") or 0), "LOCAL"))
    return out


def am_attempts(spec: str) -> set[int] | None:
    """`-am`'s value as attempt numbers: None for ALL, {-1} for the latest; ValueError if malformed."""
    if spec.strip().upper() == "ALL":
        return None
    numbers = {int(part) for part in split_list(spec)}
    if not numbers or any(n == 0 or n < -1 for n in numbers):
        raise ValueError(spec)
    return numbers


def am_entries(entries: list[LogEntry], attempts: set[int] | None) -> list[LogEntry]:
    """The entries of AM containers (sequence 000001 of an attempt) for the given attempt numbers."""
    by_attempt: dict[int, list[LogEntry]] = {}
    for e in entries:
        try:
            cid = ContainerId.parse(e.container_id)
        except InvalidIdError:
            continue
        if cid.container_id == 1:
            by_attempt.setdefault(cid.attempt_id.attempt_id, []).append(e)
    if attempts is not None and -1 in attempts:
        attempts = (attempts - {-1}) | ({max(by_attempt)} if by_attempt else set())
    return [e for n, es in by_attempt.items() if attempts is None or n in attempts for e in es]


def select(entries: list[LogEntry], container_id: str | None, files: list[str]) -> list[LogEntry]:
    wanted = set(files) - {"ALL"}
    picked = [e for e in entries if (container_id is None or e.container_id == container_id)
              and (not wanted or e.file in wanted)]
    return sorted(picked, key=lambda e: (e.container_id, e.node, e.file))


def app_report(rm_address: str | None, app_id: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The app's RM report and the nodes (None, [] if the RM does not know it); YarnClientError with
    no status if the RM is down."""
    with yarn_client(rm_address) as yarn:
        try:
            report = yarn.get_application(app_id)
            return report, yarn.list_nodes()
        except YarnClientError as e:
            if e.status is None:
                raise
            return None, []


def run(args: LogsRequest) -> int:
    app_id = args.app_id
    try:
        ApplicationId.parse(app_id)
        if args.container_id:
            ContainerId.parse(args.container_id)
    except InvalidIdError as e:
        return fail(f"Invalid ApplicationId or ContainerId specified: {e}")
    try:
        attempts = am_attempts(args.am) if args.am is not None else None
    except ValueError:
        return fail("Invalid input for option -am. Valid inputs are 'ALL', -1 and any other integer which is "
                    "larger than 0.")
    if args.am is not None and args.container_id:
        return fail("Invalid options. Can only accept one of amContainers/containerId.")
    address = config.rm_address(args.rm_address)
    try:
        if "," in address:  # RM HA: the aggregated logs are read from the active
            with YarnClient(address) as yarn:
                address = yarn.active_address()
        with httpx.Client(base_url=address, timeout=NM_TIMEOUT_S * 2, headers=client_token.headers()) as rm:
            return _print_logs(args, rm, app_id, attempts)
    except YarnClientError as e:  # its message names the address and what to do
        return fail(f"{e} (the ResourceManager serves the aggregated logs)")
    except httpx.HTTPError as e:
        return fail(f"Cannot reach the ResourceManager at {address} ({e}); it serves the aggregated logs: start it "
                    "(miniyarn minicluster) or set --rm-address / MINIYARN_RM_ADDRESS")
    except LogServerError as e:
        return fail(str(e))


def _print_logs(args: LogsRequest, rm: httpx.Client, app_id: str, attempts: set[int] | None) -> int:
    report, nodes = app_report(args.rm_address, app_id)
    # An app that has unregistered reads FINISHED while its AM container is still exiting (FINISHING): no
    # node has been told to upload yet, so it is read like a running one until the RM sets finishedTime.
    finished_ms = int((report or {}).get("finishedTime") or 0)
    finished = report is None or (report["state"] in FINAL_STATES and finished_ms > 0)
    _, owing = aggregated(rm, app_id)
    # Running: every node may hold some of its containers. Finished: only nodes that still owe logs.
    addresses = {str(n["id"]): str(n.get("nodeHTTPAddress") or n["id"]) for n in nodes
                 if n.get("state") in ("RUNNING", "UNHEALTHY", "NEW")}
    ask = addresses if not finished else {n: addresses[n] for n in owing if n in addresses}
    local: list[LogEntry] = []
    with httpx.Client(timeout=NM_TIMEOUT_S, headers=client_token.headers()) as http:
        for node_id, address in sorted(ask.items()):
            try:
                local += live(http, address, app_id)
            except (httpx.HTTPError, ValueError, KeyError) as err:
                print(f"WARNING: cannot read live logs from NodeManager {node_id} ({err})", file=sys.stderr)
    # Listed after the NMs: a node uploads before it deletes its local copy, so whatever a live read missed
    # because its upload was under way is aggregated by now.
    entries, _ = aggregated(rm, app_id)
    if report is None and not entries:
        return fail(f"Can not find the logs for the application: {app_id}: the ResourceManager does not know it "
                    "and holds no aggregated logs for it; list applications with: miniyarn application "
                    "-list -appStates ALL")
    have = {(e.container_id, e.file) for e in entries}
    entries += [e for e in local if (e.container_id, e.file) not in have]
    files = split_list(",".join(args.log_files))
    if args.am is not None:
        entries = am_entries(entries, attempts)
    picked = select(entries, args.container_id, files)
    if not picked:
        if args.container_id:
            return fail(f"Can not find any log file matching the pattern: [{', '.join(files) or 'ALL'}] for the "
                        f"container: {args.container_id} within the application: {app_id}")
        if finished and owing:
            return fail("Log aggregation has not completed or is not enabled.")
        return fail(f"Can not find any log file matching the pattern: [{', '.join(files) or 'ALL'}] for the "
                    f"application: {app_id}")
    for entry in picked:
        if entry.aggregation == "AGGREGATED":
            entry = with_contents(rm, entry)
        sys.stdout.write(format_entry(entry))
    sys.stdout.flush()
    return 0
