"""Machines for tests of a cluster spread over several: Linux network namespaces, each with its own address
on one private /24, joined by veth pairs to a bridge.

The bridge lives in a namespace of its own (the "switch"): on a host running Docker, br_netfilter sends
bridged frames through the host's iptables, whose FORWARD policy Docker sets to DROP; a fresh namespace's
iptables are empty, so frames between the hosts pass without touching the machine's firewall. The test
process itself reaches every host through one more veth pair whose end in the root namespace has the
subnet's `.254` (a routed interface there, not a bridged one). Deleting the namespaces and that one
interface removes everything (`close()`, also after a failed start).

    with Hosts.create(["rm", "nm1", "nm2"]) as hosts:
        hosts.address("nm1")                    # '10.231.7.2'
        hosts.command("nm1", ["redis-cli"])     # ['ip', 'netns', 'exec', 'myh1234-nm1', 'redis-cli']
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from types import TracebackType

# Private addresses of our own, away from Docker's default pools (172.17+/16, 192.168+/20): 10.231.X.0/24,
# X picked per test run so two runs on one machine (two engineers' worktrees) do not meet.
BASE = ipaddress.IPv4Network("10.231.0.0/16")
# The root namespace's end of the switch: where the test (the "user's laptop") sits.
OBSERVER_HOST = 254


def unavailable() -> str | None:
    """Why namespaces cannot be made here, or None when they can."""
    if os.geteuid() != 0:
        return "needs root (ip netns add, veth pairs)"
    if shutil.which("ip") is None:
        return "needs iproute2's `ip` (apt-get install iproute2)"
    probe = f"myh{os.getpid()}-probe"
    r = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if r.returncode != 0:
        return f"`ip netns add` failed: {r.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def _ip(*args: str) -> None:
    r = subprocess.run(["ip", *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {r.stderr.strip()}")


def _free_subnet() -> ipaddress.IPv4Network:
    used = subprocess.run(["ip", "-o", "-4", "addr"], capture_output=True, text=True).stdout
    subnets = list(BASE.subnets(new_prefix=24))
    start = os.getpid() % len(subnets)
    for i in range(len(subnets)):
        net = subnets[(start + i) % len(subnets)]
        if f" {net.network_address + OBSERVER_HOST}/" not in used and net.network_address != BASE.network_address:
            return net
    raise RuntimeError(f"no free /24 in {BASE}")


@dataclass
class Hosts:
    """Namespaces named `<prefix>-<host>`, host i at the subnet's .i (1-based, in the order given)."""

    prefix: str
    subnet: ipaddress.IPv4Network
    names: list[str]
    made: list[str] = field(default_factory=list)
    observer_link: str = ""

    @classmethod
    def create(cls, names: list[str]) -> Hosts:
        hosts = cls(f"myh{os.getpid()}", _free_subnet(), list(names))
        try:
            hosts._build()
        except BaseException:
            hosts.close()
            raise
        return hosts

    def netns(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    def address(self, name: str) -> str:
        return str(self.subnet.network_address + 1 + self.names.index(name))

    @property
    def observer_address(self) -> str:
        """This (root) namespace's address on the hosts' network."""
        return str(self.subnet.network_address + OBSERVER_HOST)

    def command(self, name: str, argv: list[str]) -> list[str]:
        """`argv` run on host `name` (`ip netns exec` execs it: same pid, so process groups still work)."""
        return ["ip", "netns", "exec", self.netns(name), *argv]

    def _add_netns(self, ns: str) -> None:
        _ip("netns", "add", ns)
        self.made.append(ns)
        _ip("-n", ns, "link", "set", "lo", "up")

    def _build(self) -> None:
        prefix_len = self.subnet.prefixlen
        switch = self.netns("sw")
        self._add_netns(switch)
        _ip("-n", switch, "link", "add", "br0", "type", "bridge")
        _ip("-n", switch, "link", "set", "br0", "up")
        for i, name in enumerate(self.names):
            ns = self.netns(name)
            self._add_netns(ns)
            port = f"p{i}"
            _ip("-n", switch, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns)
            _ip("-n", switch, "link", "set", port, "master", "br0", "up")
            _ip("-n", ns, "addr", "add", f"{self.address(name)}/{prefix_len}", "dev", "eth0")
            _ip("-n", ns, "link", "set", "eth0", "up")
        self.observer_link = self.prefix  # <= 15 characters: "myh" + a pid
        _ip("link", "add", self.observer_link, "type", "veth", "peer", "name", "observer", "netns", switch)
        _ip("-n", switch, "link", "set", "observer", "master", "br0", "up")
        _ip("addr", "add", f"{self.observer_address}/{prefix_len}", "dev", self.observer_link)
        _ip("link", "set", self.observer_link, "up")

    def close(self) -> None:
        """Remove every namespace and link made (a namespace's deletion takes its veth ends with it)."""
        if self.observer_link:
            subprocess.run(["ip", "link", "del", self.observer_link], capture_output=True)
            self.observer_link = ""
        while self.made:
            subprocess.run(["ip", "netns", "del", self.made.pop()], capture_output=True)

    def leftovers(self) -> list[str]:
        """Namespaces or links of this prefix still present (none after close())."""
        ns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split()
        links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
        return [n for n in ns if n.startswith(self.prefix + "-")] + \
            [line.split(":")[1].strip() for line in links.splitlines() if f" {self.prefix}" in line]

    def __enter__(self) -> Hosts:
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

