"""The RM's log is not a line per proxied dashboard poll: a browser on an AM's UI polls it every few seconds,
and those requests are DEBUG (httpx's own INFO line per request is silenced in the RM)."""

from __future__ import annotations

import pytest

from tests.security import rm_web
from tests.security.rm_web import SecureRM

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]
secure_rm = rm_web.secure_rm  # the module's fixture

POLLS = 20


def test_proxied_polls_are_not_logged_at_info(secure_rm: SecureRM) -> None:
    app_id = secure_rm.web_am("alice", "echo")
    before = secure_rm.log().splitlines()
    with secure_rm.client("alice") as alice:
        for _ in range(POLLS):
            assert alice.get(f"/proxy/{app_id}/jobs/overview").status_code == 200
    new = secure_rm.log().splitlines()[len(before):]
    assert not [line for line in new if "/jobs/overview" in line or "HTTP Request" in line], new
    with secure_rm.client("alice") as alice:
        alice.put(f"/ws/v1/cluster/apps/{app_id}/state", json={"state": "KILLED"})
