"""The NM's background services, run beside the container manager as YARN runs them: log aggregation when an
application finishes (YARN's LogAggregationService / AppLogAggregator) and the deletion service for the
finished application's dirs (YARN's DeletionService, `yarn.nodemanager.delete.debug-delay-sec`).

They are rq jobs on this node's own queue (keys.nm_services_queue), with retries and rq's failed-job registry,
run by one SimpleWorker in a thread of the NM: rq's SimpleWorker runs each job in-process (no fork), which is
what these jobs need (they read the NM's own disk) and all they need. The command loop only enqueues, so an
upload of a big application's logs no longer holds up the next StartContainer (bench/nm_commands.py).

Why the worker is a subclass: rq's `work()` installs SIGINT/SIGTERM handlers (which only the main thread may
do, and the NM's main thread owns those signals) and times jobs out with SIGALRM (main thread only too):
NMServicesWorker installs none and times jobs out with rq's threading timer instead.

Delays (the deletion's debug delay, a retry's back-off) are rq's ScheduledJobRegistry; rq's scheduler runs in
a process of its own, so a thread here moves due jobs to the queue (`enqueue_due`), once a second. Jobs and
their schedule are in Redis: an NM restarted with the same node id (a fixed --port) takes up what its
previous run left queued or scheduled.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

import redis
from redis.client import Pipeline
from rq import Queue, Retry, SimpleWorker
from rq.exceptions import StopRequested
from rq.job import JobStatus, get_current_job
from rq.registry import FailedJobRegistry, ScheduledJobRegistry
from rq.timeouts import TimerDeathPenalty
from rq.worker import WorkerStatus

from miniyarn import keys
from nodemanager.logs import aggregation

log = logging.getLogger("nodemanager.NMServices")

# How often the worker's blocking dequeue returns to notice a stop, and the scheduler thread looks for due
# jobs: a second keeps shutdown within the NM's 2 s join and costs one ZRANGEBYSCORE a second.
POLL_S = 1
# An upload or a deletion that fails (Redis away, a disk error) is tried again after these many seconds;
# after the last, the job stays in rq's failed-job registry (`rq info`, FailedJobRegistry) with its error.
RETRY_INTERVALS_S = [1, 5, 15]
JOB_TIMEOUT_S = 600  # a log upload is one HSET per file (nodemanager.logs.aggregation)
KEEP_FINISHED_S = 3600  # how long `rq info` and the registries show a finished job
KEEP_FAILED_S = 7 * 24 * 3600


def job_id(node_id: str, service: str, app_id: str) -> str:
    """rq job ids are [A-Za-z0-9_-]: one per (node, service, application), so that a repeated
    ApplicationFinished command finds the job already there instead of queueing a second."""
    return f"{keys.nm_services_queue(node_id)}-{service}-{app_id}"


# --- the jobs (run by the worker thread; plain functions of what they need, as rq pickles their args) --------

def aggregate_logs(app_id: str, node_id: str, log_dirs: list[str], local_dirs: list[str], private_dir: str,
                   delete_delay_s: int) -> int:
    """Uploads this node's logs of the finished application, then schedules the deletion of its dirs."""
    job = get_current_job()
    assert job is not None, "an rq job"
    n = aggregation.aggregate(job.connection, app_id, node_id, [Path(d) for d in log_dirs])
    queue = Queue(job.origin, connection=job.connection)
    schedule_deletion(queue, app_id, node_id, local_dirs, log_dirs, private_dir, delete_delay_s)
    return n


def delete_app_dirs(app_id: str, local_dirs: list[str], log_dirs: list[str], private_dir: str) -> int:
    """YARN's DeletionService for a finished application: its work dirs (every user's), its local log dirs
    and the NM's private files of it. Returns the number of dirs removed."""
    targets = [p for local in local_dirs for p in (Path(local) / "usercache").glob(f"*/appcache/{app_id}")]
    targets += [Path(d) / app_id for d in log_dirs] + [Path(private_dir) / app_id]
    removed = 0
    for path in targets:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)  # an error fails the job: rq retries it, then keeps it in the failed registry
            removed += 1
    log.info("Deleted %d dirs of finished application %s", removed, app_id)
    return removed


# --- enqueueing (the command loop's side) --------------------------------------------------------------------

def _live(queue: Queue, jid: str) -> bool:
    job = queue.fetch_job(jid)
    return job is not None and job.get_status(refresh=False) in (
        JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED)


def schedule_deletion(queue: Queue, app_id: str, node_id: str, local_dirs: list[str], log_dirs: list[str],
                      private_dir: str, delay_s: int) -> None:
    jid = job_id(node_id, "delete", app_id)
    if _live(queue, jid):
        return
    args = (app_id, local_dirs, log_dirs, private_dir)
    options = {"job_id": jid, "retry": Retry(max=len(RETRY_INTERVALS_S), interval=RETRY_INTERVALS_S),
               "result_ttl": KEEP_FINISHED_S, "failure_ttl": KEEP_FAILED_S,
               "description": f"DeletionService: {app_id} on {node_id}"}
    if delay_s > 0:
        log.info("Deleting the dirs of %s in %d s (yarn.nodemanager.delete.debug-delay-sec)", app_id, delay_s)
        queue.enqueue_in(timedelta(seconds=delay_s), delete_app_dirs, *args, **options)
    else:
        queue.enqueue(delete_app_dirs, *args, **options)


