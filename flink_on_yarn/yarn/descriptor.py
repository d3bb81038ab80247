"""The YARN cluster descriptor: turns a Flink deployment (per-job, session, application) into a YARN
application submission, submits it over the RM's REST API, and follows it to a running JobManager,
saying as it goes what YARN is doing — and, while anything waits, why.

Every call to a JobManager on YARN goes through the RM's `/proxy/<appId>/`, as the user's browser does:
the client holds no application secret, only the user's miniyarn token (`$MINIYARN_TOKEN`, else
`$MINIYARN_TOKEN_FILE`, else `~/.miniyarn/token`: miniyarn.security.client_token), sent as
`Authorization: Bearer` when there is one, and the proxy presents the application's client-to-AM secret.
"""

from __future__ import annotations

import getpass
import shlex
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from flink_on_yarn.client.rest_client import TERMINAL
from flink_on_yarn.graph.job_graph import JobGraphSpec
from flink_on_yarn.runtime import allocation_history as ev
from flink_on_yarn.yarn.options import (
    APPLICATION_TYPE,
    CONF_FILE,
    CONF_RESOURCE_ENV,
    DEFAULT_NAMES,
    JOB_GRAPH_FILE,
    Mode,
    check_fits,
    jobmanager_resource,
    taskmanager_resource,
)
from miniyarn.client.yarn_client import YarnClient, YarnClientError
from miniyarn.security import client_token

FINAL_STATES = ("FINISHED", "FAILED", "KILLED")
# A deployment takes about a second; polling the RM and the JobManager this often costs them little
# and keeps what the user sees (and the deploy time) within a few tens of ms of what happened.
POLL_S = 0.02


class DeploymentError(RuntimeError):
    """The cluster could not be deployed; str() says why and what to run next."""


class DeploymentInterrupted(KeyboardInterrupt):
    """An interrupt during a deployment, after the half-deployed application was killed; str() says which."""


@dataclass
class ClusterSpec:
    mode: Mode
    config: dict[str, str]
    job_graph: JobGraphSpec | None = None
    program: Path | None = None
    program_args: list[str] = field(default_factory=list)


@dataclass
class ClusterHandle:
    """A deployed Flink cluster on YARN: its application and its JobManager's REST endpoint, which is the
    RM's proxy to it (`rest_url`, no trailing slash; `proxy_url` with one, for people), and the token to
    present there."""

    app_id: str
    rest_url: str
    proxy_url: str
    yarn: YarnClient
    token: str | None = None

    def report(self) -> dict[str, Any]:
        return self.yarn.get_application(self.app_id)


def events_since(events: list[dict[str, Any]], since_ms: int) -> Counter[str]:
    """The JobManager's allocation events (allocation-history) from `since_ms` on, counted by kind: a job's
    own TaskManagers in a session whose history holds every earlier job's too."""
    return Counter(str(x["event"]) for x in events if int(x.get("timestamp") or 0) >= since_ms)


def jobmanager_url(report: dict[str, Any]) -> str | None:
    """The JobManager's REST endpoint from an application report (Flink registers its REST port as the
    AM's RPC port), or None while no AM has registered."""
    rpc = str(report.get("amRPCAddress") or "")
    if not rpc or rpc == "N/A" or rpc.endswith(":-1"):
        return None
    return f"http://{rpc}"


def deployment_failed(app_id: str, report: dict[str, Any]) -> DeploymentError:
    return DeploymentError(
        f"The YARN application unexpectedly switched to state {report['state']} during deployment.\n"
        f"Diagnostics from YARN: {report.get('diagnostics') or '(none)'}\n"
        "If log aggregation is enabled on your cluster, use this command to further investigate the issue:\n"
        f"miniyarn logs -applicationId {app_id}")


