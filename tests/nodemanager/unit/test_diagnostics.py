"""YARN's diagnostic texts, byte for byte where tools grep them."""

from __future__ import annotations

import re

from nodemanager.diagnostics import (
    ProcessRow,
    byte_string,
    killed_on_request,
    launch_failed,
    pmem_exceeded,
    stamped,
)

CID = "container_1700000000000_0001_01_000002"


def test_byte_strings_as_hadoop_prints_them() -> None:
    assert byte_string(170 * 1024 * 1024) == "170 MB"
    assert byte_string(int(173.3 * 1024 * 1024)) == "173.3 MB"
    assert byte_string(2 * 1024**3 + 1) == "2.0 GB"
    assert byte_string(512) == "512 B"


def test_pmem_message() -> None:
    row = ProcessRow(4242, 1, 4242, 4242, "python", 10, 2, 1000, 77, "python hog.py")
    text = pmem_exceeded(4242, CID, 300 << 20, 128 << 20, 400 << 20, int((128 << 20) * 2.1), [row])
    first, dump_title, header, line, _ = text.split("\n")
    assert first == (f"Container [pid=4242,containerID={CID}] is running {172 << 20}B beyond the 'PHYSICAL' memory "
                     "limit. Current usage: 300 MB of 128 MB physical memory used; 400 MB of 268.8 MB virtual memory "
                     "used. Killing container.")
    assert dump_title == f"Dump of the process-tree for {CID} :"
    assert header.startswith("\t|- PID PPID PGRPID SESSID CMD_NAME")
    assert line == "\t|- 4242 1 4242 4242 (python) 10 2 1000 77 python hog.py"


def test_exit_texts() -> None:
    assert launch_failed(CID, 3, "").startswith(f"Exception from container-launch.\nContainer id: {CID}\nExit code: 3")
    assert "Last 4096 bytes of stderr :\nboom" in launch_failed(CID, 3, "boom")
    assert killed_on_request(143) == ["Container killed on request. Exit code is 143\n",
                                      "Container exited with a non-zero exit code 143. \n"]
    assert re.fullmatch(r"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\]x", stamped("x"))
