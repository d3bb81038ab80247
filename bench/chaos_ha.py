"""Chaos bench for RM HA: two RMs (rm1, rm2) on one Redis, and N failovers under a running application.

Each run submits a DistributedShell job of 3 containers that each sleep 3 s and write their id once to a
file, then at a random moment 0.3-5 s later hits the active RM: `kill` SIGKILLs it (restarted at once as
the new standby), `stop` SIGSTOPs it past its lease (the standby takes over) and SIGCONTs it (it must find
itself fenced and turn standby). Printed: the failover time of each run (the fault -> the other RM answers
`/isActive` 200, i.e. it has recovered and serves), and how many runs ended SUCCEEDED with exactly 3
distinct lines, no container left, and exactly one active RM afterwards.

    python bench/chaos_ha.py [--runs 20] [--faults kill,stop]
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chaos import CONF, Cluster, exact, finish, run_faults, until

from miniyarn.sockets import free_port

FAULTS = ("kill", "stop")
LEASE_MS = 2000


class HACluster(Cluster):
    """bench/chaos.py's cluster with two RMs: `rm_port` follows whichever is active."""

    def __init__(self, work: Path, creds: object) -> None:
        super().__init__(work, creds)  # type: ignore[arg-type]
        self.ports = {"rm1": free_port(), "rm2": free_port()}
        self.ha = ["-D", "yarn.resourcemanager.ha.enabled=true", "-D", "yarn.resourcemanager.ha.rm-ids=rm1,rm2",
                   "-D", f"yarn.resourcemanager.ha.lease-ms={LEASE_MS}",
                   *(a for rm_id, p in self.ports.items()
                     for a in ("-D", f"yarn.resourcemanager.webapp.address.{rm_id}=127.0.0.1:{p}"))]
        self.rm_port = self.ports["rm1"]

    def url_of(self, rm_id: str) -> str:
        return f"http://127.0.0.1:{self.ports[rm_id]}"

    def start_one(self, rm_id: str) -> None:
        self.spawn(rm_id, [sys.executable, "-m", "resourcemanager", "--redis-url", self.redis_url,
                           "--rm-id", rm_id, *CONF, *self.ha])
        until(rm_id, lambda: httpx.get(f"{self.url_of(rm_id)}/health", timeout=2).status_code == 200, 30)

    def start_rm(self) -> None:
        self.start_one("rm1")
        until("rm1 active", lambda: self.is_active("rm1"), 30)
        self.start_one("rm2")

    def is_active(self, rm_id: str) -> bool:
        try:
            return httpx.get(f"{self.url_of(rm_id)}/isActive", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def active(self) -> str:
        found = [r for r in self.ports if self.is_active(r)]
        return found[0] if len(found) == 1 else ""


def one_run(c: HACluster, fault: str, run: int) -> tuple[bool, float, str]:
    active = c.active()
    other = "rm2" if active == "rm1" else "rm1"
    c.rm_port = c.ports[active]
    out = c.work / f"{fault}-{run}.txt"
    app_id = c.submit(out, 3, 3)
    time.sleep(random.uniform(0.3, 5.0))
    hit = time.monotonic()
    if fault == "kill":
        c.kill(active)
    else:
        c.signal(active, signal.SIGSTOP)
    until(f"{other} active", lambda: c.is_active(other), 30)
    failover_s = time.monotonic() - hit
    c.rm_port = c.ports[other]
    if fault == "kill":
        c.start_one(active)
    else:
        c.signal(active, signal.SIGCONT)
        until(f"{active} standby", lambda: httpx.get(f"{c.url_of(active)}/isActive", timeout=1).status_code == 405, 10)
    state = c.final(app_id, 240)
    one_active = c.active() == other
    ok = state == ("FINISHED", "SUCCEEDED") and exact(out, 3) and one_active
    why = "" if ok else (f"{app_id} {state}, output {out.read_text().split() if out.exists() else []}, "
                         f"active {c.active() or 'none or both'}")
    return ok and c.nothing_left(), failover_s, why


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--faults", default=",".join(FAULTS))
    p.add_argument("--keep", action="store_true", help="keep the work directory (logs) at the end")
    args = p.parse_args()
    faults = [f for f in args.faults.split(",") if f]
    if set(faults) - set(FAULTS):
        p.error(f"unknown faults {sorted(set(faults) - set(FAULTS))}; choose from {', '.join(FAULTS)}")
    from miniyarn.security import credentials

    work = Path(tempfile.mkdtemp(prefix="miniyarn-chaos-ha-"))
    creds = credentials.ensure(work / "credentials")
    os.environ[credentials.ENV] = str(creds.dir)
    rows = run_faults(faults, args.runs, lambda fault: HACluster(work / fault, creds), lambda fault: 4, one_run,
                      "failover {:.2f}s")
    print(f"\n{'fault':<6} {'exact SUCCEEDED':>16} {'failover median s':>18} {'max s':>6}")
    for fault, good, runs, times in rows:
        print(f"{fault:<6} {f'{good}/{runs}':>16} {statistics.median(times):>18.2f} {max(times):>6.2f}")
    return finish(work, args.keep, rows)


if __name__ == "__main__":
    sys.exit(main())
