"""A real NodeManager process, driven through Redis as the RM and AMs drive it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from miniyarn import blobs, keys
from miniyarn.exit_status import ContainerExitStatus
from miniyarn.protocol import ApplicationFinished, StartContainer, StopContainer
from miniyarn.records import ContainerLaunchContext
from tests.conftest import Processes
from tests.nodemanager.integration.conftest import APP, NM, cid, start_nm, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


def test_registers_and_serves_node_info(nm: NM) -> None:
    hb = wait_for("a heartbeat", lambda: [m for m in nm.inbox() if m["type"] == "node_heartbeat"])[0]
    assert hb["node_id"] == nm.node_id and hb["http_address"] == nm.node_id
    assert hb["capability"] == {"memory": 2048, "vcores": 4}
    assert nm.get("/health").json()["status"] == "UP"
    info = nm.get("/ws/v1/node/info").json()["nodeInfo"]
    assert info["id"] == nm.node_id and info["nodeHostName"] == "127.0.0.1" and info["pmemCheckEnabled"] is True
    assert nm.get("/ws/v1/node/containers").json() == {"containers": None}
    assert nm.get("/ws/v1/node/containers/container_1_0001_01_000009").status_code == 404
    port = nm.node_id.rsplit(":", 1)[1]
    check = subprocess.run([sys.executable, "-m", "nodemanager", "--check", "--port", port], timeout=10)
    assert check.returncode == 0


def test_container_runs_with_yarn_env_and_completes(nm: NM) -> None:
    c = cid(1)
    nm.start(c, ["echo hello from $CONTAINER_ID;", "echo host=$NM_HOST port=$NM_PORT http=$NM_HTTP_PORT;",
                 "echo proxy=$APPLICATION_WEB_PROXY_BASE user=$USER logs=$LOG_DIRS pwd=$PWD;",
                 "echo redis=$MINIYARN_REDIS_URL unbuffered=$PYTHONUNBUFFERED extra=$EXTRA;",
                 "echo err-line >&2; sleep 1"], env={"EXTRA": "{{PWD}}/x"})
    nm.wait_state(c, "RUNNING")
    done = nm.wait_state(c, "COMPLETE")
    assert done["exit_status"] == 0, done
    out = nm.get(f"/ws/v1/node/containerlogs/{c}/stdout")
    assert out.status_code == 200 and out.headers["content-type"].startswith("text/plain")
    text = out.text
    host, port = nm.node_id.split(":")
    assert f"hello from {c}" in text
    assert f"host={host} port={port} http={port}" in text
    assert f"proxy=/proxy/{APP} user=alice" in text
    assert f"/usercache/alice/appcache/{APP}/{c}" in text and f"/{APP}/{c}" in text
    assert "unbuffered=1 extra=" in text and f"appcache/{APP}/{c}/x" in text
    assert "redis= unbuffered" in text  # a container gets no Redis credential (only the RM gives an AM one)
    assert nm.get(f"/node/containerlogs/{c}/alice/stderr").text == "err-line\n"
    info = nm.get(f"/ws/v1/node/containers/{c}").json()["container"]
    assert info["state"] == "EXITED_WITH_SUCCESS" and info["exitCode"] == 0 and info["user"] == "alice"
    assert sorted(info["containerLogFiles"]) == ["stderr", "stdout"]
    listing = nm.get(f"/ws/v1/node/containerlogs/{c}").json()[0]
    assert {f["fileName"] for f in listing["containerLogInfo"]} == {"stderr", "stdout"}
    # A completion is repeated in a few heartbeats, not forever.
    wait_for("the completion to stop repeating", lambda: len(nm.statuses(c)) >= 3 and
             not any(s["container_id"] == c for s in nm.inbox()[-1]["container_statuses"]))


def test_own_redirection_to_log_dir_and_nonzero_exit(nm: NM) -> None:
    c = cid(2)
    nm.start(c, ["echo to-own-file 1><LOG_DIR>/own.out; echo boom 1>&2; exit 3"])
    done = nm.wait_state(c, "COMPLETE")
    assert done["exit_status"] == 3
    assert "Exception from container-launch." in done["diagnostics"]
    assert "Exit code: 3" in done["diagnostics"] and "boom" in done["diagnostics"]
    assert nm.get(f"/ws/v1/node/containerlogs/{c}/own.out").text == "to-own-file\n"


def test_stop_container_reports_the_commands_exit_status(nm: NM) -> None:
    c = cid(3)
    nm.start(c, ["sleep 30"])
    nm.wait_state(c, "RUNNING")
    nm.stop(c, -105, "Container killed by the ApplicationMaster.")
    done = nm.wait_state(c, "COMPLETE", timeout=5)
    assert done["exit_status"] == -105
    assert "Container killed by the ApplicationMaster." in done["diagnostics"]
    assert "Container killed on request. Exit code is 143" in done["diagnostics"]


def test_sigkill_of_the_container_process_is_reported(nm: NM) -> None:
    c = cid(4)
    nm.start(c, ["sleep 30"])
    nm.wait_state(c, "RUNNING")
    pid = wait_for("the pid", lambda: nm.get(f"/ws/v1/node/containers/{c}").json()["container"]["pid"])
    os.kill(pid, signal.SIGKILL)
    done = nm.wait_state(c, "COMPLETE", timeout=5)
    assert done["exit_status"] == 137 and "Exit code: 137" in done["diagnostics"]


def test_container_over_its_memory_is_killed_with_104(nm: NM) -> None:
    c = cid(5)
    hog = f"{sys.executable} -c 'import time; b = bytes(300 << 20) + b\"x\"; time.sleep(30)'"
    nm.start(c, [hog], memory=128)
    done = nm.wait_state(c, "COMPLETE", timeout=15)
    assert done["exit_status"] == -104, done
    d = done["diagnostics"]
    assert f"containerID={c}] is running " in d and "beyond the 'PHYSICAL' memory limit." in d
    assert "of 128 MB physical memory used" in d and "Killing container." in d
    assert f"Dump of the process-tree for {c} :" in d and "RSSMEM_USAGE(PAGES)" in d
    assert "Container killed on request." in d


def test_unknown_or_foreign_grant_is_refused(nm: NM) -> None:
    nm.start(cid(6), ["echo never"], grant=False)
    done = nm.wait_state(cid(6), "COMPLETE")
    assert done["exit_status"] == -1000 and "Unauthorized request to start container." in done["diagnostics"]
    assert "No grant for container" in done["diagnostics"]
    nm.grant(cid(7), node_id="otherhost:1234")
    nm.start(cid(7), ["echo never"], grant=False)
    done = nm.wait_state(cid(7), "COMPLETE")
    assert done["exit_status"] == -1000 and "granted on node otherhost:1234" in done["diagnostics"]


def test_forged_starts_and_stops_neither_run_nor_block_nor_kill_the_real_container(nm: NM) -> None:
    c = cid(12)
    # Before the RM grants it (ids are predictable): refused and reported, but it must not block the real one.
    nm.start(c, ["echo squatted"], grant=False)
    assert nm.wait_state(c, "COMPLETE")["exit_status"] == -1000
    c_grant = nm.grant(c)
    # Granted, with a wrong token: dropped, not even reported (the real container must not look failed).
    nm.send(StartContainer(container=c_grant, launch_context=ContainerLaunchContext(commands=["echo forged"]),
                           user="mallory", container_token="guessed"))
    nm.start(c, ["echo real; sleep 2"])
    nm.wait_state(c, "RUNNING")
    nm.send(StopContainer(container_id=c, exit_status=-105, container_token="guessed"))
    nm.send(StopContainer(container_id=c, exit_status=-105))
    done = wait_for(f"{c} to end by itself", lambda: next((s for s in nm.statuses(c) if s["state"] == "COMPLETE"
                                                           and s["exit_status"] == 0), None), timeout=15)
    assert done["exit_status"] == 0
    assert nm.get(f"/ws/v1/node/containerlogs/{c}/stdout").text == "real\n"
    # The squatter's refusal, then the real run: no forged stop (-105) ever reported.
    assert {s["exit_status"] for s in nm.statuses(c) if s["state"] == "COMPLETE"} == {-1000, 0}
    log = nm.processes.log(nm.name)
    assert f"Refusing to start {c} requested by unknown (user 'mallory'): Invalid container token for {c}" in log
    assert log.count(f"Refusing to stop {c} (exit status -105): Invalid container token for {c}") == 2


def test_application_finished_is_believed_only_once_the_rm_says_so(nm: NM) -> None:
    c = cid(13)
    nm.start(c, ["sleep 30"])
    nm.wait_state(c, "RUNNING")
    nm.redis.set(keys.app(APP), json.dumps({"app_id": APP, "state": "RUNNING"}))
    nm.send(ApplicationFinished(application_id=APP))
    nm.send(ApplicationFinished(application_id="application_1700000000000_0099"))
    wait_for("the refusals", lambda: nm.processes.log(nm.name).count("Refusing application_finished") == 2)
    log = nm.processes.log(nm.name)
    assert f"Refusing application_finished for {APP}: the ResourceManager says it is RUNNING, not finished" in log
    assert "application_1700000000000_0099: the ResourceManager has no record of it" in log
    assert nm.get(f"/ws/v1/node/containers/{c}").json()["container"]["state"] == "RUNNING"
    nm.app_finished()  # the RM's record says FINISHED first: believed
    assert nm.wait_state(c, "COMPLETE")["exit_status"] == int(ContainerExitStatus.KILLED_AFTER_APP_COMPLETION)


def test_local_resources_from_redis_and_a_missing_one(nm: NM) -> None:
    staged = blobs.put(nm.redis, b"print('staged script ran')\n")
    c = cid(8)
    nm.start(c, ["$PYTHON app.py"], resources={"app.py": staged})
    done = nm.wait_state(c, "COMPLETE")
    assert done["exit_status"] == 0, done
    assert nm.get(f"/ws/v1/node/containerlogs/{c}/stdout").text == "staged script ran\n"
    gone = blobs.put(nm.redis, b"gone")
    nm.redis.delete(keys.blob(gone.resource.removeprefix("blob://")))
    nm.start(cid(9), ["cat gone.txt"], resources={"gone.txt": gone})
    done = nm.wait_state(cid(9), "COMPLETE")
    assert done["exit_status"] == -1000 and "is not staged" in done["diagnostics"]


def test_application_finished_aggregates_logs_and_cleans_up(nm: NM) -> None:
    c, running = cid(10), cid(11)
    nm.start(c, ["echo aggregated-output"])
    nm.start(running, ["echo still-here; sleep 30"])
    nm.wait_state(c, "COMPLETE")
    nm.wait_state(running, "RUNNING")
    nm.redis.sadd(keys.app_log_nodes(APP), nm.node_id, "other:1")
    nm.app_finished()
    wait_for("logs aggregated", lambda: not nm.redis.sismember(keys.app_log_nodes(APP), nm.node_id))
    logs = nm.redis.hgetall(keys.app_logs(APP))
    assert logs[f"{c} {nm.node_id} stdout".encode()] == b"aggregated-output\n"
    assert logs[f"{running} {nm.node_id} stdout".encode()] == b"still-here\n"
    assert 0 < nm.redis.ttl(keys.app_logs(APP)) <= keys.LOG_RETAIN_S
    assert nm.redis.smembers(keys.app_log_nodes(APP)) == {b"other:1"}
    done = nm.wait_state(running, "COMPLETE")
    assert done["exit_status"] == -107
    assert nm.get(f"/ws/v1/node/containerlogs/{c}/stdout").status_code == 404  # local copy deleted


def test_sigterm_aborts_containers_and_says_goodbye(redis_url: str, processes: Processes, tmp_path: Path) -> None:
    local = tmp_path / "local"
    node = start_nm(processes, redis_url, extra=["--local-dirs", str(local), "--log-dirs", str(tmp_path / "logs")])
    c = cid(12)
    node.start(c, ["sleep 30"])
    node.wait_state(c, "RUNNING")
    check = subprocess.run([sys.executable, "-m", "nodemanager", "--check", "--local-dirs", str(local)], timeout=10)
    assert check.returncode == 0
    proc = next(p for n, p in processes.procs if n == "nm")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0
    done = node.wait_state(c, "COMPLETE", timeout=1)
    assert done["exit_status"] == -100
    assert node.inbox()[-1] == {"type": "node_shutdown", "node_id": node.node_id}
