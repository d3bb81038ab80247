"""What every client command shares: the RM client, error lines, and Java's number and date
formats as the `yarn` CLI prints them (DecimalFormat `###.##%` and `#.00`, `Date.toString()`)."""

from __future__ import annotations

import sys
import time
from decimal import ROUND_HALF_EVEN, Decimal

from miniyarn import config
from miniyarn.client.yarn_client import YarnClient

# The `yarn` CLI returns -1 on failure, which a shell sees as 255.
FAILED = 255


def yarn_client(rm_address: str | None) -> YarnClient:
    """The RM at --rm-address, else $MINIYARN_RM_ADDRESS, else the default."""
    return YarnClient(config.rm_address(rm_address))


def fail(message: str) -> int:
    """One line on stderr, the `yarn` CLI's failure exit code."""
    print(message, file=sys.stderr)
    return FAILED


def _half_even(value: float, places: int) -> Decimal:
    return Decimal(repr(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)


def java_percent(fraction: float) -> str:
    """DecimalFormat("###.##%"): 0.5 -> `50%`, 0.12345 -> `12.35%`, 1 -> `100%`."""
    text = f"{_half_even(fraction * 100, 2):f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return ("0" if text in ("", "-0") else text) + "%"


def java_two_decimals(value: float) -> str:
    """DecimalFormat("#.00"): 100 -> `100.00`, 0 -> `.00`, 0.5 -> `.50`."""
    text = f"{_half_even(value, 2):f}"
    if text.startswith("0."):
        return text[1:]
    if text.startswith("-0."):
        return "-" + text[2:]
    return text


def java_date(ms: int) -> str:
    """java.util.Date.toString(): `Thu Jan 25 16:08:20 UTC 2018`."""
    return time.strftime("%a %b %d %H:%M:%S %Z %Y", time.localtime(ms / 1000))


def report_block(title: str, fields: list[tuple[str, object]]) -> list[str]:
    """The `yarn ... -status` shape: a title line, then one `\tName : value` line per field."""
    return [title, *(f"\t{name} : {value}" for name, value in fields)]


def am_host_and_port(rpc_address: str) -> tuple[str, str]:
    """A report's `AM Host` and `RPC Port` from `host:port`, YARN's N/A and -1 when there is none."""
    if not rpc_address or rpc_address == "N/A":
        return "N/A", "-1"
    host, _, port = rpc_address.rpartition(":")
    return host or "N/A", port or "-1"


def yarn_time(ms: int) -> str:
    """org.apache.hadoop.yarn.util.Times.format: `Wed Nov 25 21:35:07 +0000 2026`, N/A when unset."""
    return time.strftime("%a %b %d %H:%M:%S %z %Y", time.localtime(ms / 1000)) if ms > 0 else "N/A"


def split_list(text: str | None) -> list[str]:
    """`-appStates RUNNING,ACCEPTED` (and repeated flags joined by the caller)."""
    return [p.strip() for p in (text or "").split(",") if p.strip()]
