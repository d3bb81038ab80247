"""Which JobManager a client verb talks to, and the token to present there."""

from __future__ import annotations

from flink_on_yarn.cli import yarn
from flink_on_yarn.common.config import Configuration
from flink_on_yarn.security import secret as cluster_secret
from flink_on_yarn.standalone import cluster


def endpoint(jobmanager: str | None, yid: str | None, target: str | None,
             config: Configuration) -> tuple[str, str | None]:
    """The JobManager's REST address and the token to present there: a cluster on YARN through the RM's
    proxy with the user's miniyarn token; any other with this user's cluster secret (secret.py)."""
    if jobmanager and jobmanager != yarn.YARN_CLUSTER:
        return str(jobmanager), standalone_token(config)
    on_yarn = yarn.yarn_rest_address(yid, target, config)
    if on_yarn is not None:
        return on_yarn.rest_url, on_yarn.token
    return cluster.rest_address(config), standalone_token(config)


def standalone_token(config: Configuration) -> str | None:
    found = cluster_secret.for_client(config)
    return found.decode() if found is not None else None
