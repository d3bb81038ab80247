"""The RM's side of the scheduler: queues and allocation limits, the headroom every allocate reply
carries, and a scheduling pass whose allocations become containers (container_transitions)."""

from __future__ import annotations

import time

from miniyarn.records import Resource
from miniyarn.states.node import ACTIVE_STATES
from resourcemanager import container_transitions
from resourcemanager.context import RMContext
from resourcemanager.errors import InvalidQueue, InvalidResourceRequest
from resourcemanager.scheduler.model import SchedulerApp
from resourcemanager.scheduler.normalize import InvalidResourceRequestError, validate
from resourcemanager.scheduler.normalize import normalize as round_up
from resourcemanager.scheduler.queues import QueueConf


def resolve_queue(ctx: RMContext, name: str) -> QueueConf:
    """A leaf queue by short name (`default`) or full path (`root.default`)."""
    name = name or "default"
    for path, q in ctx.leaf_queues.items():
        if name in (path, q.name):
            return q
    raise InvalidQueue(f"Application submitted to a non-leaf or unknown queue: {name}")


def effective_max(ctx: RMContext) -> Resource:
    """The maximum allocation, capped by the largest registered node as YARN's scheduler does."""
    active = [n.capability for n in ctx.nodes.values() if n.state in ACTIVE_STATES]
    if not active:
        return ctx.max_alloc
    return Resource(memory=min(ctx.max_alloc.memory, max(r.memory for r in active)),
                    vcores=min(ctx.max_alloc.vcores, max(r.vcores for r in active)))


def normalize(ctx: RMContext, req: Resource, limit: Resource | None = None) -> Resource:
    """Validated against `limit` (new asks: effective_max(), as YARN's scheduler checks them) or the
    configured maximum (recovery, which must not refuse what it once accepted), then rounded."""
    try:
        validate(req, limit or ctx.max_alloc, ctx.max_alloc)
    except InvalidResourceRequestError as e:
        raise InvalidResourceRequest(str(e)) from None
    return round_up(req, ctx.min_alloc, ctx.max_alloc)


def headroom(ctx: RMContext) -> tuple[Resource, int]:
    """Free resource of schedulable nodes and the active node count, computed once per batch:
    every allocate reply carries them, and summing 1,000 nodes per reply was a hot spot."""
    if ctx.headroom_cache is None:
        live = [n for n in ctx.sched_nodes.values() if n.schedulable]
        free = Resource.model_construct(
            memory=sum(n.capability.memory - n.used.memory for n in live),
            vcores=sum(n.capability.vcores - n.used.vcores for n in live))
        ctx.headroom_cache = (free, sum(1 for n in ctx.nodes.values() if n.state in ACTIVE_STATES))
    return ctx.headroom_cache


def schedule(ctx: RMContext) -> None:
    ctx.needs_schedule = False
    ctx.headroom_cache = None
    pending: list[SchedulerApp] = []
    others: list[SchedulerApp] = []
    for a in ctx.sched_apps.values():
        (pending if a.has_pending() else others).append(a)
    if not pending:
        return
    result = ctx.scheduler.schedule(list(ctx.sched_nodes.values()), pending, others)
    for alloc in result.allocations:
        container_transitions.apply_allocation(ctx, alloc)
    if result.truncated:
        # The rest goes out in the next pass, after the AMs waiting now are answered.
        ctx.needs_schedule = True
    for sapp in pending:
        app = ctx.apps[sapp.app_id]
        if result.truncated and sapp.app_id not in result.reasons:
            continue
        reason = result.reasons.get(sapp.app_id, "")
        if reason != app.pending_reason:
            app.pending_reason = reason
            if sapp.am_pending and reason:
                app.diagnostics = f"[{time.strftime('%a %b %d %H:%M:%S %z %Y')}] {reason}"
            ctx.out.apps.add(app.app_id)
