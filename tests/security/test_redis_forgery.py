"""Issue 9, attack 1, against a real RM, two real NMs and a real Redis with the cluster's ACL users: every
forgery a container could send through Redis, tried with what a container's environment holds, fails.

Two attackers: a plain container (a DistributedShell task: its environment has no Redis credential at
all), and an ApplicationMaster holding the valid credential of its own attempt (its Redis user, the
AMRM token), which tries the same against another application. The victim, a DistributedShell app,
must still end SUCCEEDED with exactly its output, and each refusal must be logged.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from miniyarn import keys
from miniyarn.client.amrm_client import AMRMClient
from miniyarn.protocol import (
    ApplicationFinished,
    ContainerGrant,
    FinishApplicationMaster,
    NodeHeartbeat,
    NodeShutdown,
    StartContainer,
    StopContainer,
)
from miniyarn.records import Container, ContainerLaunchContext, Resource
from miniyarn.redisconn import text
from miniyarn.rpc import YarnRemoteError, call
from miniyarn.security.credentials import digest
from miniyarn.states.application import FinalApplicationStatus
from tests.conftest import Processes, free_port, logs_aggregated
from tests.integration.conftest import FAST_CONF, Cluster, submit_ds, two_node_cluster, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

TERABYTE_MB = 1 << 20


@pytest.fixture
def yarn(redis_url: str, processes: Processes) -> Cluster:
    """A real RM and two real NMs (4 GB, 4 vcores each), as tests/integration's `cluster`."""
    return two_node_cluster(redis_url, processes)


def pings(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url).ping())
    except redis.AuthenticationError:
        return False


def container_env(text_: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text_.splitlines() if "=" in line)


def aggregated_stdout(admin: redis.Redis, app_id: str) -> dict[str, str]:
    """Shell container id -> its aggregated stdout (the AM, container 1, writes AppMaster.stdout)."""
    out = {}
    for field, value in admin.hgetall(keys.app_logs(app_id)).items():
        cid, _node, name = text(field).split(" ", 2)
        if name == "stdout" and not cid.endswith("_000001"):
            out[cid] = text(value)
    return out


def attempt_of(app_id: str) -> str:
    return app_id.replace("application_", "appattempt_") + "_000001"


@dataclass
class Attackers:
    plain_env: dict[str, str]  # a DistributedShell task's whole environment
    am_env: dict[str, str]  # an AM container's whole environment (it holds its attempt's Redis user)
    am_app: str


def am_env_of(yarn: Cluster, app_id: str) -> dict[str, str]:
    """The environment an AM container printed to its stdout, read through its NM's REST API."""
    am = wait_for("the attacker's AM container", lambda: yarn.get(f"/apps/{app_id}/appattempts")
                  ["appAttempts"]["appAttempt"][0]["containerId"])
    node = yarn.app(app_id)["amHostHttpAddress"]
    got: dict[str, str] = wait_for("the AM's environment", lambda: (env := container_env(httpx.get(
        f"http://{node}/ws/v1/node/containerlogs/{am}/AppMaster.stdout", timeout=5).text))
        .get("MINIYARN_REDIS_URL") and env)
    return got


@pytest.fixture
def attackers(yarn: Cluster) -> Iterator[Attackers]:
    admin = redis.Redis.from_url(yarn.admin_url)
    plain_app = submit_ds(yarn.rm_url, yarn.redis_url, "env\n", containers=1, name="env-dump")
    am_app = str(httpx.post(f"{yarn.rm_url}/ws/v1/cluster/apps/new-application").json()["application-id"])
    body = {"application-id": am_app, "application-name": "attacker-am", "max-app-attempts": 1,
            "resource": {"memory": 128, "vCores": 1},
            "am-container-spec": {"commands": {"command": "env 1><LOG_DIR>/AppMaster.stdout; sleep 60"}}}
    assert httpx.post(f"{yarn.rm_url}/ws/v1/cluster/apps", json=body).status_code == 202
    yarn.wait_app_state(plain_app, "FINISHED")
    wait_for("the env dump's logs", lambda: logs_aggregated(admin, plain_app))
    (plain_out,) = aggregated_stdout(admin, plain_app).values()
    yield Attackers(container_env(plain_out), am_env_of(yarn, am_app), am_app)
    admin.close()


