"""A task process: `python -m flink_on_yarn.runtime.task_main STATUS_FD`, its deployment a JSON line on stdin
and the cluster secret in `$MINIFLINK_CLUSTER_SECRET` (its TaskManager's own pipe and environment: nothing
a stranger can reach).

Each subtask runs in a process of its own so that slots do not share one interpreter lock. Its stdout is the
TaskManager's stdout (where `print()` lands); state reports go as JSON lines to STATUS_FD. When the
TaskManager dies, stdin reaches EOF and the task exits with it.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import sys
import threading
import traceback
from typing import Any

from flink_on_yarn.runtime.task import Commands, run_task
from flink_on_yarn.runtime.task_deployment import DEPLOYMENT
from flink_on_yarn.security import secret as cluster_secret


def _read_commands(commands: Commands) -> None:
    """The TaskManager's commands after the deployment line (checkpoint triggers and completions); at EOF,
    the TaskManager is gone and the task exits with it."""
    for line in sys.stdin.buffer:
        try:
            cmd = json.loads(line)
        except ValueError:
            continue
        if isinstance(cmd, dict):
            commands.put(cmd)
    os._exit(3)


def main(argv: list[str]) -> int:
    status_fd = int(argv[0])
    # The TaskManager's stderr is this process's: its log shows the task's warnings (a refused peer) too.
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s - %(message)s")
    line = sys.stdin.buffer.readline()
    if not line.strip():
        return 0  # a spare process whose TaskManager ended before giving it a task
    dep = DEPLOYMENT.validate_json(line)
    secret = os.environ.get(cluster_secret.ENV, "").encode()
    commands: Commands = queue.SimpleQueue()
    threading.Thread(target=_read_commands, args=(commands,), daemon=True).start()

    def report(msg: dict[str, Any]) -> None:
        os.write(status_fd, (json.dumps(msg) + "\n").encode())

    try:
        run_task(dep, report, secret, commands=commands)
    except Exception as e:
        traceback.print_exc(file=sys.stderr)
        report({"state": "FAILED", "error": f"{type(e).__name__}: {e}"})
        sys.stderr.flush()
        os._exit(1)
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter finalization: the stdin watcher thread is blocked in read() and would abort it.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
