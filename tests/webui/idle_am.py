"""A minimal ApplicationMaster for the web UI tests: registers with the RM with a tracking URL given on
the command line (a JobManager started by the test), heartbeats, and ends when the RM stops its container.

    $PYTHON am_shim.py --tracking-url http://127.0.0.1:PORT
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from types import FrameType

from miniyarn.client.amrm_client import AMRMClient


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--tracking-url", default="")
    args = p.parse_args()
    stop = False

    def on_term(_sig: int, _frame: FrameType | None) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    am = AMRMClient()
    am.register(host="127.0.0.1", tracking_url=args.tracking_url)
    print(f"AM shim registered with tracking URL {args.tracking_url}", flush=True)
    while not stop:
        am.allocate(progress=0.5)
        time.sleep(1.0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