class NMServices:
    """This node's queue, its worker thread and the thread that enqueues due scheduled jobs."""

    def __init__(self, client: redis.Redis, node_id: str, log_dirs: list[Path], local_dirs: list[Path],
                 private_dir: Path, delete_delay_s: int, stop: threading.Event) -> None:
        # A connection pool of its own: rq raises its pool's socket timeout above its blocking dequeue's, which
        # must not change the command loop's and heartbeat's.
        self.redis = redis.Redis(connection_pool=redis.ConnectionPool(
            connection_class=client.connection_pool.connection_class,
            **client.connection_pool.connection_kwargs))
        self.node_id = node_id
        self.queue = Queue(keys.nm_services_queue(node_id), connection=self.redis,
                           default_timeout=JOB_TIMEOUT_S)
        self.log_dirs = [str(d) for d in log_dirs]
        self.local_dirs = [str(d) for d in local_dirs]
        self.private_dir = str(private_dir)
        self.delete_delay_s = delete_delay_s
        self.stop = stop
        self.worker = self._new_worker()
        self.threads: list[threading.Thread] = []

    def application_finished(self, app_id: str, aggregate: bool) -> None:
        """What the command loop does for ApplicationFinished: enqueue, never wait."""
        if not aggregate:
            # Without aggregation the local logs are all there is: they stay (the NM's log pages serve them);
            # the work dirs and private files go.
            schedule_deletion(self.queue, app_id, self.node_id, self.local_dirs, [], self.private_dir,
                              self.delete_delay_s)
            return
        jid = job_id(self.node_id, "aggregate", app_id)
        if _live(self.queue, jid):
            return
        self.queue.enqueue(aggregate_logs, app_id, self.node_id, self.log_dirs, self.local_dirs, self.private_dir,
                           self.delete_delay_s, job_id=jid, result_ttl=KEEP_FINISHED_S, failure_ttl=KEEP_FAILED_S,
                           retry=Retry(max=len(RETRY_INTERVALS_S), interval=RETRY_INTERVALS_S),
                           description=f"LogAggregationService: {app_id} on {self.node_id}")

    def failed(self) -> list[str]:
        """The ids of this node's jobs that failed for good (rq's failed-job registry)."""
        return list(FailedJobRegistry(queue=self.queue).get_job_ids())

    def start(self) -> list[threading.Thread]:
        self.threads = [threading.Thread(target=self._work, name="NMServicesWorker", daemon=True),
                        threading.Thread(target=self._schedule, name="NMServicesScheduler", daemon=True)]
        for t in self.threads:
            t.start()
        return self.threads

    def _new_worker(self) -> NMServicesWorker:
        return NMServicesWorker([self.queue], self.redis, keys.nm_services_worker(self.node_id, uuid.uuid4().hex[:8]),
                                self.stop)

    def _work(self) -> None:
        while not self.stop.is_set():
            try:
                self.worker.work(logging_level="WARNING")
            except redis.RedisError as e:  # work() catches what its loop meets; its start-up may not
                log.warning("The services worker of %s cannot start (%s)", self.node_id, e)
            if not self.stop.wait(POLL_S):
                log.warning("The services worker of %s stopped; starting another", self.node_id)
                self.worker = self._new_worker()

    def _schedule(self) -> None:
        while not self.stop.wait(POLL_S):
            try:
                enqueue_due(self.queue)
            except redis.RedisError as e:
                log.warning("Cannot move due jobs of %s to its queue: %s", self.queue.name, e)

    def close(self) -> None:
        """After the threads were told to stop: the worker leaves rq's worker registry at once (`rq info`)."""
        for t in self.threads:
            t.join(timeout=POLL_S + 1)
        if any(t.is_alive() for t in self.threads):
            self.worker.register_death()  # type: ignore[no-untyped-call]  # rq leaves it unannotated
        self.redis.close()


def enqueue_due(queue: Queue) -> int:
    """What rq's scheduler does for one queue: its scheduled jobs whose time has come go onto the queue. Only
    this node's NM reads its queue, so rq's scheduler locks (for many schedulers of one queue) are not needed."""
    registry = ScheduledJobRegistry(queue=queue)  # type: ignore[no-untyped-call]  # rq: unannotated
    due = registry.get_jobs_to_schedule(int(time.time()))
    for jid in due:
        job = queue.fetch_job(jid)
        registry.remove(jid)
        if job is not None:
            queue.enqueue_job(job)
    return len(due)


class NMServicesWorker(SimpleWorker):
    """rq's SimpleWorker, as a thread of the NM (see the module doc): no signal handlers, a timer for job
    timeouts, and a stop (the NM's event) noticed within POLL_S once the job in hand is done."""

    death_penalty_class = TimerDeathPenalty

    def __init__(self, queues: list[Queue], connection: redis.Redis, name: str, stop: threading.Event) -> None:
        super().__init__(queues, connection=connection, name=name)
        self.nm_stop = stop

    def _install_signal_handlers(self) -> None:
        pass  # the NM's main thread owns SIGTERM/SIGINT; signal.signal raises ValueError in any other thread

    @property
    def dequeue_timeout(self) -> int:
        return POLL_S

    def heartbeat(self, timeout: int | None = None, pipeline: Pipeline | None = None) -> None:
        super().heartbeat(timeout, pipeline)
        # The idle worker heartbeats once per dequeue timeout: where rq's own signal handler would have asked it
        # to stop, this asks when the NM stops (work() ends on StopRequested, and unregisters the worker).
        if pipeline is None and self.nm_stop.is_set() and self.get_state() == WorkerStatus.IDLE:
            raise StopRequested()
