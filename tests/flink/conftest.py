"""Flink fixtures: a real JobManager and TaskManagers as child processes (through the `processes` fixture),
sharing a cluster secret file of the test's own (`security.cluster.secret.file`), which `FlinkCluster`'s
REST calls and its `miniflink` runs (through a FLINK_CONF_DIR naming that file) present."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import pytest

from flink_on_yarn.security import secret as cluster_secret
from tests.conftest import Processes

ROOT = Path(__file__).resolve().parents[2]
# Short liveness settings so a killed TaskManager is noticed (and the tests end) in seconds.
FAST = {"heartbeat.interval": "500", "heartbeat.timeout": "3000"}


@dataclass
class FlinkCluster:
    processes: Processes
    rest: str
    rpc_port: int
    config: dict[str, str]
    tms: dict[str, subprocess.Popen[bytes]]
    secret_file: Path

    @property
    def auth(self) -> dict[str, str]:
        return {"authorization": f"Bearer {cluster_secret.read_file(self.secret_file).decode()}"}

    def get(self, path: str) -> Any:
        r = httpx.get(self.rest + path, timeout=10, headers=self.auth)
        r.raise_for_status()
        return r.json()

    def text(self, path: str) -> str:
        r = httpx.get(self.rest + path, timeout=10, headers=self.auth)
        r.raise_for_status()
        return r.text

    def add_taskmanager(self, tm_id: str, slots: int = 2, **extra: str) -> subprocess.Popen[bytes]:
        conf = {"jobmanager.rpc.address": "127.0.0.1", "jobmanager.rpc.port": str(self.rpc_port),
                "taskmanager.numberOfTaskSlots": str(slots), "taskmanager.resource-id": tm_id,
                cluster_secret.FILE_KEY: str(self.secret_file), **FAST, **extra}
        args = ["-m", "flink_on_yarn.runtime.taskmanager"]
        for k, v in conf.items():
            args += ["-D", f"{k}={v}"]
        proc = self.processes.start(tm_id, args)
        self.tms[tm_id] = proc
        return proc

    def wait_taskmanagers(self, n: int, timeout: float = 20) -> None:
        wait_for(lambda: self.get("/overview")["taskmanagers"] >= n, timeout, f"{n} TaskManagers")

    def wait_state(self, job_id: str, states: tuple[str, ...], timeout: float = 60) -> dict[str, Any]:
        wait_for(lambda: self.get(f"/jobs/{job_id}")["state"] in states, timeout, f"job in {states}")
        return dict(self.get(f"/jobs/{job_id}"))

    def miniflink(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        conf = self.secret_file.parent / "client-conf"
        conf.mkdir(exist_ok=True)
        (conf / "flink-conf.yaml").write_text(f"{cluster_secret.FILE_KEY}: {self.secret_file}\n")
        return subprocess.run([sys.executable, "-m", "flink_on_yarn.cli.main", *args], capture_output=True,
                              text=True, timeout=timeout, cwd=ROOT, env=dict(os.environ, FLINK_CONF_DIR=str(conf)))

    def run_detached(self, program: Path, *args: str, parallelism: int = 2) -> str:
        """`flink run -m <rest> -p N -d -py program args...`, which must succeed: the submitted job's ID."""
        res = self.miniflink("run", "-m", self.rest, "-p", str(parallelism), "-d", "-py", str(program), *args)
        assert res.returncode == 0, res.stderr
        return res.stdout.split("JobID ")[1].split()[0]


def wait_for(pred: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if pred():
                return
        except (httpx.HTTPError, KeyError) as e:
            last = e
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last error: {last})")


def start_jobmanager(processes: Processes, tmp: Path, name: str = "jobmanager", **conf: str) -> tuple[str, int]:
    addr_file = tmp / "jm-address.json"
    full = {"rest.port": "0", "jobmanager.rpc.port": "0", "jobmanager.rpc.address": "127.0.0.1",
            cluster_secret.FILE_KEY: str(tmp / "cluster.secret"), **FAST, **conf}
    args = ["-m", "flink_on_yarn.runtime.jobmanager", "--address-file", str(addr_file)]
    for k, v in full.items():
        args += ["-D", f"{k}={v}"]
    processes.start(name, args)
    wait_for(addr_file.exists, 20, "the JobManager's address file")
    data = json.loads(addr_file.read_text())
    return data["rest"], int(data["rpc"].rsplit(":", 1)[1])


@pytest.fixture
def flink(processes: Processes, tmp_path: Path) -> Callable[..., FlinkCluster]:
    """Factory: `flink(tms=2, slots=2, **jm_conf)` starts a JobManager and TaskManagers, waits for them."""

    def make(tms: int = 1, slots: int = 2, **jm_conf: str) -> FlinkCluster:
        cluster_secret.ensure_file(tmp_path / "cluster.secret")
        rest, rpc_port = start_jobmanager(processes, tmp_path, **jm_conf)
        cluster = FlinkCluster(processes, rest, rpc_port, jm_conf, {}, tmp_path / "cluster.secret")
        for i in range(tms):
            cluster.add_taskmanager(f"tm-{i}", slots)
        cluster.wait_taskmanagers(tms)
        return cluster

    return make


@pytest.fixture
def words_file(tmp_path: Path) -> Iterator[Path]:
    import random

    rng = random.Random(7)
    vocab = [f"w{i}" for i in range(300)] + ["hello", "flink"]
    path = tmp_path / "words.txt"
    path.write_text("\n".join(" ".join(rng.choice(vocab) for _ in range(10)) for _ in range(5000)) + "\n")
    yield path


# A program text's keyed running count (needs KeyedProcessFunction, ValueStateDescriptor and Types imported):
# the checkpointed jobs' state, whose final values show whether a restore continued or started over.
KEYED_COUNT_FUNCTION = '''
class Count(KeyedProcessFunction):
    def open(self, runtime_context):
        self.count = runtime_context.get_state(ValueStateDescriptor("count", Types.LONG()))

    def process_element(self, key, ctx):
        n = (self.count.value() or 0) + 1
        self.count.update(n)
        yield key, n
'''

# A sink that appends each (key, count) as a line to a file: what the savepoint and rescale tests read back.
APPEND_SINK = '''
class AppendSink(SinkFunction):
    def __init__(self, out):
        self.out = out

    def invoke(self, value, context):
        with open(self.out, "a") as f:
            f.write(f"{value[0]} {value[1]}\\n")
'''


class KeyedCountSetUp(NamedTuple):
    cluster: FlinkCluster
    ckpt: Path
    lines: Path
    program: Path


def keyed_count_set_up(flink: Callable[..., FlinkCluster], tmp_path: Path, program_text: str,
                       keys: int, lines: int) -> KeyedCountSetUp:
    """What the TaskManager-kill checkpoint tests share: 2 TaskManagers of 2 slots checkpointing into
    `tmp_path/checkpoints`, an input of `lines` lines `k<i % keys> x…` and the program written out."""
    ckpt = tmp_path / "checkpoints"
    cluster = flink(tms=2, slots=2, **{"state.checkpoints.dir": str(ckpt)})
    path = tmp_path / "lines.txt"
    pad = "x" * 180  # long lines: few records per 64 KB batch, so barriers come often
    path.write_text("".join(f"k{i % keys} {pad}\n" for i in range(lines)))
    program = tmp_path / "program.py"
    program.write_text(program_text)
    return KeyedCountSetUp(cluster, ckpt, path, program)
