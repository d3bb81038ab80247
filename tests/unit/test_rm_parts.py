"""The RM's parts on their own. Transitions on a bare RMContext (no ResourceManager, no Redis client at
all): events in, the context and its outbox asserted. Then the store, the only Redis writer, on the real
redis-server: a flushed context recovered by a new RM as it was."""

from __future__ import annotations

import redis

from miniyarn import keys
from miniyarn.config import YarnConfiguration
from miniyarn.exit_status import ContainerExitStatus
from miniyarn.protocol import ApplicationFinished, ContainerGrant, NodeHeartbeat, StartContainer, StopContainer
from miniyarn.records import ApplicationSubmissionContext, ContainerStatus, Resource
from miniyarn.security.credentials import digest, same
from miniyarn.states.application import YarnApplicationState
from miniyarn.states.attempt import AttemptState
from miniyarn.states.container import ContainerState, RMContainerState
from miniyarn.states.node import NodeEvent
from resourcemanager import (
    app_transitions,
    container_transitions,
    launcher,
    node_transitions,
    recovery,
    scheduling,
    services,
)
from resourcemanager.context import RMContext
from resourcemanager.rm import ResourceManager
from resourcemanager.scheduler.model import Allocation
from resourcemanager.webapp import views

APP = "application_1700000000000_0001"
NODE = "n1:1"
CONF = {"yarn.scheduler.minimum-allocation-mb": "128"}


def heartbeat(ctx: RMContext, *statuses: ContainerStatus) -> None:
    services.handle(ctx, NodeHeartbeat(node_id=NODE, http_address=NODE, capability=Resource(memory=4096, vcores=4),
                                       container_statuses=list(statuses)))


def submitted(ctx: RMContext) -> str:
    """APP submitted and its AM container placed on NODE; the AM container's id."""
    heartbeat(ctx)
    ctx.new_app_ids[APP] = ""
    app_transitions.submit(ctx, ApplicationSubmissionContext.model_validate({"application-id": APP}), "alice")
    scheduling.schedule(ctx)
    attempt = ctx.apps[APP].current
    assert attempt is not None and attempt.state is AttemptState.LAUNCHED
    return attempt.am_container_id


def test_a_submission_kill_and_end_on_a_bare_context() -> None:
    ctx = RMContext(YarnConfiguration(CONF, load_files=False))
    am = submitted(ctx)
    out = ctx.out
    # The AM's launch: its grant stored, its Redis user created, its start command to its node.
    assert out.containers[am] is not None and list(out.users_created) == [ctx.apps[APP].attempts[0].attempt_id]
    ((key, body),) = out.messages
    assert key == keys.nm_commands(NODE) and StartContainer.model_validate_json(body).container.id == am
    assert ctx.app_containers == {APP: {am: None}} and ctx.node_containers == {NODE: {am: None}}
    heartbeat(ctx, ContainerStatus(container_id=am, state=ContainerState.RUNNING))
    assert ctx.containers[am].state is RMContainerState.RUNNING and am not in ctx.unlaunched
    out.messages.clear()
    app_transitions.kill(ctx, APP)
    assert ctx.apps[APP].state is YarnApplicationState.KILLING
    ((_, body),) = out.messages
    assert StopContainer.model_validate_json(body).container_id == am
    heartbeat(ctx, ContainerStatus(container_id=am, state=ContainerState.COMPLETE,
                                   exit_status=ContainerExitStatus.KILLED_BY_RESOURCEMANAGER))
    assert ctx.apps[APP].state is YarnApplicationState.KILLED
    # Its container gone from the context, the index and the store; its node told to aggregate its logs.
    assert ctx.containers == {} and ctx.app_containers == {} and out.containers[am] is None
    assert out.log_nodes == [(APP, [NODE])]
    assert ApplicationFinished(application_id=APP).model_dump_json() in [b for _, b in out.messages]
    assert out.users_deleted == [ctx.apps[APP].attempts[0].attempt_id]


def test_the_completed_apps_limit_forgets_the_oldest_from_memory_and_store() -> None:
    ctx = RMContext(YarnConfiguration({**CONF, "yarn.resourcemanager.max-completed-applications": "1"},
                                      load_files=False))
    first, second = APP, "application_1700000000000_0002"
    for app_id in (first, second):
        ctx.new_app_ids[app_id] = ""
        app_transitions.submit(ctx, ApplicationSubmissionContext.model_validate({"application-id": app_id}), "a")
        app_transitions.kill(ctx, app_id)  # no AM container yet: KILLED at once
    assert list(ctx.apps) == [second] and ctx.out.apps_removed == [first]
    assert first not in ctx.out.apps