def test_container_forgeries_fail_and_the_victim_succeeds(yarn: Cluster, attackers: Attackers,
                                                          tmp_path: Path) -> None:
    admin = redis.Redis.from_url(yarn.admin_url)
    victim = submit_ds(yarn.rm_url, yarn.redis_url, "sleep 6; echo victim done\n", containers=2,
                       name="victim")
    victim_attempt = attempt_of(victim)

    def running_tasks() -> list[dict[str, Any]]:
        rows = yarn.get(f"/apps/{victim}/appattempts/{victim_attempt}/containers")["container"]
        return [r for r in rows if not r["isAM"] and r["containerState"] == "RUNNING"]

    tasks = wait_for("the victim's 2 tasks", lambda: len(t := running_tasks()) == 2 and t)
    task = tasks[0]
    node_ids = [n["id"] for n in yarn.running_nodes()]
    pwned = tmp_path / f"pwned-{uuid.uuid4().hex}"

    # ---- a plain container: no Redis credential in its environment at all ----------------------
    env = attackers.plain_env
    assert env["CONTAINER_ID"].startswith("container_")
    assert "MINIYARN_REDIS_URL" not in env and "MINIYARN_CREDENTIALS_DIR" not in env
    assert not any(yarn.redis_url.split("//")[1].split("/")[0] in v and "@" in v for v in env.values())
    bare = redis.Redis.from_url(yarn.redis_url)  # the address is no secret: guess it, try everything
    for attempt in (lambda: bare.ping(), lambda: bare.get(keys.app(victim)),
                    lambda: bare.rpush(keys.rm_inbox(), "{}"), lambda: bare.rpush(keys.rm_am_inbox(), "{}"),
                    lambda: bare.rpush(keys.nm_commands(task["nodeId"]), "{}"),
                    lambda: bare.set(keys.container("container_1_0001_01_000001"), "{}")):
        with pytest.raises(redis.AuthenticationError):
            attempt()

    # ---- an AM with its own attempt's credential, against another app ---------------------------
    am = redis.Redis.from_url(attackers.am_env["MINIYARN_REDIS_URL"])
    assert am.ping()
    foreign = f"{task['containerId'][:-6]}000099"  # a container id of the victim's that nobody granted
    grant = ContainerGrant(id=foreign, node_id=task["nodeId"], node_http_address=task["nodeHttpAddress"],
                           resource=Resource(memory=128, vcores=1), token_digest=digest("forged"))
    with pytest.raises(redis.exceptions.NoPermissionError):  # a forged grant
        am.set(keys.container(foreign), grant.model_dump_json())
    with pytest.raises(redis.exceptions.NoPermissionError):  # another app's submission (its env, its secrets)
        am.get(keys.app(victim))
    with pytest.raises(redis.exceptions.NoPermissionError):
        am.lrange(keys.nm_commands(task["nodeId"]), 0, -1)  # the AM launch contexts queued for an NM
    with pytest.raises(redis.exceptions.NoPermissionError):
        am.scan(0)
    # Its own application's Flink checkpoint pointer (the HA store) it reads and writes; no other app's, and
    # the GET/SET that pointer needs reach no other key (the inbox and NM lists stay write-only lists).
    own_pointer = keys.flink_checkpoint_pointer(attackers.am_app)
    am.set(own_pointer, '{"job_id": "x", "path": "/p"}')
    assert am.get(own_pointer) == b'{"job_id": "x", "path": "/p"}'
    for forbidden in (lambda: am.get(keys.flink_checkpoint_pointer(victim)),
                      lambda: am.set(keys.flink_checkpoint_pointer(victim), "{}"),
                      lambda: am.set(keys.rm_am_inbox(), "x"), lambda: am.get(keys.rm_am_inbox()),
                      lambda: am.set(keys.nm_commands(task["nodeId"]), "x")):
        with pytest.raises(redis.exceptions.NoPermissionError):
            forbidden()
    heartbeat = NodeHeartbeat(node_id="evil:1", http_address="evil:1",
                              capability=Resource(memory=TERABYTE_MB, vcores=1024)).model_dump_json()
    with pytest.raises(redis.exceptions.NoPermissionError):  # only NMs push the node inbox
        am.rpush(keys.rm_inbox(), heartbeat)
    with pytest.raises(redis.exceptions.NoPermissionError):
        am.rpush(keys.rm_inbox(), NodeShutdown(node_id=task["nodeId"]).model_dump_json())
    # The AM inbox it may push: node messages there are refused by the RM.
    am.rpush(keys.rm_am_inbox(), heartbeat)
    for node in node_ids:
        am.rpush(keys.rm_am_inbox(), NodeShutdown(node_id=node).model_dump_json())

    # The NM command lists it may push: starts and stops without the container's token are dropped.
    launch = ContainerLaunchContext(commands=[f"touch {pwned}"])
    victim_container = Container(id=task["containerId"], node_id=task["nodeId"],
                                 node_http_address=task["nodeHttpAddress"], resource=Resource(memory=128, vcores=1))
    for target, token in ((victim_container, ""), (victim_container, "guessed"),
                          (victim_container.model_copy(update={"id": foreign}), "")):
        am.rpush(keys.nm_commands(task["nodeId"]), StartContainer(
            container=target, launch_context=launch, user="root", container_token=token).model_dump_json())
    am.rpush(keys.nm_commands(task["nodeId"]), StopContainer(
        container_id=task["containerId"], exit_status=-105, container_token="guessed").model_dump_json())
    am.rpush(keys.nm_commands(task["nodeId"]), ApplicationFinished(application_id=victim).model_dump_json())

    # AMRM calls in the victim's name. Its credential is real: it registers its own attempt.
    own_attempt = attempt_of(attackers.am_app)
    own = AMRMClient(attackers.am_env["MINIYARN_REDIS_URL"], attempt_id=own_attempt)
    assert own.register("127.0.0.1").queue == "default"
    # Answer asked on its own reply list: not answered at all (the RM would write where the claim is not).
    unregister = FinishApplicationMaster(attempt_id=victim_attempt, reply_to=keys.reply(own_attempt, "x"),
                                         amrm_token=own.amrm_token, final_status=FinalApplicationStatus.FAILED)
    am.rpush(keys.rm_am_inbox(), unregister.model_dump_json())
    # On the victim's reply prefix, with its own token (or a guess): refused, answered where it cannot read.
    for token in (own.amrm_token, "guessed"):
        am.rpush(keys.rm_am_inbox(), unregister.model_copy(update={
            "reply_to": keys.reply(victim_attempt, uuid.uuid4().hex), "amrm_token": token}).model_dump_json())
    with pytest.raises(redis.exceptions.NoPermissionError):
        am.blpop([keys.reply(victim_attempt, "x")], timeout=1)
    with pytest.raises(YarnRemoteError, match=f"Invalid AMRMToken from {own_attempt}"):
        call(am, unregister.model_copy(update={"attempt_id": own_attempt, "amrm_token": "guessed"}),
             unregister.reply_to, timeout_s=10)
    own.close()

    # ---- the victim is untouched ---------------------------------------------------------------
    final = yarn.wait_app_state(victim, "FINISHED", timeout=60)
    assert final["finalStatus"] == "SUCCEEDED", final
    wait_for("the victim's logs", lambda: logs_aggregated(admin, victim))
    outputs = aggregated_stdout(admin, victim)
    assert sorted(outputs.values()) == ["victim done\n", "victim done\n"]
    assert not pwned.exists()
    assert sorted(n["id"] for n in yarn.running_nodes()) == sorted(node_ids)
    assert "evil:1" not in {n["id"] for n in yarn.get("/nodes")["nodes"]["node"]}
    assert yarn.get("/metrics")["clusterMetrics"]["totalMB"] == 2 * 4096

    # ---- every refusal was logged --------------------------------------------------------------
    rm_log = yarn.processes.log("rm")
    assert "Refusing node_heartbeat found on yarn:rm:inbox:am (claimed by evil:1)" in rm_log
    assert "Refusing node_shutdown found on yarn:rm:inbox:am" in rm_log
    assert f"Refusing am_unregister claimed by {victim_attempt}: reply list" in rm_log
    assert rm_log.count(f"Refusing am_unregister: Invalid AMRMToken from {victim_attempt}") == 2
    nm_logs = "".join(yarn.processes.log(n) for n in yarn.nodes)
    assert f"Refusing to start {task['containerId']} requested by unknown (user 'root'): Invalid container token" \
        in nm_logs
    assert f"Refusing to start {foreign} requested by unknown: No grant for container {foreign}" in nm_logs
    assert f"Refusing to stop {task['containerId']} (exit status -105): Invalid container token" in nm_logs
    assert f"Refusing application_finished for {victim}: the ResourceManager says it is RUNNING" in nm_logs
    admin.close()


