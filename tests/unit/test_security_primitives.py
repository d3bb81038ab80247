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


def test_acls_and_http_auth_doctests() -> None:
    from miniyarn.security import acls, http_auth

    for module in (acls, http_auth):
        assert doctest.testmod(module).failed == 0


def test_application_acls() -> None:
    from miniyarn.security.acls import AccessControlList, ApplicationAccessType, Policy, can_access

    off = Policy()
    on = Policy(acl_enabled=True, admin_acl=AccessControlList.parse("root"))
    view, modify = ApplicationAccessType.VIEW_APP, ApplicationAccessType.MODIFY_APP
    assert can_access(off, "eve", modify, "alice", {})
    assert can_access(on, "alice", modify, "alice", {})
    assert can_access(on, "root", modify, "alice", {})
    assert not can_access(on, "eve", view, "alice", {})
    assert can_access(on, "eve", view, "alice", {"VIEW_APP": "*"})
    assert not can_access(on, "eve", modify, "alice", {"VIEW_APP": "*"})
    assert not can_access(on, "eve", modify, "alice", {"MODIFY_APP": " "})
    assert str(AccessControlList.parse("b,a g")) == "a,b g"


def test_http_authentication_modes() -> None:
    from miniyarn.security.http_auth import HttpAuthConfig, authenticate, refuse_insecure_bind

    simple = HttpAuthConfig(kind="simple", secret=b"k")
    assert authenticate(simple, None, None, None).user == "dr.who"
    assert authenticate(simple, None, None, "bob").user == "bob"
    assert authenticate(HttpAuthConfig(anonymous_allowed=False), None, None, None).error
    token = HttpAuthConfig(kind="token", secret=b"k")
    assert authenticate(token, None, None, "bob").error == "Authentication required"
    good = tokens.cookie_value(b"k", "carol")
    got = authenticate(token, None, good, None)
    assert got.user == "carol" and got.via_cookie
    assert "Invalid token" in authenticate(token, "Bearer nope", None, None).error
    assert authenticate(token, f"Bearer {tokens.sign(b'other', 'x')}", None, None).error
    # simple: a stale token from another cluster is ignored, the caller is who user.name says.
    assert authenticate(simple, f"Bearer {tokens.sign(b'other', 'x')}", None, "bob").user == "bob"
    assert refuse_insecure_bind("0.0.0.0", simple, insecure=False)
    assert refuse_insecure_bind("0.0.0.0", simple, insecure=True) is None
    assert refuse_insecure_bind("127.0.0.1", simple, insecure=False) is None
    assert refuse_insecure_bind("0.0.0.0", token, insecure=False) is None


def test_credentials_cli_exports_only_the_nodemanagers_share(tmp_path: Path) -> None:
    from miniyarn.cli.main import main

    assert main(["credentials", "-init", str(tmp_path / "all"), "-export-nm", str(tmp_path / "nm")]) == 0
    assert sorted(p.name for p in (tmp_path / "nm").iterdir()) == ["http-signature.secret", "redis-nm.password"]
    assert (tmp_path / "nm" / "redis-nm.password").read_text() == (tmp_path / "all" / "redis-nm.password").read_text()


def test_an_old_acl_files_default_user_is_renewed_and_the_rest_kept(tmp_path: Path) -> None:
    first = credentials.ensure(tmp_path)
    acl = tmp_path / credentials.REDIS_ACL
    saved = acl.read_text().replace("user default off resetpass ~* &* +@all",
                                    "user default off sanitize-payload resetchannels -@all")
    acl.write_text(saved + "user appattempt_1_0001_000001 on #ab ~yarn:x\n")
    credentials.ensure(tmp_path)
    lines = acl.read_text().splitlines()
    assert lines[0] == "user default off resetpass ~* &* +@all"
    assert "user appattempt_1_0001_000001 on #ab ~yarn:x" in lines
    assert first.redis_password("rm") not in acl.read_text() and oct(acl.stat().st_mode & 0o777) == "0o600"
