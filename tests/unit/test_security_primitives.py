"""Tokens and credentials: signing, expiry, tampering, derived secrets, files only their owner reads."""

from __future__ import annotations

import doctest
import stat
from pathlib import Path

import pytest

from miniyarn.security import credentials, tokens


def test_doctests() -> None:
    for module in (credentials, tokens):
        assert doctest.testmod(module).failed == 0


def test_token_round_trip_expiry_and_tampering() -> None:
    t = tokens.sign(b"k", "alice", ttl_s=10, now_s=100.0)
    assert tokens.verify(b"k", t, now_s=105.0) == "alice"
    with pytest.raises(tokens.InvalidTokenError, match="expired"):
        tokens.verify(b"k", t, now_s=111.0)
    cookie = tokens.cookie_value(b"k", "alice", ttl_s=10, now_s=100.0)
    forged = cookie.replace("u=alice&p=alice", "u=admin&p=admin")
    with pytest.raises(tokens.InvalidTokenError, match="signature"):
        tokens.verify_cookie(b"k", forged, now_s=105.0)
    with pytest.raises(tokens.InvalidTokenError):
        tokens.verify(b"k", "%%%not-base64", now_s=105.0)
    with pytest.raises(tokens.InvalidTokenError, match="user name"):
        tokens.sign(b"k", "bad user")


def test_credentials_are_private_stable_and_derivable(tmp_path: Path) -> None:
    d = tmp_path / "creds"
    first = credentials.ensure(d)
    assert stat.S_IMODE(d.stat().st_mode) == 0o700
    for f in d.iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
    again = credentials.ensure(d)
    assert again.redis_password("nm") == first.redis_password("nm")
    key = first.rm_master_key()
    assert credentials.derive(key, "amrm", "a1") == credentials.derive(key, "amrm", "a1")
    assert credentials.derive(key, "amrm", "a1") != credentials.derive(key, "container", "a1")
    acl = first.acl_file.read_text()
    assert "user default off" in acl and first.redis_password("rm") not in acl
    url = first.redis_url("redis://127.0.0.1:6390/3", "nm")
    assert url.startswith("redis://nm:") and url.endswith("@127.0.0.1:6390/3")
    assert credentials.without_user(url) == "redis://127.0.0.1:6390/3"
    with pytest.raises(credentials.CredentialsError, match="does not exist"):
        credentials.from_env(tmp_path / "missing")
