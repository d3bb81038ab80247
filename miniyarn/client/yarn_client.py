"""YarnClient: what a submitter needs from the RM, over its REST API (YARN's own client speaks
protobuf RPC; our RM speaks only HTTP to the outside, so a client needs just the RM's URL)."""

from __future__ import annotations

import hashlib
import time
from typing import TYPE_CHECKING, Any

import httpx

from miniyarn.security import client_token

if TYPE_CHECKING:
    from miniyarn.records import LocalResource

# What to do about a 401, in the one line a CLI prints.
TOKEN_HINT = ("export MINIYARN_TOKEN=$(miniyarn token -user $USER), or put the token in "
              f"${client_token.FILE_ENV} / ~/.miniyarn/token (the minicluster writes one there)")


# Once the RM has answered this client, its GETs (idempotent) are retried for this long while it does not
# answer: an RM restart takes a few seconds, and a client watching an application (the detached Flink
# client, `-wait`) must not report it lost for that. YARN's RMProxy waits up to
# yarn.resourcemanager.connect.max-wait.ms (15 min); a person at a terminal waits a minute. A client whose
# first call finds no RM fails at once: that RM is not restarting, it is not there.
RESTART_WAIT_S = 60.0
RETRY_EVERY_S = 0.5


class YarnClientError(Exception):
    """A refusal from the RM (its RemoteException message) or an RM that does not answer
    (`status` is the HTTP status of a refusal, None when the RM did not answer)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


# With RM HA, a call that found no active RM (every RM down or standby with none active: a failover under
# way) is tried again for this long, first call or not: a failover takes a few seconds (the lease, 2 s,
# plus recovery), and YARN's failover proxy retries through it too.
FAILOVER_WAIT_S = 30.0
# A standby's redirect is followed at most this many times per call (an active that turned standby
# between two hops redirects again; a loop of stale redirects must end).
MAX_REDIRECTS = 3


class YarnClient:
    """`address` is one RM's URL, or with RM HA every RM's, comma-separated: calls go to the one that
    answered last, fail over to the next when it does not answer, and follow a standby's redirect to the
    active, as YARN's ConfiguredRMFailoverProxyProvider (and RMWebApp's redirect) do."""

    def __init__(self, address: str, timeout_s: float = 10.0) -> None:
        self.addresses = [a.strip().rstrip("/") for a in address.split(",") if a.strip()] or [address]
        self.address = self.addresses[0]
        # The token is read once, when the client is made: `$MINIYARN_TOKEN`, else the token file. The
        # client has no base URL: every request names its RM (a redirect keeps the Authorization header,
        # which httpx drops when it follows one to another origin itself).
        self._http = httpx.Client(timeout=timeout_s, headers=client_token.headers())
        self._reached = False  # the RM has answered this client once (see RESTART_WAIT_S)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> YarnClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        ha = len(self.addresses) > 1
        wait = RESTART_WAIT_S if self._reached and method == "GET" else 0.0
        deadline = time.monotonic() + max(wait, FAILOVER_WAIT_S if ha else 0.0)
        tried = 0  # addresses tried since one last answered
        while True:
            try:
                resp = self._follow(method, path, **kwargs)
                if resp.status_code == 503 and ha and _standby_refusal(resp):
                    raise _NoActive(remote_message(resp))
                break
            except (httpx.TransportError, _NoActive) as e:
                tried += 1
                if ha and tried < len(self.addresses):
                    self._fail_over()  # the next RM at once, as YARN's failover proxy does
                    continue
                if time.monotonic() >= deadline:
                    raise YarnClientError(f"Cannot reach the ResourceManager at {self.address} ({e}); "
                                          "is it running? Set --rm-address or MINIYARN_RM_ADDRESS") from None
                tried = 0
                if ha:
                    self._fail_over()
                time.sleep(RETRY_EVERY_S)
            except httpx.HTTPError as e:
                raise YarnClientError(f"Cannot reach the ResourceManager at {self.address} ({e}); "
                                      "is it running? Set --rm-address or MINIYARN_RM_ADDRESS") from None
        self._reached = True
        if resp.status_code == 401:
            raise YarnClientError(f"The ResourceManager at {self.address} refused the request: "
                                  f"{remote_message(resp).split(': send Authorization', 1)[0]}; {TOKEN_HINT}", 401)
        if resp.status_code >= 400:
            raise YarnClientError(remote_message(resp), resp.status_code)
        return resp

    def _follow(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One call, following a standby's 307 to the active (which then serves this client's calls)."""
        base = self.address
        for _ in range(MAX_REDIRECTS + 1):
            resp = self._http.request(method, base + path, **kwargs)
            location = resp.headers.get("location", "")
            if resp.status_code != 307 or not location.startswith(("http://", "https://")):
                self.address = base
                return resp
            target = httpx.URL(location)
            base = f"{target.scheme}://{target.netloc.decode()}"
            if base not in self.addresses:
                self.addresses.append(base)  # an RM the client was not told of, named by a standby
            if "params" in kwargs:
                kwargs = {k: v for k, v in kwargs.items() if k != "params"}
                path = target.raw_path.decode()  # the redirect carries the query already
        raise httpx.TooManyRedirects(f"more than {MAX_REDIRECTS} standby redirects", request=resp.request)

    def _fail_over(self) -> None:
        i = self.addresses.index(self.address) if self.address in self.addresses else -1
        self.address = self.addresses[(i + 1) % len(self.addresses)]

    def active_address(self) -> str:
        """The address of the RM that serves this client now (with RM HA, the active's: a standby redirects
        /metrics, unlike /info), for callers that speak to the RM's REST API themselves."""
        if len(self.addresses) > 1:
            self._call("GET", "/ws/v1/cluster/metrics")
        return self.address

    def cluster_info(self) -> dict[str, Any]:
        return dict(self._call("GET", "/ws/v1/cluster/info").json()["clusterInfo"])

    def stage_file(self, data: bytes, name: str = "") -> LocalResource:
        """Puts bytes where every NM can localize them (YARN stages into HDFS)."""
        # Imported here: the records' pydantic models cost every CLI command that only reads reports ~0.1 s.
        from miniyarn.records import LocalResource

        digest = hashlib.sha256(data).hexdigest()
        body = self._call("PUT", f"/ws/v1/cluster/staging/{digest}", content=data).json()
        return LocalResource(resource=str(body["resource"]), size=int(body["size"]))

    def new_application(self) -> dict[str, Any]:
        return dict(self._call("POST", "/ws/v1/cluster/apps/new-application").json())

    def submit_application(self, body: dict[str, Any], user: str | None = None) -> None:
        params = {"user.name": user} if user else None
        self._call("POST", "/ws/v1/cluster/apps", json=body, params=params)

    def get_application(self, app_id: str) -> dict[str, Any]:
        return dict(self._call("GET", f"/ws/v1/cluster/apps/{app_id}").json()["app"])

    def get_attempts(self, app_id: str) -> list[dict[str, Any]]:
        body = self._call("GET", f"/ws/v1/cluster/apps/{app_id}/appattempts").json()
        return list((body.get("appAttempts") or {}).get("appAttempt") or [])

    def get_containers(self, app_id: str, attempt_id: str) -> list[dict[str, Any]]:
        body = self._call("GET", f"/ws/v1/cluster/apps/{app_id}/appattempts/{attempt_id}/containers").json()
        return list(body.get("container") or [])

    def list_applications(self, states: list[str] | None = None, types: list[str] | None = None,
                          queue: str | None = None) -> list[dict[str, Any]]:
        params: dict[str, str] = {}
        if states:
            params["states"] = ",".join(states)
        if types:
            params["applicationTypes"] = ",".join(types)
        if queue:
            params["queue"] = queue
        body = self._call("GET", "/ws/v1/cluster/apps", params=params).json()
        return list((body.get("apps") or {}).get("app") or [])

    def kill_application(self, app_id: str, diagnostics: str = "") -> str:
        body: dict[str, str] = {"state": "KILLED"}
        if diagnostics:
            body["diagnostics"] = diagnostics
        return str(self._call("PUT", f"/ws/v1/cluster/apps/{app_id}/state", json=body).json()["state"])

    def list_nodes(self, states: list[str] | None = None) -> list[dict[str, Any]]:
        params = {"states": ",".join(states)} if states else None
        body = self._call("GET", "/ws/v1/cluster/nodes", params=params).json()
        return list((body.get("nodes") or {}).get("node") or [])

    def scheduler(self) -> dict[str, Any]:
        return dict(self._call("GET", "/ws/v1/cluster/scheduler").json()["scheduler"]["schedulerInfo"])


class _NoActive(Exception):
    """A standby answered with no active RM known (a failover under way)."""


def _standby_refusal(resp: httpx.Response) -> bool:
    try:
        return bool(resp.json()["RemoteException"]["exception"] == "StandbyException")
    except (ValueError, KeyError, TypeError):
        return False


def remote_message(resp: httpx.Response) -> str:
    try:
        body = resp.json()
        exc = body["RemoteException"]
        return str(exc.get("message") or exc.get("exception"))
    except (ValueError, KeyError, TypeError, AttributeError):
        return f"HTTP {resp.status_code} from {resp.request.url}: {resp.text[:200]}"
