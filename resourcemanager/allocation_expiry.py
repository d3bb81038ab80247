"""Allocation expiry (YARN's ContainerAllocationExpirer, `yarn.resourcemanager.rm.container-allocation.
expiry-interval-ms`): a container granted and not launched in time goes back to the scheduler."""

from __future__ import annotations

import logging

from miniyarn.exit_status import ContainerExitStatus
from miniyarn.records import ANY, ResourceRequest
from miniyarn.states.container import ContainerEvent, RMContainerState
from resourcemanager import container_transitions
from resourcemanager.context import RMContext
from resourcemanager.rmstate import RMContainer

log = logging.getLogger("resourcemanager")

UNUSED = "Container expired since it was unused"


def expire_allocations(ctx: RMContext, now: int) -> None:
    """A grant its AM never acquired, or acquired and never launched, within the expiry interval goes back
    to the scheduler. One never acquired also gives its ask back (the AM never learned of it, so it still
    waits for it), as YARN recovers the request."""
    expired = []
    for cid, granted in ctx.unlaunched.items():
        if now - granted <= ctx.allocation_expiry_ms:
            break  # oldest first: the rest are younger
        expired.append(cid)
    for cid in expired:
        ctx.unlaunched.pop(cid, None)
        rc = ctx.containers.get(cid)
        if rc is None:
            continue
        log.info("%s Container Transitioned from %s to EXPIRED (not launched within %d ms)", cid,
                 rc.state.value, ctx.allocation_expiry_ms)
        if rc.state is RMContainerState.ALLOCATED and not rc.is_am:
            recover_request(ctx, rc)
        container_transitions.stop_container(ctx, cid, ContainerExitStatus.ABORTED, UNUSED)
        container_transitions.complete_container(ctx, cid, ContainerExitStatus.ABORTED, UNUSED, ContainerEvent.EXPIRE)


def recover_request(ctx: RMContext, rc: RMContainer) -> None:
    """Give an app back the ask a container it never acquired satisfied (YARN's
    recoverResourceRequestsForContainer), and take the container out of its next allocate."""
    app = ctx.apps.get(rc.app_id)
    sapp = ctx.sched_apps.get(rc.app_id)
    attempt = app.current if app is not None else None
    if app is None or sapp is None or attempt is None or attempt.attempt_id != rc.attempt_id:
        return
    attempt.new_containers = [c for c in attempt.new_containers if c.id != rc.container.id]
    c = rc.container
    key = (c.priority, ANY, c.resource.memory, c.resource.vcores)
    row = sapp.asks.get(key)
    if row is None:
        sapp.set_ask(ResourceRequest(priority=c.priority, resource_name=ANY, capability=c.resource,
                                     num_containers=1, allocation_request_id=c.allocation_request_id))
    else:
        row.num_containers += 1
    attempt.asks = [a.model_copy() for a in sapp.asks.values()]
    ctx.out.apps.add(app.app_id)
    ctx.needs_schedule = True