def test_an_ended_attempts_credential_stops_working(yarn: Cluster, attackers: Attackers) -> None:
    url = attackers.am_env["MINIYARN_REDIS_URL"]
    assert url.startswith(f"redis://{attempt_of(attackers.am_app)}:")
    assert redis.Redis.from_url(url).ping()
    own = AMRMClient(url, attempt_id=attempt_of(attackers.am_app))
    own.register("127.0.0.1")
    assert httpx.put(f"{yarn.rm_url}/ws/v1/cluster/apps/{attackers.am_app}/state", json={"state": "KILLED"},
                     timeout=10).status_code in (200, 202)
    yarn.wait_app_state(attackers.am_app, "KILLED")
    with pytest.raises(redis.AuthenticationError):
        redis.Redis.from_url(url).ping()
    # Its AM, still connected, hears what YARN tells the AM of an attempt it gave up on (AMs then exit).
    with pytest.raises(YarnRemoteError) as err:
        own.allocate()
    assert err.value.exception == "ApplicationAttemptNotFoundException"
    assert err.value.message.startswith(f"Application attempt {attempt_of(attackers.am_app)} doesn't exist")


def test_squatting_a_future_application_id_fails(yarn: Cluster) -> None:
    new = httpx.post(f"{yarn.rm_url}/ws/v1/cluster/apps/new-application").json()["application-id"]
    ts, seq = new.split("_")[1:]
    future = f"application_{ts}_{int(seq) + 1:04d}"
    body = {"application-id": future, "application-name": "squatter", "resource": {"memory": 128, "vCores": 1},
            "am-container-spec": {"commands": {"command": "sleep 30"}}}
    squat = httpx.post(f"{yarn.rm_url}/ws/v1/cluster/apps", json=body)
    assert squat.status_code == 400
    assert squat.json()["RemoteException"]["message"] == (
        f"Application id {future} was not issued by this ResourceManager; ask POST "
        "/ws/v1/cluster/apps/new-application for one")
    real = httpx.post(f"{yarn.rm_url}/ws/v1/cluster/apps/new-application").json()["application-id"]
    assert real == future
    assert httpx.post(f"{yarn.rm_url}/ws/v1/cluster/apps",
                      json={**body, "application-id": real}).status_code == 202
    assert f"Refusing a submission of {future}" in yarn.processes.log("rm")


def test_a_restarted_rm_gives_live_attempts_their_users_back(yarn: Cluster, attackers: Attackers) -> None:
    """Recovery: the tokens derive from the master key in the credentials dir, so a new RM process
    recreates the users of attempts still running, even when Redis lost them (no aclfile, a flush)."""
    url = attackers.am_env["MINIYARN_REDIS_URL"]
    admin = redis.Redis.from_url(yarn.admin_url)
    rm = next(p for name, p in yarn.processes.procs if name == "rm")
    rm.terminate()
    rm.wait(10)
    admin.acl_deluser(attempt_of(attackers.am_app))
    assert not pings(url)
    port = free_port()
    yarn.processes.start("rm-restarted", ["-m", "resourcemanager", "--redis-url", yarn.redis_url,
                                             "--port", str(port), "--host", "127.0.0.1", *FAST_CONF])
    wait_for("the recovered attempt's user", lambda: pings(url), timeout=20)
    own = AMRMClient(url, attempt_id=attempt_of(attackers.am_app))
    assert own.register("127.0.0.1").queue == "default"
    own.close()
    admin.close()
