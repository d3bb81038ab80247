"""Request/reply over Redis lists: push a message on the RM's AM inbox, wait on a private reply list.

This is how AMs call the RM (YARN's ApplicationMasterProtocol), with the reply list as the
return path and a TTL so a reply nobody reads does not linger.
"""

from __future__ import annotations

import uuid

import redis

from miniyarn import keys
from miniyarn.protocol import RM_REPLY, Msg, RemoteError, RMReply


class RMUnavailableError(TimeoutError):
    """The RM did not answer in time: a temporary failure, worth retrying."""


class YarnRemoteError(RuntimeError):
    """The RM refused the call: a permanent failure for this request."""

    def __init__(self, exception: str, message: str) -> None:
        super().__init__(f"{exception}: {message}")
        self.exception = exception
        self.message = message


def new_reply_key(attempt_id: str) -> str:
    return keys.reply(attempt_id, uuid.uuid4().hex)


def call(client: redis.Redis, message: Msg, reply_to: str, timeout_s: float = 10.0) -> RMReply:
    client.rpush(keys.rm_am_inbox(), message.model_dump_json())
    got = client.blpop([reply_to], timeout=timeout_s)
    if got is None:
        raise RMUnavailableError(f"ResourceManager did not answer within {timeout_s:.0f}s")
    reply = RM_REPLY.validate_json(got[1])
    if isinstance(reply, RemoteError):
        raise YarnRemoteError(reply.exception, reply.message)
    return reply
