from __future__ import annotations

import pytest

from miniyarn.ids import ApplicationAttemptId, ApplicationId, ContainerId, InvalidIdError, NodeId, app_id_of


def test_application_id_format_and_parse() -> None:
    app = ApplicationId(1700000000000, 7)
    assert str(app) == "application_1700000000000_0007"
    assert ApplicationId.parse(str(app)) == app
    assert str(ApplicationId(1, 12345)) == "application_1_12345"


def test_attempt_and_container_ids() -> None:
    attempt = ApplicationAttemptId(ApplicationId(1700000000000, 7), 2)
    assert str(attempt) == "appattempt_1700000000000_0007_000002"
    assert ApplicationAttemptId.parse(str(attempt)) == attempt
    cid = ContainerId(attempt, 3)
    assert str(cid) == "container_1700000000000_0007_02_000003"
    assert ContainerId.parse(str(cid)) == cid
    epoch = ContainerId(attempt, 3, epoch=1)
    assert str(epoch) == "container_e01_1700000000000_0007_02_000003"
    assert ContainerId.parse(str(epoch)) == epoch
    assert app_id_of(str(epoch)) == "application_1700000000000_0007"


@pytest.mark.parametrize("text", ["application_x_1", "app_1_1", "application_1", ""])
def test_bad_application_ids(text: str) -> None:
    with pytest.raises(InvalidIdError, match="Invalid ApplicationId"):
        ApplicationId.parse(text)


def test_node_id() -> None:
    assert NodeId.parse("host-1:8041") == NodeId("host-1", 8041)
    with pytest.raises(InvalidIdError):
        NodeId.parse("nohost")
