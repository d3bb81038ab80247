"""Request normalization and validation, as YARN's SchedulerUtils does it.

>>> normalize(Resource(memory=1500, vcores=0), Resource(memory=1024, vcores=1), Resource(memory=8192, vcores=4))
Resource(memory=2048, vcores=1)
"""

from __future__ import annotations

from miniyarn.records import Resource


class InvalidResourceRequestError(ValueError):
    """YARN's InvalidResourceRequestException."""


def _round_up(value: int, step: int) -> int:
    if step <= 0:
        return value
    return -(-value // step) * step


def normalize(req: Resource, minimum: Resource, maximum: Resource) -> Resource:
    """Round memory up to a multiple of the minimum allocation; at least the minimum of each."""
    memory = max(_round_up(req.memory, minimum.memory), minimum.memory)
    vcores = max(req.vcores, minimum.vcores)
    return Resource(memory=min(memory, maximum.memory), vcores=min(vcores, maximum.vcores))


def validate(req: Resource, maximum: Resource, configured_maximum: Resource | None = None) -> None:
    """Refuse negative asks and asks over the maximum allocation, with YARN's message."""
    conf_max = configured_maximum or maximum
    for kind, value, limit in (("memory-mb", req.memory, maximum.memory),
                               ("vcores", req.vcores, maximum.vcores)):
        if value < 0 or value > limit:
            raise InvalidResourceRequestError(
                f"Invalid resource request, requested resource type=[{kind}] < 0 or greater than maximum "
                f"allowed allocation. Requested resource={req}, maximum allowed allocation={maximum}, "
                f"please note that maximum allowed allocation is calculated by scheduler based on maximum "
                f"resource of registered NodeManagers, which might be less than configured maximum "
                f"allocation={conf_max}"
            )
