"""A minimal ApplicationMaster for the web UI tests that need a YARN application but no Flink (an app named
`<script>…</script>`, the metrics tests' sleeper): registers with the RM, heartbeats, and ends when the RM
stops its container. It has no web UI of its own, so it registers no tracking URL.

    $PYTHON idle_am.py
"""

from __future__ import annotations

import signal
import sys
import time
from types import FrameType

from miniyarn.client.amrm_client import AMRMClient


def main() -> int:
    stop = False

    def on_term(_sig: int, _frame: FrameType | None) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    am = AMRMClient()
    am.register(host="127.0.0.1")
    print("idle AM registered", flush=True)
    while not stop:
        am.allocate(progress=0.5)
        time.sleep(1.0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
