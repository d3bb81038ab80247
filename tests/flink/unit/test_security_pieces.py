"""The Flink planes' pure pieces: the handshake's proofs, the cluster secret file's checks, the typed
messages' refusals and the REST guard's decisions (no network beyond a socketpair, no processes)."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import pytest
from pydantic import ValidationError

from flink_on_yarn.runtime.messages import FOR_JOBMANAGER, FOR_TASKMANAGER, Cancel, Register, encode
from flink_on_yarn.runtime.rest_guard import RestGuard, cookie_of, origin_of, session_cookie
from flink_on_yarn.security import handshake
from flink_on_yarn.security.secret import SecretError, ensure_file, read_file

SECRET = b"k" * 64


def pair(server_secret: bytes, client_secret: bytes) -> tuple[Exception | None, Exception | None]:
    a, b = socket.socketpair()
    errors: list[Exception | None] = [None, None]

    def serve() -> None:
        try:
            handshake.server_side(a, server_secret, timeout_s=2)
        except handshake.HandshakeError as e:
            errors[0] = e
            a.close()

    t = threading.Thread(target=serve)
    t.start()
    try:
        handshake.client_side(b, client_secret, timeout_s=2)
    except handshake.HandshakeError as e:
        errors[1] = e
    t.join()
    a.close()
    b.close()
    return errors[0], errors[1]


def test_the_handshake_admits_the_same_secret_and_refuses_another_on_both_sides() -> None:
    assert pair(SECRET, SECRET) == (None, None)
    server, client = pair(SECRET, b"other" * 13)
    assert isinstance(server, handshake.HandshakeError) and isinstance(client, handshake.HandshakeError)


def test_a_proof_is_not_reusable_in_the_other_direction() -> None:
    nonce, challenge = handshake.challenge()
    client_nonce, answer = handshake.answer(SECRET, challenge)
    proof = handshake.check_answer(SECRET, nonce, answer)
    handshake.check_server(SECRET, nonce, client_nonce, proof)
    # Reflected: the client's own answer is not the server's proof, nor an answer to another challenge.
    with pytest.raises(handshake.HandshakeError):
        handshake.check_server(SECRET, nonce, client_nonce, answer[handshake.NONCE:])
    other, _ = handshake.challenge()
    with pytest.raises(handshake.HandshakeError):
        handshake.check_answer(SECRET, other, answer)
    with pytest.raises(handshake.HandshakeError):
        handshake.answer(SECRET, b"\x80\x05garbage" + b"\0" * 32)


def test_a_silent_peer_times_out() -> None:
    a, b = socket.socketpair()
    with pytest.raises(handshake.HandshakeError, match="did not answer"):
        handshake.server_side(a, SECRET, timeout_s=0.2)
    a.close()
    b.close()


def test_the_secret_file_is_made_0600_once_and_refused_when_unsafe(tmp_path: Path) -> None:
    path = tmp_path / "pids" / "s.secret"
    first = ensure_file(path)
    assert ensure_file(path) == first and len(first) == 64 and path.stat().st_mode & 0o777 == 0o600
    path.chmod(0o644)
    with pytest.raises(SecretError, match="mode 0600"):
        read_file(path)
    link = tmp_path / "link.secret"
    os.symlink(path, link)
    with pytest.raises(SecretError):
        read_file(link)  # a symlink (a squatter's, say) is never followed
    with pytest.raises(SecretError, match="Cannot read"):
        read_file(tmp_path / "missing")


def test_messages_are_typed_per_direction() -> None:
    reg = encode(Register(id="tm-1", slots=2))
    assert isinstance(FOR_JOBMANAGER.validate_json(reg), Register)
    with pytest.raises(ValidationError):
        FOR_TASKMANAGER.validate_json(reg)  # a TaskManager takes no registration
    with pytest.raises(ValidationError):
        FOR_JOBMANAGER.validate_json(encode(Cancel(execution_id="e")))
    with pytest.raises(ValidationError):
        FOR_JOBMANAGER.validate_json(b'{"type": "register", "id": "x", "slots": 1, "exec": "rm -rf /"}')
    with pytest.raises(ValidationError):
        FOR_JOBMANAGER.validate_json(b"\x80\x05\x95")  # a pickle is not a message


def guard() -> RestGuard:
    async def app(scope: object, receive: object, send: object) -> None:
        raise AssertionError("not reached")

    return RestGuard(app, SECRET, trusted_origins=["http://rm:8088"])


def scope(method: str, path: str, **headers: str) -> dict[str, object]:
    return {"type": "http", "method": method, "path": path, "scheme": "http",
            "headers": [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]}


@pytest.mark.parametrize(("method", "path", "headers", "status"), [
    ("GET", "/jobs", {}, 401),
    ("GET", "/jobs", {"authorization": "Bearer nope"}, 403),
    ("GET", "/jobs", {"authorization": "Bearer " + SECRET.decode()}, None),
    ("GET", "/health", {}, None),
    ("GET", "/dashboard/dashboard.js", {}, None),
    ("POST", "/jobs", {"authorization": "Bearer " + SECRET.decode(), "content_type": "text/plain"}, 403),
    ("POST", "/jobs", {"authorization": "Bearer " + SECRET.decode()}, 403),  # no Content-Type: a simple POST
    ("POST", "/jobs", {"authorization": "Bearer " + SECRET.decode(), "content_type": "application/json",
                       "origin": "http://evil.example", "host": "jm:8081"}, 403),
    ("POST", "/jobs", {"authorization": "Bearer " + SECRET.decode(), "content_type": "application/json; charset=utf-8",
                       "origin": "http://jm:8081", "host": "jm:8081"}, None),
    ("PATCH", "/jobs/x", {"authorization": "Bearer " + SECRET.decode(), "origin": "http://rm:8088",
                          "host": "jm:8081"}, None),
    ("PATCH", "/jobs/x", {"cookie": f"flink.auth={session_cookie(SECRET)}"}, None),
    ("PATCH", "/jobs/x", {"cookie": "flink.auth=forged"}, 403),
    ("POST", "/login", {"content_type": "application/x-www-form-urlencoded"}, None),
])
def test_the_guard_decides(method: str, path: str, headers: dict[str, str], status: int | None) -> None:
    refusal = guard()._refusal(scope(method, path, **headers), {k.replace("_", "-"): v for k, v in headers.items()})
    assert (refusal[0] if refusal else None) == status, refusal


def test_origins_and_cookies_parse() -> None:
    assert origin_of("http://RM:8088/cluster") == "http://rm:8088"
    assert origin_of("127.0.0.1:8088") == "http://127.0.0.1:8088"
    assert cookie_of("a=1; flink.auth=abc; b=2") == "abc" and cookie_of("a=1") == ""
