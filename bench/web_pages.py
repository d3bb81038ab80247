"""What a live RM page costs per refresh: the one renderer's way (ui.js fetches the page again, one
request) against what the old ui.js sent every second (the REST calls it rebuilt the page from), on a real
RM with one NM and `--apps` sleeping applications. Prints, per page, requests per refresh, p50/p95 latency
of a whole refresh and its bytes.

    python bench/web_pages.py [--apps 20] [--rounds 60]

It starts its own redis-server, RM, NM and JobManager (bench/fuzz_rest.py's `daemons`) and ends them all.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from fuzz_rest import daemons  # a script beside this one

API = "/ws/v1/cluster"


def submit(rm: str, n: int) -> None:
    for i in range(n):
        app_id = httpx.post(rm + API + "/apps/new-application", timeout=5).json()["application-id"]
        body = {"application-id": app_id, "application-name": f"sleeper {i}", "resource": {"memory": 128, "vCores": 1},
                "am-container-spec": {"commands": {"command": "sleep 600 1><LOG_DIR>/stdout"}}}
        httpx.post(rm + API + "/apps", json=body, timeout=5).raise_for_status()


def refresh(client: httpx.Client, paths: list[str]) -> tuple[float, int]:
    """One refresh: `paths` fetched as the page's script does (the old ui.js in parallel with
    Promise.all; here one after the other, an upper bound), (ms, bytes)."""
    t0 = time.perf_counter()
    size = 0
    for p in paths:
        r = client.get(p, headers={"Accept": "text/html" if not p.startswith(API) else "application/json"})
        r.raise_for_status()
        size += len(r.content)
    return 1000 * (time.perf_counter() - t0), size


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--apps", type=int, default=20, help="sleeping applications besides the fuzz target")
    p.add_argument("--rounds", type=int, default=60, help="refreshes measured per way and page")
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="miniyarn-webpages-"))
    try:
        with daemons(work) as (rm, _nm, _jm, ids):
            submit(rm, args.apps)
            app = ids["app"][0]
            attempt = f"appattempt_{app.removeprefix('application_')}_000001"
            pages = {
                "/cluster": (["/cluster"], [API + "/metrics", API + "/nodes", API + "/apps"]),
                "/cluster/app/<id>": ([f"/cluster/app/{app}"], [API + f"/apps/{app}", API + f"/apps/{app}/appattempts",
                                                                API + f"/apps/{app}/appattempts/{attempt}/containers"]),
                "/cluster/scheduler": (["/cluster/scheduler"], [API + "/scheduler"]),
            }
            with httpx.Client(base_url=rm, timeout=10) as client:
                for page, (new, old) in pages.items():
                    for way, paths in (("one renderer", new), ("old ui.js", old)):
                        refresh(client, paths)  # warm up
                        runs = [refresh(client, paths) for _ in range(args.rounds)]
                        ms = sorted(r[0] for r in runs)
                        print(f"{page:20} {way:13} requests/refresh {len(paths)}  p50 {statistics.median(ms):6.1f} ms"
                              f"  p95 {ms[int(0.95 * (len(ms) - 1))]:6.1f} ms  bytes {runs[-1][1]}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
