"""The Redis key schema: every key miniyarn writes, under one prefix, with the reason for each TTL.

The ResourceManager is the only writer of `app`, `attempt`, `container` and `node` records; NMs and
AMs reach it through its inbox and it answers on per-request reply lists, so all scheduling state
has one owner and an RM restart can rebuild itself from these keys.
"""

from __future__ import annotations

import re

PREFIX = "yarn"

# A reply list outlives its request only long enough for a slow caller to read it; after that
# nobody is waiting, and the key must not leak.
REPLY_TTL_S = 60
# Aggregated logs are kept like YARN's yarn.log-aggregation.retain-seconds default (7 days).
LOG_RETAIN_S = 7 * 24 * 3600
# Staged files live as long as an application reasonably might; an app still running after this
# has long since localized them.
BLOB_TTL_S = 7 * 24 * 3600


def cluster() -> str:
    """Hash: clusterTimestamp, rm start time, epoch."""
    return f"{PREFIX}:cluster"


def app_seq() -> str:
    """Counter: the next application sequence number."""
    return f"{PREFIX}:app-seq"


def apps() -> str:
    """Sorted set of application ids scored by sequence number."""
    return f"{PREFIX}:apps"


def app(app_id: str) -> str:
    """JSON: the RM's record of one application (submission, state, attempts, diagnostics)."""
    return f"{PREFIX}:app:{app_id}"


def nodes() -> str:
    """Set of node ids the RM has ever seen."""
    return f"{PREFIX}:nodes"


def node(node_id: str) -> str:
    """JSON: the RM's record of one node."""
    return f"{PREFIX}:node:{node_id}"


def container(container_id: str) -> str:
    """JSON: a live container's grant (node, resource, app); NMs check a start against it. Deleted
    when the container completes, so a SCAN of these keys is the set of live containers."""
    return f"{PREFIX}:container:{container_id}"


def rm_inbox() -> str:
    """List: messages to the RM from NodeManagers (heartbeats, shutdowns)."""
    return f"{PREFIX}:rm:inbox"


def rm_am_inbox() -> str:
    """List: calls to the RM from ApplicationMasters (register/allocate/unregister). Apart from the
    nodes' list so the RM can take them first: an AM waits on each call, a heartbeat waits on none."""
    return f"{PREFIX}:rm:inbox:am"


def rm_health() -> str:
    """String with TTL: the RM's REST address while it is alive."""
    return f"{PREFIX}:rm:alive"


def reply(attempt_id: str, request_id: str) -> str:
    """List: the RM's answer to one request of one application attempt. Under the attempt's own
    prefix, so its Redis user (the AMRMToken) reads its replies and nobody else's."""
    return f"{reply_prefix(attempt_id)}{request_id}"


def reply_prefix(attempt_id: str) -> str:
    return f"{PREFIX}:reply:{attempt_id}:"


def nm_commands(node_id: str) -> str:
    """List: commands to one NodeManager (start/stop container, application finished)."""
    return f"{PREFIX}:nm:{node_id}:commands"


def nm_processing(node_id: str) -> str:
    """List: commands an NM has taken but not finished, so a crash mid-command loses nothing."""
    return f"{PREFIX}:nm:{node_id}:processing"


# The NM's background services (nodemanager.services) are an rq queue, whose keys rq names itself
# (rq:queue:<name>, rq:wip:<name>, rq:job:<job id>, ...): the queue, its job ids and its workers' names all
# start with NM_SERVICES_PREFIX, so the nm user's Redis ACL (miniyarn.security.credentials) can name exactly
# those. rq job ids are [A-Za-z0-9_-], so the node id's `.` and `:` become `_`.
NM_SERVICES_PREFIX = "yarn-nm-"


def nm_services_queue(node_id: str) -> str:
    """rq queue name: this NM's log aggregation and deletion jobs."""
    return NM_SERVICES_PREFIX + re.sub(r"[^A-Za-z0-9_-]", "_", node_id)


def nm_services_worker(node_id: str, suffix: str) -> str:
    """rq worker name of one run of this NM's services worker (unique: rq refuses a second live one)."""
    return f"{nm_services_queue(node_id)}-worker-{suffix}"


def blob(digest: str) -> str:
    """Bytes: a staged local resource, addressed by its sha256."""
    return f"{PREFIX}:blob:{digest}"


def app_logs(app_id: str) -> str:
    """Hash: aggregated logs, field `<containerId> <nodeId> <file>` -> contents."""
    return f"{PREFIX}:logs:{app_id}"


def app_log_nodes(app_id: str) -> str:
    """Set: nodes that still owe their part of an application's aggregated logs."""
    return f"{PREFIX}:logs:{app_id}:pending"


def rm_ha_lease() -> str:
    """RM HA: the active RM's leader lease (`<rm-id> <epoch> <web address>`, PX = the lease), Redis in
    ZooKeeper's place. Written only by the rm user (NM and AM users have no pattern that matches it)."""
    return f"{PREFIX}:rm:ha:lease"


def rm_ha_epoch() -> str:
    """RM HA: the fencing epoch, incremented by each RM that becomes active; every write of an active RM
    checks it (resourcemanager/ha/fence.py), so an old active that wakes up cannot write."""
    return f"{PREFIX}:rm:ha:epoch"


def flink_checkpoint_pointer(app_id: str) -> str:
    """String (JSON `{"job_id", "path"}`): a Flink application's latest completed checkpoint, written by its
    JobManager (the AM) after each one, read by the next AM attempt to restore from it: what Flink keeps in
    ZooKeeper for HA. No TTL: it must outlive any attempt; the application's end leaves it (a few bytes)."""
    return f"{PREFIX}:flink:{app_id}:checkpoint"