def recovered_with_an_am(client: redis.Redis) -> tuple[ResourceManager, str, str]:
    """An RM recovered from the test's Redis, its first application submitted and the AM container placed on
    NODE: (the RM, the application id, the AM container id)."""
    rm = ResourceManager(YarnConfiguration(CONF, load_files=False), client)
    recovery.recover(rm)
    rm.new_app_ids.clear()
    app_id = rm.new_application()
    heartbeat(rm)
    rm.submit(ApplicationSubmissionContext.model_validate({"application-id": app_id}), "alice")
    rm.schedule()
    attempt = rm.apps[app_id].current
    assert attempt is not None
    return rm, app_id, attempt.am_container_id


def test_a_flushed_context_is_recovered_as_it_was(redis_admin_url: str) -> None:
    client = redis.Redis.from_url(redis_admin_url)
    try:
        rm, app_id, am = recovered_with_an_am(client)
        assert rm.store.next_app_seq() == 2  # the counter is the store's: ids are never reissued
        heartbeat(rm, ContainerStatus(container_id=am, state=ContainerState.RUNNING))
        rm.flush()
        assert not rm.out

        again = ResourceManager(YarnConfiguration(CONF, load_files=False), client)
        recovery.recover(again)
        assert again.epoch == rm.epoch + 1
        app = again.apps[app_id]
        assert app.state is YarnApplicationState.ACCEPTED and app.current is not None
        assert app.current.state is AttemptState.LAUNCHED
        assert app.current.am_container_id == am
        assert again.app_containers == {app_id: {am: None}} and again.node_containers == {NODE: {am: None}}
        assert again.containers[am].recovered
        assert again.sched_nodes[NODE].used == again.containers[am].container.resource
        assert again.new_application() != app_id
    finally:
        client.close()


def test_records_lost_with_a_failed_over_redis_are_stored_again(redis_admin_url: str) -> None:
    """A promoted replica may miss the old master's last writes (asynchronous replication): once Redis
    answers again the RM writes every live record again, the grant an AM was already handed above all."""
    client = redis.Redis.from_url(redis_admin_url)
    try:
        rm, app_id, am = recovered_with_an_am(client)
        rm.flush()
        stored = {k: client.get(k) for k in (keys.container(am), keys.app(app_id), keys.node(NODE))}
        assert all(stored.values())
        client.delete(*stored)  # what the new master never got
        assert rm.store_again() == 1
        rm.flush()
        assert {k: client.get(k) for k in stored} == stored
        grant = ContainerGrant.model_validate_json(stored[keys.container(am)] or b"")
        assert same(digest(rm.container_token(am)), grant.token_digest)  # what the NM checks a start by
    finally:
        client.close()


def test_storing_again_leaves_a_queued_deletion_alone() -> None:
    ctx = RMContext(YarnConfiguration(CONF, load_files=False))
    am = submitted(ctx)
    ctx.out.containers[am] = None  # as if its completion were queued and not yet flushed
    assert container_transitions.store_again(ctx) == 0 and ctx.out.containers[am] is None
    assert APP in ctx.out.apps and NODE in ctx.out.nodes


def test_the_per_node_index_follows_allocations_completions_and_a_node_loss() -> None:
    ctx = RMContext(YarnConfiguration(CONF, load_files=False))
    am = submitted(ctx)
    other = "n2:1"
    services.handle(ctx, NodeHeartbeat(node_id=other, http_address=other, capability=Resource(memory=4096, vcores=4)))
    one = Resource(memory=128, vcores=1)
    for node_id in (NODE, other, other):
        container_transitions.apply_allocation(ctx, Allocation(APP, node_id, one, 1))
    on = {n: set(container_transitions.on_node(ctx, n)) for n in (NODE, other)}
    assert am in on[NODE] and len(on[NODE]) == 2 and len(on[other]) == 2
    assert set(ctx.containers) == on[NODE] | on[other]
    assert [views.node_info(ctx, ctx.nodes[n])["numContainers"] for n in (NODE, other)] == [2, 2]
    # A completion takes its container out of its own node's index, nothing else.
    done, kept = sorted(on[other])
    container_transitions.complete_container(ctx, done, 0, "")
    assert ctx.node_containers == {NODE: dict.fromkeys(sorted(on[NODE])), other: {kept: None}}
    # The other node lost: exactly its containers complete (ABORTED, told to the AM); NODE keeps its own.
    node_transitions.node_lost(ctx, ctx.nodes[other], NodeEvent.EXPIRE, "lost")
    assert other not in ctx.node_containers and set(ctx.node_containers[NODE]) == on[NODE]
    assert set(ctx.containers) == on[NODE] and views.node_info(ctx, ctx.nodes[other])["numContainers"] == 0
    attempt = ctx.apps[APP].current
    assert attempt is not None
    assert [(s.container_id, s.exit_status) for s in attempt.completed] == [
        (done, 0), (kept, ContainerExitStatus.ABORTED)]
    assert ctx.out.containers[done] is None and ctx.out.containers[kept] is None


