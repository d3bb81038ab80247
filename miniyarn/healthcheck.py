"""The daemons' `--check` (`python -m resourcemanager --check`, `python -m nodemanager --check`): GET /health
with the standard library only.

Docker runs these healthchecks every second or two in every RM and NM container for the cluster's whole
life, and `compose up` waits on them (an NM starts once the RM is healthy). Through the daemons' CLIs a
check imported httpx, pydantic and the configuration (~0.3 s of CPU in the image each time: four
containers' checks took a third of a core); answered here, before any of that is imported, one costs
what a bare Python start does. A check that needs the configuration (no --port: the address comes from
yarn-site.xml) still goes through the CLI, which calls `probe` too.

>>> quick_rm_check(["--check"]) is None   # no --port: the CLI reads it from the configuration
True
>>> loopback_if_wildcard("0.0.0.0"), loopback_if_wildcard("10.0.0.7")
('127.0.0.1', '10.0.0.7')
"""

from __future__ import annotations

import argparse
import http.client
from collections.abc import Sequence
from pathlib import Path

# In the NM's first local dir: its HTTP address, for `--check` of an NM started with --port 0.
NM_ADDRESS_FILE = "nodemanager.address"
TIMEOUT_S = 3.0


def probe(address: str, timeout: float = TIMEOUT_S) -> int:
    """0 if http://<address>/health answers 200 (address `host:port`), else 1."""
    host, _, port = address.rpartition(":")
    try:
        conn = http.client.HTTPConnection(host.strip("[]"), int(port), timeout=timeout)
        try:
            conn.request("GET", "/health")
            return 0 if conn.getresponse().status == 200 else 1
        finally:
            conn.close()
    except (OSError, ValueError, http.client.HTTPException):
        return 1


def loopback_if_wildcard(host: str) -> str:
    """Where a daemon bound to `host` answers this machine: a wildcard bind answers on loopback, an
    address of one interface (another host's NIC) only there."""
    return "127.0.0.1" if host in ("", "0.0.0.0", "::") else host


def _known(argv: Sequence[str], *flags: tuple[str, object]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    for flag, default in flags:
        parser.add_argument(flag, default=default)
    return parser.parse_known_args(list(argv))[0]


def quick_rm_check(argv: Sequence[str]) -> int | None:
    """`python -m resourcemanager --check [--host H] --port P` answered from its arguments alone, or None
    when it needs the CLI (no --port)."""
    args = _known(argv, ("--host", "127.0.0.1"), ("--port", None))
    if args.port is None:
        return None
    return probe(f"{loopback_if_wildcard(str(args.host))}:{args.port}")


def nm_address(port: int, local_dirs: str, bind_host: str = "127.0.0.1") -> str:
    """The address an NM answers at: --bind-host:--port, or (--port 0) what it wrote in its first local
    dir; "" when neither says."""
    if port:
        return f"{loopback_if_wildcard(bind_host)}:{port}"
    first = next((p.strip() for p in local_dirs.split(",") if p.strip()), "")
    if not first:
        return ""
    try:
        return (Path(first) / NM_ADDRESS_FILE).read_text().strip()
    except OSError:
        return ""


def quick_nm_check(argv: Sequence[str]) -> int | None:
    """`python -m nodemanager --check [--bind-host H] (--port P | --local-dirs D)` answered from its
    arguments alone, or None when it needs the CLI (the local dirs from the configuration)."""
    args = _known(argv, ("--port", None), ("--local-dirs", None), ("--bind-host", "127.0.0.1"))
    try:
        port = int(args.port) if args.port is not None else 0
    except ValueError:
        return None  # the CLI says what is wrong with it
    if not port and not args.local_dirs:
        return None
    address = nm_address(port, str(args.local_dirs or ""), str(args.bind_host))
    return probe(address) if address else 1
