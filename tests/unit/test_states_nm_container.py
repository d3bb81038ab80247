"""An NM container (nodemanager/container.py) moves only through ContainerImpl's machine: its life as the
container manager drives it, what the RM hears at each step, and a second end refused."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from miniyarn.records import Resource
from miniyarn.states.nm_container import NMContainerEvent, NMContainerState
from nodemanager.container import NMContainer
from nodemanager.launch import ContainerPaths

CID = "container_1700000000000_0001_01_000002"
E, S = NMContainerEvent, NMContainerState


def container(tmp_path: Path) -> NMContainer:
    paths = ContainerPaths.of([tmp_path / "local"], [tmp_path / "logs"], "alice", "application_1700000000000_0001",
                              CID)
    return NMContainer(id=CID, app_id="application_1700000000000_0001", user="alice",
                       resource=Resource(memory=128, vcores=1), paths=paths)


def test_a_killed_container_walks_containerimpls_states(tmp_path: Path) -> None:
    c = container(tmp_path)
    seen = []
    for event in (E.INIT_CONTAINER, E.RESOURCE_LOCALIZED, E.CONTAINER_LAUNCHED, E.KILL_CONTAINER):
        assert c.event(event)
        seen.append((c.state, c.status().state.value))
    assert seen == [(S.LOCALIZING, "NEW"), (S.SCHEDULED, "NEW"), (S.RUNNING, "RUNNING"), (S.KILLING, "RUNNING")]
    c.complete(-105, success=False)
    assert c.state is S.EXITED_WITH_FAILURE and c.is_complete and c.done.is_set()
    assert c.status().state.value == "COMPLETE" and c.status().exit_status == -105
    assert c.event(E.CONTAINER_RESOURCES_CLEANEDUP) and c.state is S.DONE


def test_a_second_end_is_refused_and_keeps_the_first(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    c = container(tmp_path)
    assert c.event(E.CONTAINER_RECOVERED) and c.state is S.RUNNING  # taken back after an NM restart
    c.complete(0, success=True)
    with caplog.at_level(logging.WARNING, logger="miniyarn.states"):
        c.complete(-100, success=False)
    assert c.state is S.EXITED_WITH_SUCCESS and c.exit_status == 0
    assert f"{CID}: Can't handle this event at current state: CONTAINER_EXITED_WITH_FAILURE at EXITED_WITH_SUCCESS" \
        in caplog.text


def test_a_kill_before_launch_cannot_start_it_afterwards(tmp_path: Path) -> None:
    c = container(tmp_path)
    assert c.event(E.INIT_CONTAINER)
    c.complete(-106, success=False)  # killed (or localization failed) before the launch
    assert not c.event(E.RESOURCE_LOCALIZED) and not c.event(E.CONTAINER_LAUNCHED)
    assert c.state is S.EXITED_WITH_FAILURE
