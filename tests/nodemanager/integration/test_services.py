"""The NM's background services on rq (nodemanager.services), in a real NM process on the test's Redis as the
nm user: the upload and the deletion run on the node's own queue after ApplicationFinished, the deletion
after yarn.nodemanager.delete.debug-delay-sec, a failing job is retried and kept in rq's failed-job
registry, `rq info` shows the queue and its worker, and the nm user reaches only its own rq keys."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import redis
from rq import Queue, Retry
from rq.registry import FailedJobRegistry, FinishedJobRegistry

from miniyarn import keys
from miniyarn.security import credentials
from nodemanager.services import delete_app_dirs, job_id
from tests.conftest import Processes, admin_url
from tests.nodemanager.integration.conftest import APP, NM, cid, start_nm, wait_for

pytestmark = pytest.mark.integration


def test_upload_then_deletion_after_the_debug_delay_on_the_nodes_queue(redis_url: str,
                                                                         processes: Processes) -> None:
    nm = start_nm(processes, redis_url, extra=["-D", "yarn.nodemanager.delete.debug-delay-sec=2"])
    c = cid(1)
    nm.start(c, ["echo kept-for-a-look"])
    nm.wait_state(c, "COMPLETE")
    nm.redis.sadd(keys.app_log_nodes(APP), nm.node_id)
    nm.app_finished()
    wait_for("logs aggregated", lambda: not nm.redis.sismember(keys.app_log_nodes(APP), nm.node_id))
    uploaded = time.monotonic()
    assert nm.redis.hget(keys.app_logs(APP), f"{c} {nm.node_id} stdout") == b"kept-for-a-look\n"
    # The debug delay keeps the local copy for a look...
    assert nm.get(f"/ws/v1/node/containerlogs/{c}/stdout").status_code == 200
    queue = Queue(keys.nm_services_queue(nm.node_id), connection=nm.redis)
    assert job_id(nm.node_id, "delete", APP) in queue.scheduled_job_registry.get_job_ids()
    # ... then the deletion service removes it.
    wait_for("the app's dirs deleted", lambda: nm.get(f"/ws/v1/node/containerlogs/{c}/stdout").status_code == 404,
             timeout=10)
    assert time.monotonic() - uploaded > 1.0
    finished = FinishedJobRegistry(queue=queue).get_job_ids()  # type: ignore[no-untyped-call]
    assert set(finished) == {job_id(nm.node_id, "aggregate", APP), job_id(nm.node_id, "delete", APP)}
    info = subprocess.run([sys.executable, "-m", "rq.cli", "info", "--url", admin_url(redis_url)],
                          capture_output=True, text=True, timeout=30)
    assert info.returncode == 0, info.stderr
    assert keys.nm_services_queue(nm.node_id) in info.stdout
    assert f"{keys.nm_services_queue(nm.node_id)}-worker-" in info.stdout  # the NM's worker thread, idle


def test_a_failing_job_is_retried_then_kept_in_the_failed_registry(nm: NM) -> None:
    queue = Queue(keys.nm_services_queue(nm.node_id), connection=nm.redis)
    jid = job_id(nm.node_id, "delete", "application_1700000000000_0009")
    # dirs of the wrong type: the deletion raises, as a disk error would.
    queue.enqueue(delete_app_dirs, APP, None, None, None, job_id=jid, retry=Retry(max=1, interval=[1]))
    failed = FailedJobRegistry(queue=queue)
    wait_for("the job in the failed registry", lambda: jid in failed.get_job_ids(), timeout=15)
    job = queue.fetch_job(jid)
    assert job is not None and job.retries_left == 0
    assert "TypeError" in (job.latest_result().exc_string or "")  # type: ignore[union-attr]
    assert nm.processes.procs and all(p.poll() is None for _, p in nm.processes.procs)  # the NM lives on


def test_the_nm_user_reaches_only_its_own_rq_keys(nm: NM, redis_url: str) -> None:
    found = credentials.from_env()
    assert found is not None
    as_nm = redis.Redis.from_url(found.redis_url(redis_url, "nm"))
    try:
        own = Queue(keys.nm_services_queue("10.0.0.9:4545"), connection=as_nm)
        assert own.count == 0
        for forbidden in (lambda: as_nm.llen("rq:queue:default"), lambda: as_nm.hgetall("rq:job:someone-elses"),
                          lambda: as_nm.set("rq:wip:default", "x"), lambda: as_nm.eval("return 1", 0),
                          lambda: as_nm.keys("rq:*"), lambda: as_nm.publish("rq:pubsub:another", "x")):
            with pytest.raises(redis.exceptions.NoPermissionError):
                forbidden()
    finally:
        as_nm.close()
