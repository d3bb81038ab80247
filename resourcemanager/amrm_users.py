"""The Redis user of each application attempt: what YARN's AMRMToken is here.

The RM creates it when it launches the attempt's AM, named by the attempt id, its password the
attempt's AMRM token (`derive(master key, "amrm", attemptId)`, so a restarted RM knows it again),
and deletes it when the attempt ends. It may only push AM calls on the RM's AM inbox and commands
on NM command lists (each checked there by token), read its own reply lists, and GET/SET its own
application's Flink checkpoint pointer (a Redis 7 selector: those two commands on that one key only, so
they cannot reach the inbox or the NM lists the root permissions may write).

>>> rules("appattempt_1_0001_000001", "t")[-8:-1]
['-@all', '+ping', '+hello', '+auth', '+select', '+rpush', '+blpop']
>>> rules("appattempt_1_0001_000001", "t")[-1]
'(~yarn:flink:application_1_0001:checkpoint +get +set)'
"""

from __future__ import annotations

import logging

import redis

from miniyarn import keys
from miniyarn.ids import app_id_of
from miniyarn.security import credentials as creds

log = logging.getLogger("resourcemanager")

# What AMRMClient and NMClient send, and what redis-py sends on connect (+select for a URL's db).
COMMANDS = ("-@all", "+ping", "+hello", "+auth", "+select", "+rpush", "+blpop")


def token(master_key: bytes, attempt_id: str) -> str:
    return creds.derive(master_key, "amrm", attempt_id)


def rules(attempt_id: str, amrm_token: str) -> list[str]:
    """ACL SETUSER arguments: write-only on the AM inbox and NM command lists, its own replies."""
    return ["reset", "on", f"#{creds.digest(amrm_token)}", "resetchannels",
            f"%W~{keys.rm_am_inbox()}", f"%W~{keys.nm_commands('*')}", f"~{keys.reply_prefix(attempt_id)}*",
            *COMMANDS, f"(~{keys.flink_checkpoint_pointer(app_id_of(attempt_id))} +get +set)"]


def queue_changes(pipe: redis.client.Pipeline, created: dict[str, str], deleted: list[str], save: bool) -> None:
    """Add the user changes of one batch to `pipe`: `created` attempt id -> token, then the deletions,
    then ACL SAVE when Redis has an aclfile (so a Redis restart keeps the live attempts' users)."""
    for attempt_id, amrm_token in created.items():
        # Raw: redis-py's acl_setuser has no way to say %W~ (write-only key patterns).
        pipe.execute_command("ACL", "SETUSER", attempt_id, *rules(attempt_id, amrm_token))  # type: ignore[no-untyped-call]
    if deleted:
        pipe.acl_deluser(*deleted)
    if save:
        pipe.acl_save()


def has_aclfile(client: redis.Redis) -> bool:
    """Whether ACL SAVE has a file to write (redis-server started with --aclfile)."""
    try:
        got = client.config_get("aclfile")
    except redis.ResponseError:
        return False
    value = got.get("aclfile") or got.get(b"aclfile")  # type: ignore[call-overload]
    return bool(value)
