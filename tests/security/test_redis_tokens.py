"""The token checks as pure functions: an RM object that never talks to its Redis (nothing here flushes),
fed messages the way its inbox loop feeds them."""

from __future__ import annotations

import json

import redis

from miniyarn import keys
from miniyarn.client.nm_client import NMTokenCache
from miniyarn.config import YarnConfiguration
from miniyarn.ids import app_id_of
from miniyarn.protocol import Allocate, NodeHeartbeat, NodeShutdown, RemoteError
from miniyarn.records import Resource
from miniyarn.security.credentials import derive
from resourcemanager import amrm_users
from resourcemanager.inbox import InboxLoop
from resourcemanager.rm import ResourceManager
from resourcemanager.services import handle

ATTEMPT = "appattempt_1700000000000_0001_000001"
OTHER = "appattempt_1700000000000_0002_000001"


def rm() -> ResourceManager:
    # Port 1: nothing listens, and nothing here may connect.
    return ResourceManager(YarnConfiguration(load_files=False), redis.Redis(port=1), web_address="http://rm:1")


def allocate(attempt: str, token: str, reply_to: str | None = None) -> Allocate:
    return Allocate(attempt_id=attempt, reply_to=reply_to or keys.reply(attempt, "r1"), amrm_token=token)


def replies(r: ResourceManager) -> list[tuple[str, RemoteError]]:
    return [(key, RemoteError.model_validate_json(body)) for key, body in r.out.replies]


def test_tokens_derive_from_the_master_key_per_attempt_and_container() -> None:
    r = rm()
    assert r.amrm_token(ATTEMPT) == derive(r.master_key, "amrm", ATTEMPT) != r.amrm_token(OTHER)
    assert r.container_token("container_1_0001_01_000002") != r.amrm_token("container_1_0001_01_000002")
    assert rm().amrm_token(ATTEMPT) != r.amrm_token(ATTEMPT)  # no credentials dir: a key per RM process
    assert r.am_redis_url(ATTEMPT) == f"redis://{ATTEMPT}:{r.amrm_token(ATTEMPT)}@localhost:1/0"


def test_an_am_call_without_its_attempts_token_is_refused_and_answered() -> None:
    r = rm()
    for token in ("", "guessed", r.amrm_token(OTHER)):
        handle(r, allocate(ATTEMPT, token))
    got = replies(r)
    assert [key for key, _ in got] == [keys.reply(ATTEMPT, "r1")] * 3
    assert {(e.exception, e.message) for _, e in got} == {
        ("InvalidApplicationMasterRequestException", f"Invalid AMRMToken from {ATTEMPT}")}


def test_a_call_asking_for_its_answer_outside_the_claimed_attempt_is_not_answered() -> None:
    r = rm()
    handle(r, allocate(ATTEMPT, r.amrm_token(ATTEMPT), reply_to=keys.reply(OTHER, "r1")))
    handle(r, allocate(ATTEMPT, r.amrm_token(ATTEMPT), reply_to="yarn:app:application_1_0001"))
    assert r.out.replies == []


def test_a_valid_token_reaches_the_amrm_service() -> None:
    r = rm()
    handle(r, allocate(ATTEMPT, r.amrm_token(ATTEMPT)))
    (_, err), = replies(r)
    assert err.exception == "ApplicationAttemptNotFoundException"


def test_node_messages_are_acted_on_only_from_the_node_inbox() -> None:
    r = rm()
    loop = InboxLoop(r, r.redis)
    beat = NodeHeartbeat(node_id="evil:1", http_address="evil:1", capability=Resource(memory=1 << 20, vcores=64))
    loop._apply(beat.model_dump_json().encode(), from_am=True)
    loop._apply(NodeShutdown(node_id="evil:1").model_dump_json().encode(), from_am=True)
    assert r.nodes == {}
    loop._apply(allocate(ATTEMPT, r.amrm_token(ATTEMPT)).model_dump_json().encode(), from_am=False)
    assert r.out.replies == []
    loop._apply(beat.model_dump_json().encode(), from_am=False)
    assert list(r.nodes) == ["evil:1"]


def test_a_malformed_call_is_answered_only_under_its_claimed_attempt() -> None:
    r = rm()
    loop = InboxLoop(r, r.redis)
    bad = {"type": "am_allocate", "attempt_id": ATTEMPT, "amrm_token": 5}
    loop._apply(json.dumps({**bad, "reply_to": keys.reply(OTHER, "x")}).encode(), from_am=True)
    assert r.out.replies == []
    loop._apply(json.dumps({**bad, "reply_to": keys.reply(ATTEMPT, "x")}).encode(), from_am=True)
    assert [key for key, _ in r.out.replies] == [keys.reply(ATTEMPT, "x")]


def test_attempt_user_rules_reach_only_its_own_replies() -> None:
    rules = amrm_users.rules(ATTEMPT, "t")
    assert rules[:3] == ["reset", "on", "#e3b98a4da31a127d4bde6e43033f66ba274cab0eb7eb1c70ec41402bf6273dd8"]
    keyed = [x for x in rules if "~" in x]
    assert keyed == ["%W~yarn:rm:inbox:am", "%W~yarn:nm:*:commands", f"~yarn:reply:{ATTEMPT}:*",
                     f"(~yarn:flink:{app_id_of(ATTEMPT)}:checkpoint +get +set)"]  # its own app's pointer only


def test_nm_token_cache() -> None:
    cache = NMTokenCache()
    cache.put({"c1": "t1", "c2": "t2"})
    cache.forget("c1")
    assert (cache.get("c1"), cache.get("c2")) == ("", "t2")
