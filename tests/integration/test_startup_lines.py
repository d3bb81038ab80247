"""Start-up lines name the address the daemon listens on when it is not the one clients are told (a wildcard
bind prints 127.0.0.1 as the address to use, and 0.0.0.0 as where it listens)."""

from __future__ import annotations

import doctest
import re

import httpx
import pytest

from flink_on_yarn.runtime import jobmanager
from miniyarn import sockets
from tests.conftest import Processes, free_port
from tests.integration.conftest import FAST_CONF, start_rm, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


def test_the_notes_are_pure() -> None:
    assert doctest.testmod(sockets).failed == 0
    assert doctest.testmod(jobmanager).failed == 0
    assert jobmanager.listening_note("10.0.0.5:6123", "") == ""  # not bound yet: nothing to add


def test_wildcard_binds_say_where_they_listen(redis_url: str, processes: Processes) -> None:
    port = free_port()
    processes.start("rm", ["-m", "resourcemanager", "--redis-url", redis_url, "--host", "0.0.0.0", "--port",
                           str(port), "--insecure", *FAST_CONF])
    wait_for("the RM", lambda: httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200)
    assert (f"ResourceManager started at http://127.0.0.1:{port}, listening on 0.0.0.0:{port} (cluster timestamp "
            in processes.log("rm")), processes.log("rm")
    processes.start("nm", ["-m", "nodemanager", "--redis-url", redis_url, "--port", "0", "--bind-host", "0.0.0.0",
                           "--insecure", *FAST_CONF])
    line = wait_for("the NM", lambda: re.search(r"NodeManager (\S+) started, (.*)", processes.log("nm")))
    nm_port = line.group(1).rsplit(":", 1)[1]
    assert line.group(2).startswith(f"http://127.0.0.1:{nm_port}, listening on 0.0.0.0:{nm_port}, <memory:"), line


def test_loopback_binds_add_nothing(redis_url: str, processes: Processes) -> None:
    url = start_rm(processes, redis_url)
    line = next(x for x in processes.log("rm").splitlines() if "ResourceManager started at" in x)
    assert line.startswith(f"ResourceManager started at {url} (cluster timestamp "), line
