"""`miniflink savepoint`, `stop` and `cancel -s`: trigger a savepoint through the REST API, wait for it, and
print what Flink's CliFrontend prints (its lines, its failure texts).

    miniflink savepoint [-m host:port | -yid APPID] JOBID [DIR]
    miniflink stop [-m host:port | -yid APPID] [-p|--savepointPath DIR] [-d|--drain] JOBID
    miniflink cancel [-m host:port | -yid APPID] -s [DIR] JOBID      (deprecated in Flink; use stop)
"""

from __future__ import annotations

import sys

from flink_on_yarn.client.rest_client import RestClient, RestError

FORMAT = "CANONICAL"  # the only savepoint format this runtime writes; Flink prints it in stop's line
LINE = "-" * 60


def _failed(headline: str, e: RestError) -> int:
    """Flink's CLI failure block: the exception and its cause."""
    print(f"\n{LINE}\n The program finished with the following exception:\n\n"
          f"org.apache.flink.util.FlinkException: {headline}\nCaused by: {e}", file=sys.stderr)
    return 1


def savepoint(rest: RestClient, job_id: str, directory: str | None) -> int:
    print(f"Triggering savepoint for job {job_id}.")
    try:
        trigger = rest.trigger_savepoint(job_id, directory)
        print("Waiting for response...")
        path = rest.await_savepoint(job_id, trigger)
    except RestError as e:
        return _failed(f"Triggering a savepoint for the job {job_id} failed.", e)
    print(f"Savepoint completed. Path: {path}")
    print("You can resume your program from this savepoint with the run command.")
    return 0


def stop(rest: RestClient, job_id: str, directory: str | None, drain: bool) -> int:
    print(f"{'Draining job ' if drain else 'Suspending job '}\"{job_id}\" with a {FORMAT} savepoint.")
    try:
        trigger = rest.stop_with_savepoint(job_id, directory, drain)
        path = rest.await_savepoint(job_id, trigger)
    except RestError as e:
        return _failed(f"Could not stop with a savepoint job \"{job_id}\".", e)
    print(f"Savepoint completed. Path: {path}")
    return 0


def cancel_with_savepoint(rest: RestClient, job_id: str, directory: str | None) -> int:
    print("DEPRECATION WARNING: Cancelling a job with savepoint is deprecated. Use \"stop\" instead.")
    where = f"to {directory}." if directory else "to default savepoint directory."
    print(f"Cancelling job {job_id} with {FORMAT} savepoint {where}")
    try:
        trigger = rest.trigger_savepoint(job_id, directory, cancel_job=True)
        path = rest.await_savepoint(job_id, trigger)
    except RestError as e:
        return _failed(f"Could not cancel job {job_id}.", e)
    print(f"Cancelled job {job_id}. Savepoint stored in {path}.")
    return 0
