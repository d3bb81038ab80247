"""The command loop: takes NMCommands off this node's Redis list with BLMOVE into a processing list
(reliable hand-off: a crash mid-command leaves it there, handled again on the next start) and hands
each to the NodeManager.

Why not a per-NM rq queue (the node's background services are one, nodemanager.services): not a fork (rq's
SimpleWorker runs jobs in-process), but a worker's `work()` takes over its thread and installs SIGINT/SIGTERM
handlers (the NM's main thread owns those), and an rq job costs a job hash plus queue and registry writes where
a command costs two Redis calls (BLMOVE, LREM), at every container start.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import cast

import redis
from pydantic import ValidationError

from miniyarn import keys
from miniyarn.protocol import NM_COMMAND, NMCommand

log = logging.getLogger("nodemanager.CommandLoop")

# BLMOVE waits this long per call, so a stop request is noticed within it.
BLOCK_S = 1


def parse_command(raw: bytes | str) -> NMCommand | None:
    """An NMCommand, or None (logged) for a payload nobody can act on."""
    try:
        return NM_COMMAND.validate_json(raw)
    except ValidationError as e:
        text = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
        log.error("Dropping a malformed NodeManager command %.200s: %s", text, e.errors()[0]["msg"])
        return None


class CommandLoop:
    def __init__(self, client: redis.Redis, node_id: str, handle: Callable[[NMCommand], None],
                 stop: threading.Event) -> None:
        self.redis = client
        self.commands = keys.nm_commands(node_id)
        self.processing = keys.nm_processing(node_id)
        self.handle = handle
        self.stop = stop

    def _process(self, raw: bytes | str) -> None:
        """Handle one command, then take it off the processing list. A Redis error while handling it (the
        grant check of a start, as Redis goes down or a Sentinel fails over) reaches the caller, which
        handles it again once Redis answers: dropped, the container was never started and its AM waited
        for it until allocation expiry. Handling again is safe: a start or stop refused nothing and
        changed nothing before its Redis read."""
        cmd = parse_command(raw)
        if cmd is not None:
            try:
                self.handle(cmd)
            except redis.RedisError:
                raise
            except Exception:  # one bad command must not stop the node
                log.exception("Command %s failed", cmd.type)
        try:
            # Our clients hand back bytes; redis-py's stubs only name str, but LREM compares bytes exactly.
            self.redis.lrem(self.processing, 1, cast(str, raw))
        except redis.RedisError as e:
            # Done all the same: left on the processing list, a restart of this node handles it again (a
            # start of a container it runs is ignored, a stop of one it stopped changes nothing).
            log.warning("Could not take a handled %s off %s (%s)", cmd.type if cmd else "command",
                        self.processing, e)

    def recover(self) -> int:
        """Handle what a previous run of this node took but did not finish."""
        left = self.redis.lrange(self.processing, 0, -1)
        for raw in left:
            log.info("Recovering an unfinished command from %s", self.processing)
            self._process(raw)
        return len(left)

    def run(self) -> None:
        held: bytes | str | None = None  # taken, and not handled yet because Redis failed meanwhile
        while not self.stop.is_set():
            try:
                if held is None:
                    held = self.redis.blmove(self.commands, self.processing, BLOCK_S, "LEFT", "RIGHT")
                if held is not None:
                    self._process(held)
                    held = None
            except redis.RedisError as e:
                log.warning("%s from %s failed (%s); retrying in 1s", "Handling a command" if held else
                            "Reading commands", self.commands, e)
                time.sleep(1)
