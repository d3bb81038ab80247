"""A small synchronous client of the JobManager's REST API, and the executor that submits through it."""

from __future__ import annotations

import time
from typing import Any

import httpx

from flink_on_yarn.client.executor import Executor, JobClient, JobResult
from flink_on_yarn.graph.job_graph import JobGraphSpec

TERMINAL = ("FINISHED", "FAILED", "CANCELED")


class RestError(RuntimeError):
    pass


def normalize_address(address: str) -> str:
    """`host:port` or a URL → `http://host:port`."""
    return address.rstrip("/") if address.startswith(("http://", "https://")) else f"http://{address}"


def _errors(r: httpx.Response) -> list[str]:
    """Flink's `{"errors": [...]}`, or YARN's RemoteException (the RM's proxy refusing the user), or the text."""
    try:
        body = r.json()
    except ValueError:
        return [r.text]
    if isinstance(body, dict) and isinstance(body.get("errors"), list):
        return [str(e) for e in body["errors"]]
    remote = body.get("RemoteException") if isinstance(body, dict) else None
    if isinstance(remote, dict) and remote.get("message"):
        return [f"{remote.get('exception', 'RemoteException')}: {remote['message']}"]
    return [r.text]


class RestClient:
    """`token` goes out as `Authorization: Bearer`: the cluster secret when talking to a JobManager
    directly, the user's miniyarn token when going through the RM's `/proxy/<appId>/` (which presents
    the application's own secret to the JobManager), or nothing."""

    def __init__(self, address: str, timeout: float = 30.0, token: str | None = None) -> None:
        self.base = normalize_address(address)
        headers = {"authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=self.base, timeout=timeout, headers=headers)

    def _check(self, r: httpx.Response) -> Any:
        if r.status_code >= 400:
            raise RestError(f"{r.request.method} {r.request.url.path} → {r.status_code}: {'; '.join(_errors(r))}")
        return r.json() if r.content else {}

    def _get(self, path: str) -> Any:
        try:
            return self._check(self.http.get(path))
        except httpx.TransportError as e:
            raise RestError(f"cannot reach the JobManager at {self.base}: {e}") from None

    def submit(self, graph: JobGraphSpec) -> str:
        try:
            r = self.http.post("/jobs", content=graph.model_dump_json(), headers={"content-type": "application/json"})
        except httpx.TransportError as e:
            raise RestError(f"cannot reach the JobManager at {self.base}: {e}") from None
        return str(self._check(r)["jobid"])

    def job(self, job_id: str) -> dict[str, Any]:
        return dict(self._get(f"/jobs/{job_id}"))

    def jobs_overview(self) -> list[dict[str, Any]]:
        return list(self._get("/jobs/overview")["jobs"])

    def exceptions(self, job_id: str) -> dict[str, Any]:
        return dict(self._get(f"/jobs/{job_id}/exceptions"))

    def cancel(self, job_id: str) -> None:
        try:
            self._check(self.http.patch(f"/jobs/{job_id}", params={"mode": "cancel"}))
        except httpx.TransportError as e:
            raise RestError(f"cannot reach the JobManager at {self.base}: {e}") from None

    def get(self, path: str) -> Any:
        return self._get(path)

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        try:
            return self._check(self.http.post(path, json=body))
        except httpx.TransportError as e:
            raise RestError(f"cannot reach the JobManager at {self.base}: {e}") from None

    def trigger_savepoint(self, job_id: str, directory: str | None, cancel_job: bool = False) -> str:
        """POST /jobs/<jid>/savepoints; the trigger id to poll."""
        body = {"target-directory": directory, "cancel-job": cancel_job, "formatType": "CANONICAL"}
        return str(self._post(f"/jobs/{job_id}/savepoints", body)["request-id"])

    def stop_with_savepoint(self, job_id: str, directory: str | None, drain: bool = False) -> str:
        """POST /jobs/<jid>/stop; the trigger id to poll (at the savepoints path, as Flink's)."""
        body = {"targetDirectory": directory, "drain": drain, "formatType": "CANONICAL"}
        return str(self._post(f"/jobs/{job_id}/stop", body)["request-id"])

    def await_savepoint(self, job_id: str, trigger_id: str, timeout_s: float = 600.0,
                        poll_s: float = 0.1) -> str:
        """Polls the operation until it completes; its location, or RestError with the failure."""
        deadline = time.monotonic() + timeout_s
        while True:
            body = self._get(f"/jobs/{job_id}/savepoints/{trigger_id}")
            if body.get("status", {}).get("id") == "COMPLETED":
                return str((body.get("operation") or {}).get("location"))
            if time.monotonic() > deadline:
                raise RestError(f"the savepoint of job {job_id} did not complete within {timeout_s:.0f} s")
            time.sleep(poll_s)

    def wait(self, job_id: str, poll_s: float = 0.2) -> dict[str, Any]:
        while True:
            info = self.job(job_id)
            if info["state"] in TERMINAL:
                return info
            time.sleep(poll_s)


class RemoteJobClient(JobClient):
    def __init__(self, rest: RestClient, job_id: str) -> None:
        super().__init__(job_id)
        self.rest = rest

    def get_job_status(self) -> str:
        return str(self.rest.job(self.job_id)["state"])

    def cancel(self) -> None:
        self.rest.cancel(self.job_id)

    def wait(self) -> JobResult:
        info = self.rest.wait(self.job_id)
        failure = self.rest.exceptions(self.job_id).get("root-exception") if info["state"] == "FAILED" else None
        return JobResult(self.job_id, info["state"], failure, int(info.get("duration", 0)))


class RemoteExecutor(Executor):
    """Submits to a running JobManager and prints Flink's submission line."""

    def __init__(self, address: str, announce: bool = True, token: str | None = None) -> None:
        self.rest = RestClient(address, token=token)
        self.announce = announce

    def submit(self, graph: JobGraphSpec) -> JobClient:
        job_id = self.rest.submit(graph)
        if self.announce:
            print(f"Job has been submitted with JobID {job_id}", flush=True)
        return RemoteJobClient(self.rest, job_id)