class YarnClusterDescriptor:
    def __init__(self, rm_address: str, out: Callable[[str], None] = print, timeout_s: float = 300.0) -> None:
        self.yarn = YarnClient(rm_address)
        self.token = client_token.current()
        # One client for every JobManager call: a new httpx client costs tens of ms (its TLS context).
        self.http = httpx.Client(timeout=5, headers={"authorization": f"Bearer {self.token}"} if self.token else {})
        self.out = out
        self.timeout_s = timeout_s

    # --- submission ----------------------------------------------------------------------------

    def deploy(self, spec: ClusterSpec) -> ClusterHandle:
        conf = spec.config
        queue = conf.get("yarn.application.queue") or "default"
        name = conf.get("yarn.application.name") or DEFAULT_NAMES[spec.mode]
        submitting, app_id = False, ""
        try:
            jm_mb, jm_vc = jobmanager_resource(conf)
            tm_mb, tm_vc = taskmanager_resource(conf)
            attempts = int(conf.get("yarn.application-attempts") or "1")
        except ValueError as e:
            raise DeploymentError(str(e)) from None
        try:
            try:
                self._check_queue(queue)
                new = self.yarn.new_application()
                app_id = str(new["application-id"])
                cap = new.get("maximum-resource-capability") or {}
                max_mb, max_vc = int(cap.get("memory", 0)), int(cap.get("vCores", 0))
                try:
                    check_fits("JobManager", "jobmanager.memory.process.size", jm_mb, jm_vc, max_mb, max_vc)
                    check_fits("TaskManagers", "taskmanager.memory.process.size", tm_mb, tm_vc, max_mb, max_vc)
                except ValueError as e:
                    raise DeploymentError(f"Couldn't deploy Yarn {spec.mode.value} cluster: {e}") from None
                body = self._submission(spec, app_id, name, queue, jm_mb, jm_vc, attempts)
                self.out(f"Submitting application master {app_id}")
                submitting = True
                self.yarn.submit_application(body, user=getpass.getuser())
                self.out(f"Submitted application {app_id}")
            except YarnClientError as e:
                raise DeploymentError(f"Couldn't deploy Yarn {spec.mode.value} cluster: {e}") from None
            return self.follow_deployment(app_id)
        except KeyboardInterrupt:
            # Flink's DeploymentFailureHook: a client interrupted (Ctrl-C, or SIGTERM, which the CLI turns
            # into KeyboardInterrupt) while deploying kills what it submitted, or the cluster would come
            # up later with nobody attached to it.
            if not submitting:
                raise
            self.kill_half_deployed(app_id)
            raise DeploymentInterrupted(f"The deployment of {app_id} was interrupted; the application was "
                                        "killed so that it does not start with nobody attached") from None

    def kill_half_deployed(self, app_id: str) -> None:
        try:
            self.yarn.kill_application(app_id, "Flink client interrupted during the deployment")
        except YarnClientError:
            pass  # never submitted (the interrupt came first), or already gone: nothing left to kill

    def _check_queue(self, queue: str) -> None:
        info = self.yarn.scheduler()
        names: set[str] = set()

        def walk(q: dict[str, Any]) -> None:
            names.add(str(q.get("queueName", "")))
            for child in ((q.get("queues") or {}).get("queue") or []):
                walk(child)

        walk(info)
        if info.get("type") != "fifoScheduler" and queue not in names and queue.rsplit(".", 1)[-1] not in names:
            raise DeploymentError(
                f"The specified queue '{queue}' does not exist. Available queues: "
                f"{', '.join(sorted(n for n in names if n and n != 'root'))}")

    def _submission(self, spec: ClusterSpec, app_id: str, name: str, queue: str, jm_mb: int, jm_vc: int,
                    attempts: int) -> dict[str, Any]:
        conf_text = yaml.safe_dump(dict(sorted(spec.config.items())), default_flow_style=False)
        conf_res = self.yarn.stage_file(conf_text.encode())
        resources: dict[str, Any] = {CONF_FILE: conf_res.model_dump(by_alias=True)}
        args = ["--mode", spec.mode.value]
        if spec.job_graph is not None:
            graph = self.yarn.stage_file(spec.job_graph.model_dump_json().encode())
            resources[JOB_GRAPH_FILE] = graph.model_dump(by_alias=True)
        if spec.program is not None:
            program = self.yarn.stage_file(spec.program.read_bytes())
            resources[spec.program.name] = program.model_dump(by_alias=True)
            args += ["--python", spec.program.name, "--", *spec.program_args]
        command = ("$PYTHON -m flink_on_yarn.yarn.appmaster " + " ".join(shlex.quote(a) for a in args)
                   + " 1><LOG_DIR>/jobmanager.out 2><LOG_DIR>/jobmanager.log")
        return {
            "application-id": app_id, "application-name": name, "queue": queue,
            "application-type": APPLICATION_TYPE, "max-app-attempts": attempts,
            "resource": {"memory": jm_mb, "vCores": jm_vc},
            "am-container-spec": {
                "commands": {"command": command},
                "environment": {"entry": [{"key": CONF_RESOURCE_ENV, "value": conf_res.resource}]},
                "local-resources": {"entry": [{"key": k, "value": v} for k, v in resources.items()]},
            },
        }

    # --- following -----------------------------------------------------------------------------

    def follow_deployment(self, app_id: str) -> ClusterHandle:
        """Until the JobManager answers: state changes, the AM container, the RM's pending reason."""
        self.out("Waiting for the cluster to be allocated")
        deadline = time.monotonic() + self.timeout_s
        last_state = last_reason = last_container = ""
        while True:
            report = self.yarn.get_application(app_id)
            state = str(report["state"])
            if state in FINAL_STATES:
                raise deployment_failed(app_id, report)
            if state != last_state:
                self.out(f"Deploying cluster, current state {state}")
                last_state = state
            reason = str(report.get("pendingReason") or "")
            if reason and reason != last_reason:
                self.out(f"Waiting for YARN: {reason}")
            last_reason = reason
            # The attempts are asked for only until the AM container is known: it is the same from then on.
            if not last_container:
                container, node = self._am_container(app_id)
                if container:
                    # The attempt names its node as soon as it has a container; the application report's
                    # amHostHttpAddress only once the AM has registered (later).
                    self.out(f"AM container {container} allocated on "
                             f"{node or report.get('amHostHttpAddress') or '?'}; starting the JobManager")
                    last_container = container
            url = jobmanager_url(report) if state == "RUNNING" else None
            if url is not None and self._answers(self.proxy_of(app_id)):
                break
            if time.monotonic() > deadline:
                self.yarn.kill_application(app_id, "Flink client gave up waiting for the deployment")
                raise DeploymentError(f"The JobManager of {app_id} did not come up within {self.timeout_s:.0f} s; "
                                      f"the application was killed. See: miniyarn logs -applicationId {app_id}")
            time.sleep(POLL_S)
        proxy = self.proxy_of(app_id)
        self.out("YARN application has been deployed successfully.")
        self.out(f"Found Web Interface {url.removeprefix('http://')} of application '{app_id}'.")
        self.out(f"JobManager Web Interface: {proxy}/")
        return self.handle(app_id)

    def proxy_of(self, app_id: str) -> str:
        return f"{self.yarn.address.rstrip('/')}/proxy/{app_id}"

    def handle(self, app_id: str) -> ClusterHandle:
        proxy = self.proxy_of(app_id)
        return ClusterHandle(app_id, proxy, proxy + "/", self.yarn, self.token)

    def _am_container(self, app_id: str) -> tuple[str, str]:
        """The latest attempt's AM container and its node (nodeHttpAddress, else nodeId), "" while none."""
        attempts = self.yarn.get_attempts(app_id)
        if not attempts:
            return "", ""
        last = attempts[-1]
        return str(last.get("containerId") or ""), str(last.get("nodeHttpAddress") or last.get("nodeId") or "")

    def _answers(self, url: str) -> bool:
        try:
            return self.http.get(url + "/overview", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def follow_taskmanagers(self, cluster: ClusterHandle, job_id: str | None = None,
                            timeout_s: float = 120.0) -> None:
        """Until the jobs' slots are registered (or the job ends): TaskManagers needed, requested,
        registered, and the RM's reason while containers wait."""
        deadline = time.monotonic() + timeout_s
        last = last_reason = ""
        next_reason = time.monotonic() + 0.25
        base = cluster.rest_url
        # A session's JobManager records every job's TaskManagers: this job's are those asked for since it
        # started (the JobManager's own clock, as the events' timestamps are).
        since_ms: int | None = None if job_id else 0
        while time.monotonic() < deadline:
            try:
                if since_ms is None:
                    since_ms = int(self.http.get(f"{base}/jobs/{job_id}").json().get("start-time") or 0)
                rm = self.http.get(base + "/resourcemanager/overview").json()
                required, registered = int(rm["requiredSlots"]), int(rm["registeredSlots"])
                done = required > 0 and registered >= required
                # While slots are missing the job may still end (or fail) first: then stop following.
                state = self.http.get(f"{base}/jobs/{job_id}").json().get("state") if job_id and not done else None
                events = self.http.get(base + "/resourcemanager/allocation-history").json()["events"]
            except (httpx.HTTPError, ValueError, KeyError):
                return
            seen = events_since(events, since_ms)
            line = (f"TaskManagers: {seen[ev.TASKMANAGER_REQUESTED]} requested, "
                    f"{seen[ev.TASKMANAGER_ALLOCATED]} allocated, {len(rm['taskmanagers'])} registered; "
                    f"slots {registered} registered / {required} required" + (f"; job {state}" if state else ""))
            if line != last:
                self.out(line)
                last = line
            if done or state in TERMINAL:
                return
            if time.monotonic() >= next_reason:
                # The RM's reason changes slowly; asking every poll would only load the RM.
                next_reason = time.monotonic() + 0.25
                reason = str(cluster.report().get("pendingReason") or "")
                if reason and reason != last_reason:
                    self.out(f"Waiting for YARN: {reason}")
                last_reason = reason
            time.sleep(POLL_S)

    def wait_final(self, app_id: str, timeout_s: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            report = self.yarn.get_application(app_id)
            if report["state"] in FINAL_STATES or time.monotonic() > deadline:
                return report
            time.sleep(0.1)
