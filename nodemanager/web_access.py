"""Who may talk to the NM's web server, pure: the ACL policy and an app's ACLs (from the RM's app record),
the `hadoop.auth` cookie, the Host names it answers to, and the rule for where it may listen.

>>> known_host("127.0.0.1:8042", {"nm1"}), known_host("nm1:8042", {"nm1"}), known_host("evil.example", {"nm1"})
(True, True, False)
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import urlsplit

from miniyarn.config import YarnConfiguration
from miniyarn.security import credentials
from miniyarn.security.acls import AccessControlList, Policy
from miniyarn.security.http_auth import HttpAuthConfig, HttpAuthError, refuse_insecure_bind
from miniyarn.security.tokens import COOKIE


def acl_policy(conf: YarnConfiguration) -> Policy:
    """`yarn.acl.enable` (default false, as Hadoop's) and `yarn.admin.acl` (default `*`)."""
    return Policy(acl_enabled=conf.get_bool("yarn.acl.enable", False),
                  admin_acl=AccessControlList.parse(conf.get_str("yarn.admin.acl", "*")))


def app_acls(record: Mapping[str, Any]) -> dict[str, str]:
    """The application ACLs of an RM app record (`submission.am_container_spec.application_acls`, a
    dict or YARN's `{"entry": [{key, value}]}`); {} when the field is missing."""
    submission = record.get("submission")
    spec = submission.get("am_container_spec") if isinstance(submission, dict) else None
    raw = spec.get("application_acls") if isinstance(spec, dict) else None
    if isinstance(raw, dict) and isinstance(raw.get("entry"), list):
        raw = {e.get("key"): e.get("value") for e in raw["entry"] if isinstance(e, dict)}
    if not isinstance(raw, dict):
        return {}
    return {str(k): str(v) for k, v in raw.items() if isinstance(v, str)}


def cookie_token(header: str | None) -> str | None:
    """The `hadoop.auth` cookie's value in a Cookie header, if any."""
    if not header:
        return None
    try:
        jar = SimpleCookie(header)
    except CookieError:
        return None
    morsel = jar.get(COOKIE)
    return morsel.value if morsel is not None else None


def known_host(header: str, names: set[str]) -> bool:
    """A Host header naming one of `names` (lower case) or an IP address. A page that rebinds its own DNS
    name to this node's address sends its name: refused, so it cannot read logs from the browser."""
    try:
        name = urlsplit(f"//{header}").hostname or ""
    except ValueError:  # "[::1" and the like
        return False
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return name in names


def bind_refusal(host: str, conf: YarnConfiguration, insecure: bool,
                 credentials_dir: str | None = None) -> str | None:
    """Why the NM must not start serving on `host` (None if it may): unusable auth settings, or a
    listener beyond loopback with `simple` auth and no `--insecure` (anyone on the network could read
    every container's logs as anyone)."""
    try:
        auth = HttpAuthConfig.from_conf(conf, credentials.from_env(credentials_dir))
    except (HttpAuthError, credentials.CredentialsError) as e:
        return str(e)
    return refuse_insecure_bind(host, auth, insecure)
