"""`miniyarn ... <TAB>` against a real RM and NM: live application, attempt, container, node and queue ids,
through click's completion protocol (CliRunner), with the verb's own --rm-address."""

from __future__ import annotations

import pytest

from miniyarn.ids import ApplicationId
from tests.integration.conftest import Cluster, submit_ds, wait_for
from tests.unit.test_cli_click import complete

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


def test_ids_complete_from_the_rm(rm_only: Cluster) -> None:
    c = rm_only
    c.start_nm("nm1")
    wait_for("a running NodeManager", lambda: len(c.running_nodes()) == 1)
    app_id = submit_ds(c.rm_url, c.redis_url, "sleep 30", containers=1, name="sleeper")
    app = ApplicationId.parse(app_id)
    attempt_id = f"appattempt_{app.cluster_timestamp}_{app.id:04d}_000001"
    am_container = f"container_{app.cluster_timestamp}_{app.id:04d}_01_000001"
    c.wait_app_state(app_id, "RUNNING")
    wait_for("the worker container", lambda: len(c.get(
        f"/apps/{app_id}/appattempts/{attempt_id}/containers")["container"]) == 2)
    rm = f"--rm-address {c.rm_url}"

    assert complete(f"miniyarn application {rm} -status ") == [app_id]
    assert complete(f"miniyarn application {rm} -kill {app_id[:-2]}") == [app_id]
    assert complete(f"miniyarn application {rm} -kill application_1_") == []
    assert complete(f"miniyarn applicationattempt {rm} -list ") == [app_id]
    assert complete(f"miniyarn applicationattempt {rm} -status ") == [attempt_id]
    assert complete(f"miniyarn container {rm} -list appattempt_") == [attempt_id]
    containers = complete(f"miniyarn container {rm} -status ")
    assert len(containers) == 2 and sorted(containers)[0] == am_container, containers
    assert complete(f"miniyarn logs {rm} -applicationId {app_id} -containerId ") == containers
    node_id = c.running_nodes()[0]["id"]
    assert complete(f"miniyarn node {rm} -status ") == [node_id]
    assert complete(f"miniyarn queue {rm} -status ") == ["root", "root.default"]
    # zsh's protocol carries each id's help: the application's name and state.
    assert complete(f"miniyarn application {rm} -status ", "zsh") == ["plain", app_id, "sleeper (RUNNING)"]