def test_an_am_is_told_every_rm_with_ha_the_launching_one_first() -> None:
    def am_env(conf: dict[str, str]) -> dict[str, str]:
        ctx = RMContext(YarnConfiguration({**CONF, **conf}, load_files=False), web_address="http://10.0.0.2:8090")
        submitted(ctx)
        ((_, body),) = ctx.out.messages
        return StartContainer.model_validate_json(body).launch_context.environment

    assert am_env({})["MINIYARN_RM_ADDRESS"] == "http://10.0.0.2:8090"
    ha = {"yarn.resourcemanager.ha.enabled": "true", "yarn.resourcemanager.ha.rm-ids": "rm1,rm2",
          "yarn.resourcemanager.webapp.address.rm1": "10.0.0.1:8088",
          "yarn.resourcemanager.webapp.address.rm2": "10.0.0.2:8090"}
    assert am_env(ha)["MINIYARN_RM_ADDRESS"] == "http://10.0.0.2:8090,http://10.0.0.1:8088"


def test_an_apps_usage_sums_its_live_containers_as_they_come_and_go() -> None:
    ctx = RMContext(YarnConfiguration(CONF, load_files=False))
    am = submitted(ctx)
    for memory in (128, 256, 512):
        container_transitions.apply_allocation(ctx, Allocation(APP, NODE, Resource(memory=memory, vcores=2), 1))

    def expected() -> tuple[int, int, int]:
        live = views.live_containers(ctx, APP)
        return (len(live), sum(c.container.resource.memory for c in live),
                sum(c.container.resource.vcores for c in live))

    def shown() -> tuple[int, int, int]:
        info = views.app_info(ctx, ctx.apps[APP])
        return info["runningContainers"], info["allocatedMB"], info["allocatedVCores"]

    assert shown() == expected() and shown()[0] == 4 and shown()[2] == 1 + 2 * 3
    usage = ctx.app_usage[APP]
    starts = {cid: ctx.containers[cid].start_time for cid in ctx.app_containers[APP]}
    later = max(starts.values()) + 10_000
    assert usage.seconds(later) == (
        sum(ctx.containers[c].container.resource.memory * (later - s) for c, s in starts.items()) // 1000,
        sum(ctx.containers[c].container.resource.vcores * (later - s) for c, s in starts.items()) // 1000)
    for cid in [c for c in ctx.app_containers[APP] if c != am]:
        container_transitions.complete_container(ctx, cid, 0, "")
        assert shown() == expected()
    container_transitions.complete_container(ctx, am, 0, "")
    assert APP not in ctx.app_usage and shown() == (0, 0, 0)
def test_an_am_start_a_redis_restart_lost_is_sent_again_until_its_node_reports_it() -> None:
    ctx = RMContext(YarnConfiguration(CONF, load_files=False))
    am = submitted(ctx)
    ((_, first),) = ctx.out.messages
    ctx.out.messages.clear()  # flushed, then lost with the last second of a killed Redis's AOF
    assert launcher.launch_again(ctx) == 1
    ((key, body),) = ctx.out.messages
    assert key == keys.nm_commands(NODE) and StartContainer.model_validate_json(body) == \
        StartContainer.model_validate_json(first)
    assert ctx.apps[APP].current is not None and ctx.apps[APP].current.state is AttemptState.LAUNCHED
    ctx.out.messages.clear()
    heartbeat(ctx, ContainerStatus(container_id=am, state=ContainerState.RUNNING))  # its node runs it
    assert launcher.launch_again(ctx) == 0 and ctx.out.messages == []
