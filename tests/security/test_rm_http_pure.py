"""The RM web security's pure pieces, no daemons: proxy targets (SSRF), path normalisation, proxy
capabilities, the per-target gate, JSON nesting, Host names and login redirects, plus the modules' doctests."""

from __future__ import annotations

import doctest
from types import ModuleType

import pytest

from resourcemanager.errors import BadRequestError
from resourcemanager.webapp import auth, bodies, capability, proxy
from resourcemanager.webapp.proxy import Gate, ProxyRefused, normalized, target

NODE = {"10.0.0.5"}
DAEMONS = {("10.0.0.5", 8088), ("10.0.0.5", 8042), ("10.0.0.5", 6379)}


@pytest.mark.parametrize("module", [auth, bodies, capability, proxy])
def test_doctests(module: ModuleType) -> None:
    assert doctest.testmod(module).failed == 0


@pytest.mark.parametrize("url", ["10.0.0.5:36000", "http://10.0.0.5:36000/", "http://10.0.0.5:36000/flink/"])
def test_the_am_container_host_is_a_target(url: str) -> None:
    assert target(url, NODE, DAEMONS).startswith("http://10.0.0.5:36000")


@pytest.mark.parametrize("url", [
    "http://10.0.0.5:8088/ws/v1/cluster/apps",  # the RM's own REST
    "http://10.0.0.5:8042/ws/v1/node",  # the NM's
    "http://10.0.0.5:6379/",  # Redis
    "http://10.0.0.6:36000/", "http://127.0.0.1:36000/", "http://169.254.169.254/latest/meta-data/",
    "https://10.0.0.5:36000/", "file:///etc/passwd", "javascript:alert(1)", "gopher://10.0.0.5:70/",
    "http://user:pw@10.0.0.5:36000/", "http://10.0.0.5:notaport/",
])
def test_everything_else_is_refused(url: str) -> None:
    with pytest.raises(ProxyRefused):
        target(url, NODE, DAEMONS)


def test_dot_segments_are_refused_and_the_rest_requoted() -> None:
    for path in ("..", "a/../b", "./x", "containerlogs/../../ws"):
        with pytest.raises(BadRequestError):
            normalized(path)
    assert normalized("jobs/abc def") == "jobs/abc%20def"
    assert normalized("a/b?c") == "a/b%3Fc"


def test_capabilities_are_bound_to_the_app_and_expire() -> None:
    cap = capability.issue(b"key", "application_1_0001", "alice", ttl_s=60, now_s=1000.0)
    assert capability.verify(b"key", "application_1_0001", cap, now_s=1059.0) == "alice"
    assert capability.verify(b"key", "application_1_0001", cap, now_s=1061.0) is None
    assert capability.verify(b"other", "application_1_0001", cap, now_s=1001.0) is None
    assert capability.verify(b"key", "application_1_0002", cap, now_s=1001.0) is None
    _, mac = cap.split(".")
    forged = capability.issue(b"key", "application_1_0001", "admin", ttl_s=60, now_s=1000.0).split(".")[0]
    assert capability.verify(b"key", "application_1_0001", f"{forged}.{mac}", now_s=1001.0) is None
    assert capability.verify(b"key", "application_1_0001", "garbage", now_s=1001.0) is None


def test_the_gate_caps_each_key_separately() -> None:
    gate = Gate(2)
    assert gate.enter("a") and gate.enter("a") and not gate.enter("a")
    assert gate.enter("b")
    gate.leave("a")
    assert gate.enter("a")
    gate.leave("a")
    gate.leave("a")
    assert gate.inflight == {"b": 1}


def test_json_depth_and_size_are_checked_before_parsing() -> None:
    assert bodies.depth(b'{"a": "[[[[[[", "b": [1, [2]]}') == 3
    with pytest.raises(BadRequestError, match="nests deeper"):
        bodies.json_body(b"[" * 100_000, bodies.MAX_SUBMISSION_BODY)
    with pytest.raises(BadRequestError, match="at most"):
        bodies.json_body(b" " * (bodies.MAX_STATE_BODY + 1), bodies.MAX_STATE_BODY)
    with pytest.raises(BadRequestError, match="not valid JSON at line 1"):
        bodies.json_body(b'{"state": ', bodies.MAX_STATE_BODY)


def test_host_names_and_login_redirects() -> None:
    assert auth.host_name("[::1]:8088") == "::1" and auth.host_name("RM.example:80") == "rm.example"
    hosts = auth.allowed_hosts("rm.example", "127.0.0.1")
    assert {"rm.example", "127.0.0.1", "localhost", "::1"} <= hosts and "evil.example" not in hosts
    for bad in (None, "", "//evil.example/x", "https://evil.example", "/\\\\evil"):
        assert auth.safe_next(bad) == "/cluster"
    assert auth.safe_next("/cluster/app/application_1_0001?x=1") == "/cluster/app/application_1_0001?x=1"
