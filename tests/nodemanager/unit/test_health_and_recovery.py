"""Pure parts of NM faults: the disk health verdict and report (YARN's DirectoryCollection), what a
restarted NM does with each container an earlier run left, and the records it finds them by."""

from __future__ import annotations

import doctest
import os
import signal
import subprocess
import time
from pathlib import Path
from types import ModuleType

import pytest

from miniyarn.records import Resource
from nodemanager import health, recovery
from nodemanager.executor import process
from nodemanager.health import DirFigures, DiskHealthConf, assess

CONF = DiskHealthConf(enabled=True, interval_ms=0, min_healthy=0.25, max_used_pct=90.0, min_free_mb=0)
MB = 1 << 20
GOOD = DirFigures(writable=True, total_bytes=1000 * MB, free_bytes=500 * MB)
FULL = DirFigures(writable=True, total_bytes=1000 * MB, free_bytes=10 * MB)
BROKEN = DirFigures(writable=False, total_bytes=0, free_bytes=0, error="Directory is not writable: /l2: denied")


@pytest.mark.parametrize("module", [health, recovery, process])
def test_doctests(module: ModuleType) -> None:
    assert doctest.testmod(module).failed == 0


def test_every_dir_good_is_healthy_with_no_report() -> None:
    l1, g1 = Path("/l1"), Path("/g1")
    assert assess([l1], [g1], CONF, {l1: GOOD, g1: GOOD}) == health.DiskHealth(healthy=True, report="")


def test_a_full_log_dir_makes_a_one_dir_node_unhealthy_in_yarns_words() -> None:
    l1, g1 = Path("/l1"), Path("/g1")
    h = assess([l1], [g1], CONF, {l1: GOOD, g1: FULL})
    assert not h.healthy
    assert h.report == ("1/1 log-dirs usable space is below configured utilization percentage/no more usable space "
                        "[ /g1 : used space above threshold of 90.0% ]")


def test_enough_good_dirs_keep_the_node_healthy_but_the_bad_ones_are_reported() -> None:
    dirs = [Path(f"/l{i}") for i in range(1, 5)]
    figures = {dirs[0]: GOOD, dirs[1]: BROKEN, dirs[2]: FULL, dirs[3]: FULL, Path("/g1"): GOOD}
    h = assess(dirs, [Path("/g1")], CONF, figures)
    assert h.healthy  # 1 of 4 good: exactly min-healthy-disks 0.25
    assert "1/4 local-dirs have errors: [ /l2 : Directory is not writable: /l2: denied ]" in h.report
    assert "2/4 local-dirs usable space is below" in h.report
    strict = DiskHealthConf(enabled=True, interval_ms=0, min_healthy=0.5, max_used_pct=90.0, min_free_mb=0)
    assert not assess(dirs, [Path("/g1")], strict, figures).healthy


def test_min_free_space_per_disk() -> None:
    conf = DiskHealthConf(enabled=True, interval_ms=0, min_healthy=0.25, max_used_pct=100.0, min_free_mb=600)
    h = assess([Path("/l1")], [], conf, {Path("/l1"): GOOD})
    assert not h.healthy and "free space below limit of 600MB" in h.report


def test_check_dir_measures_a_real_dir_and_refuses_a_file(tmp_path: Path) -> None:
    f = health.check_dir(tmp_path / "d")
    assert f.writable and f.total_bytes > 0 and 0 <= f.free_bytes <= f.total_bytes
    (tmp_path / "file").write_text("x")
    bad = health.check_dir(tmp_path / "file")
    assert not bad.writable and bad.error.startswith("Directory is not writable")


def _found(alive: bool, exit_code: int | None, runtime: str = "process") -> recovery.Found:
    rec = recovery.ContainerRecord(container_id="container_1_0001_01_000002", node_id="h:1",
                                   app_id="application_1_0001", user="u", resource=Resource(memory=128, vcores=1),
                                   token_digest="d", runtime=runtime)
    return recovery.Found(record=rec, dir=Path("."), pid=7 if alive else None, exit_code=exit_code, alive=alive)


@pytest.mark.parametrize(("alive", "exit_code", "enabled", "granted", "decision"), [
    (True, None, True, True, recovery.Decision.RECOVER),
    (True, None, True, False, recovery.Decision.KILL),  # the RM completed it: its replacement may run
    (True, None, False, True, recovery.Decision.KILL),  # recovery off: never left running
    (False, 0, True, True, recovery.Decision.EXITED),
    (False, 3, False, True, recovery.Decision.EXITED),
    (False, None, True, True, recovery.Decision.LOST),
    (False, None, False, True, recovery.Decision.ABORTED),
])
def test_what_a_restarted_nm_does_with_each_container(alive: bool, exit_code: int | None, enabled: bool,
                                                      granted: bool, decision: recovery.Decision) -> None:
    assert recovery.decide(_found(alive, exit_code), enabled, granted) is decision


def test_docker_containers_are_judged_alike_from_what_the_engine_reports() -> None:
    # The container manager fills alive/exit_code from the engine (found by its labels), not from pid files.
    assert recovery.decide(_found(True, None, runtime="docker"), True, True) is recovery.Decision.RECOVER
    assert recovery.decide(_found(True, None, runtime="docker"), False, True) is recovery.Decision.KILL
    assert recovery.decide(_found(False, 137, runtime="docker"), True, True) is recovery.Decision.EXITED
    assert recovery.decide(_found(False, None, runtime="docker"), False, True) is recovery.Decision.ABORTED


def test_scan_finds_own_records_checks_pids_and_drops_unreadable_ones(tmp_path: Path) -> None:
    private = tmp_path / recovery.PRIVATE_DIR
    cid = "container_1_0001_01_000002"
    cdir = recovery.container_dir(private, "application_1_0001", cid)
    rec = recovery.ContainerRecord(container_id=cid, node_id="h:1", app_id="application_1_0001", user="u",
                                   resource=Resource(memory=128, vcores=1), token_digest="d", runtime="process")
    recovery.write_record(cdir, rec)
    other = recovery.container_dir(private, "application_1_0001", "container_1_0001_01_000003")
    recovery.write_record(other, rec.model_copy(update={"container_id": "container_1_0001_01_000003",
                                                        "node_id": "h:2"}))
    broken = recovery.container_dir(private, "application_1_0001", "container_1_0001_01_000004")
    broken.mkdir(parents=True)
    (broken / recovery.RECORD_FILE).write_text("{not json")
    # A live process that is this container (its environment says so), then the same pid file once it is gone.
    proc = subprocess.Popen(["sleep", "30"], env={**os.environ, "CONTAINER_ID": cid}, start_new_session=True)
    try:
        recovery.pid_file(cdir, cid).write_text(f"{proc.pid}\n")
        # Until the child has exec'd, /proc shows the parent's environment: wait for the container's own.
        deadline = time.monotonic() + 10
        while not recovery.is_container_process(proc.pid, cid) and time.monotonic() < deadline:
            time.sleep(0.01)
        [found] = recovery.scan(private, "h:1")
        assert (found.record, found.pid, found.exit_code, found.alive) == (rec, proc.pid, None, True)
        assert not broken.exists()
        assert not recovery.is_container_process(proc.pid, "container_1_0001_01_000009")  # someone else's pid
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    recovery.exit_code_file(cdir, cid).write_text("143\n")
    [found] = recovery.scan(private, "h:1")
    assert (found.alive, found.exit_code) == (False, 143)
    recovery.remove(cdir)
    assert [f.record.container_id for f in recovery.scan(private, "h:2")] == ["container_1_0001_01_000003"]
