"""The JobManager's REST under concurrent load while a job runs and is cancelled: every route that reads
the JobManager's state runs on its event loop (rest.py), so many clients at once never see a half-changed
dict or a 500, and a cancel among the reads still reaches CANCELED."""

from __future__ import annotations

import threading
from collections.abc import Callable

import httpx
import pytest

from tests.flink.conftest import FlinkCluster
from tests.flink.integration.test_rest_flink_api import JAVA_HEADERS, start_wordcount
from tests.flink.integration.test_socket_cancel import LineServer

pytestmark = pytest.mark.integration

CLIENTS, ROUNDS = 6, 12


def test_rest_hammered_while_the_job_runs_and_is_cancelled(flink: Callable[..., FlinkCluster]) -> None:
    cluster = flink(tms=1, slots=2)
    nc = LineServer()
    try:
        jid = start_wordcount(cluster, nc)
        vids = [v["id"] for v in cluster.get(f"/jobs/{jid}")["vertices"]]
        paths = ["/overview", "/jobs/overview", f"/jobs/{jid}", f"/jobs/{jid}/plan", f"/jobs/{jid}/exceptions",
                 "/taskmanagers", "/taskmanagers/tm-0", "/taskmanagers/tm-0/metrics?get=Status.JVM.CPU.Time",
                 "/applications/overview", f"/applications/{jid}", "/resourcemanager/overview", "/metrics",
                 *[f"/v1/jobs/{jid}/vertices/{v}{s}" for v in vids for s in ("", "/backpressure", "/watermarks",
                                                                              "/subtasks/metrics?get=numBytesIn")]]
        statuses: list[tuple[str, int]] = []
        lock = threading.Lock()
        halfway = threading.Event()
        headers = {**JAVA_HEADERS, **cluster.auth}
        del headers["Connection"]  # keep-alive: many requests, few connections

        def client(n: int) -> None:
            with httpx.Client(base_url=cluster.rest, headers=headers, timeout=20) as c:
                for r in range(ROUNDS):
                    path = paths[(n * ROUNDS + r) % len(paths)]
                    got = c.get(path).status_code
                    with lock:
                        statuses.append((path, got))
                        if len(statuses) == CLIENTS * ROUNDS // 2:
                            halfway.set()
                    try:
                        nc.type(f"hello {n} {r}")
                    except OSError:  # the cancelled source has closed its connection
                        pass

        threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(CLIENTS)]
        for t in threads:
            t.start()
        assert halfway.wait(60)
        r = httpx.patch(f"{cluster.rest}/v1/jobs/{jid}?mode=cancel", content=b"{}", headers=headers, timeout=20)
        assert r.status_code == 202, r.text
        for t in threads:
            t.join(60)
        assert len(statuses) == CLIENTS * ROUNDS
        assert [s for s in statuses if s[1] != 200] == []
        cluster.wait_state(jid, ("CANCELED",), timeout=30)
    finally:
        nc.close()
