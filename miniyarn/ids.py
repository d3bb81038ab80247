"""YARN's id formats, so tools that parse `application_…`, `container_…` ids keep working.

>>> ApplicationId(1700000000000, 7)
ApplicationId(cluster_timestamp=1700000000000, id=7)
>>> str(ContainerId.parse("container_1700000000000_0007_01_000002"))
'container_1700000000000_0007_01_000002'
"""

from __future__ import annotations

import re
from dataclasses import dataclass


class InvalidIdError(ValueError):
    """A string that is not a well-formed YARN id."""


_APP = re.compile(r"^application_(\d+)_(\d+)$")
_ATTEMPT = re.compile(r"^appattempt_(\d+)_(\d+)_(\d+)$")
_CONTAINER = re.compile(r"^container_(?:e(\d+)_)?(\d+)_(\d+)_(\d+)_(\d+)$")


@dataclass(frozen=True, order=True)
class ApplicationId:
    cluster_timestamp: int
    id: int

    def __str__(self) -> str:
        return f"application_{self.cluster_timestamp}_{self.id:04d}"

    @classmethod
    def parse(cls, text: str) -> ApplicationId:
        m = _APP.match(text)
        if m is None:
            raise InvalidIdError(f"Invalid ApplicationId: {text}")
        return cls(int(m.group(1)), int(m.group(2)))


@dataclass(frozen=True, order=True)
class ApplicationAttemptId:
    application_id: ApplicationId
    attempt_id: int

    def __str__(self) -> str:
        app = self.application_id
        return f"appattempt_{app.cluster_timestamp}_{app.id:04d}_{self.attempt_id:06d}"

    @classmethod
    def parse(cls, text: str) -> ApplicationAttemptId:
        m = _ATTEMPT.match(text)
        if m is None:
            raise InvalidIdError(f"Invalid AppAttemptId: {text}")
        return cls(ApplicationId(int(m.group(1)), int(m.group(2))), int(m.group(3)))


@dataclass(frozen=True, order=True)
class ContainerId:
    attempt_id: ApplicationAttemptId
    container_id: int
    epoch: int = 0

    def __str__(self) -> str:
        app = self.attempt_id.application_id
        epoch = f"e{self.epoch:02d}_" if self.epoch else ""
        return (f"container_{epoch}{app.cluster_timestamp}_{app.id:04d}_"
                f"{self.attempt_id.attempt_id:02d}_{self.container_id:06d}")

    @property
    def application_id(self) -> ApplicationId:
        return self.attempt_id.application_id

    @classmethod
    def parse(cls, text: str) -> ContainerId:
        m = _CONTAINER.match(text)
        if m is None:
            raise InvalidIdError(f"Invalid ContainerId: {text}")
        epoch = int(m.group(1)) if m.group(1) else 0
        app = ApplicationId(int(m.group(2)), int(m.group(3)))
        return cls(ApplicationAttemptId(app, int(m.group(4))), int(m.group(5)), epoch)


@dataclass(frozen=True, order=True)
class NodeId:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"

    @classmethod
    def parse(cls, text: str) -> NodeId:
        host, sep, port = text.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise InvalidIdError(f"Invalid NodeId [{text}]. Expected host:port")
        return cls(host, int(port))


def app_id_of(any_id: str) -> str:
    """The application id inside an application, attempt or container id string."""
    for parse in (ApplicationId.parse, lambda t: ApplicationAttemptId.parse(t).application_id,
                  lambda t: ContainerId.parse(t).application_id):
        try:
            return str(parse(any_id))
        except InvalidIdError:
            continue
    raise InvalidIdError(f"Invalid id: {any_id}")


def container_hostname(container_id: str) -> str:
    """The host name a YARN container has on a Docker network of its own (not the host's), as YARN's
    Docker runtime names it when no hostname is asked for: `ctr-` and the id's fields with dashes, a
    valid DNS label (`_` is not), which the network's DNS resolves to that container alone.

    >>> container_hostname("container_1764576000000_0001_01_000002")
    'ctr-1764576000000-0001-01-000002'
    """
    return "ctr-" + container_id.removeprefix("container_").replace("_", "-")


def sandbox_hostname(node_host: str) -> str:
    """The host name a node's YARN containers share on a Docker network of its own when they share one
    network namespace (the NM's Docker runtime's default there): `yarn-` and the NM's host as a DNS label.

    >>> sandbox_hostname("878067b81b46")
    'yarn-878067b81b46'
    >>> sandbox_hostname("10.0.0.2")
    'yarn-10-0-0-2'
    """
    label = "".join(ch if ch.isalnum() or ch == "-" else "-" for ch in node_host.lower())
    return ("yarn-" + label)[:63].rstrip("-")
