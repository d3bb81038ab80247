"""Flink-on-YARN fixtures: a real RM and two NMs (tests.integration's), and a `miniflink` runner aimed at them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from miniyarn import keys
from tests.conftest import Processes, logs_aggregated
from tests.integration.conftest import Cluster, two_node_cluster, wait_for

ROOT = Path(__file__).resolve().parents[2]
# Small containers (YARN's minimum here is 128 MB) and quick Flink liveness, so tests take seconds.
SMALL = ["-D", "jobmanager.memory.process.size=256m", "-D", "taskmanager.memory.process.size=256m",
         "-D", "heartbeat.interval=500", "-D", "heartbeat.timeout=4000"]
COUNT = re.compile(r"\((.+),(\d+)\)\s*$")


@dataclass
class FlinkOnYarn:
    yarn: Cluster
    tmp: Path

    def env(self) -> dict[str, str]:
        return {**os.environ, "MINIYARN_RM_ADDRESS": self.yarn.rm_url, "MINIYARN_REDIS_URL": self.yarn.admin_url,
                "TMPDIR": str(self.tmp)}

    def miniflink(self, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "flink_on_yarn.cli.main", *args], capture_output=True,
                              text=True, timeout=timeout, cwd=ROOT, env=self.env())

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-m", "flink_on_yarn.cli.main", *args], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, cwd=ROOT, env=self.env(),
                                start_new_session=True)

    def flink_apps(self) -> list[dict[str, Any]]:
        apps = self.yarn.get("/apps")["apps"]
        return [a for a in (apps["app"] if apps else []) if a["applicationType"] == "Apache Flink"]

    def containers_of(self, app_id: str) -> int:
        return int(self.yarn.app(app_id)["runningContainers"])

    def aggregated_logs(self, app_id: str) -> dict[str, str]:
        """`<container> <node> <file>` → contents, once the RM has let go of the application and every NM
        that ran a container of it has uploaded its part (the set of nodes owing logs is empty)."""
        r = redis.Redis.from_url(self.yarn.admin_url)
        try:
            wait_for(f"{app_id} finished and its logs aggregated", lambda: self.yarn.app(app_id)["finishedTime"] > 0
                     and logs_aggregated(r, app_id), timeout=30)
            raw = r.hgetall(keys.app_logs(app_id))
            return {k.decode(): v.decode(errors="replace") for k, v in raw.items()}
        finally:
            r.close()


def final_counts(texts: list[str]) -> Counter[str]:
    """The last (highest) running count per word printed by the job's print() sinks."""
    out: Counter[str] = Counter()
    for text in texts:
        for line in text.splitlines():
            m = COUNT.search(line)
            if m:
                out[m.group(1)] = max(out[m.group(1)], int(m.group(2)))
    return out


@pytest.fixture
def flink_yarn(redis_url: str, processes: Processes, tmp_path: Path) -> Iterator[FlinkOnYarn]:
    yield FlinkOnYarn(two_node_cluster(redis_url, processes), tmp_path)
