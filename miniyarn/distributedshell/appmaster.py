"""The DistributedShell ApplicationMaster: ask for N containers, run the shell command in each,
wait, and finish SUCCEEDED only if every one exited 0.

Containers that end ABORTED (-100: their node was lost, or they were released) are asked for
again, as YARN's DistributedShell does; every other non-zero exit counts as a failure.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
import time

from miniyarn.client.amrm_client import AMRMClient, ContainerRequest
from miniyarn.client.nm_client import NMClient
from miniyarn.exit_status import ContainerExitStatus
from miniyarn.records import ContainerLaunchContext, LocalResource, Resource
from miniyarn.states.application import FinalApplicationStatus

log = logging.getLogger("ApplicationMaster")

SCRIPT = "shellCommands"
# Poll fast while containers are still to come, slower once all are running: the allocate call is
# also the AM's heartbeat, and this is far inside the AM liveness expiry.
FAST_S = 0.1
SLOW_S = 0.5


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="distributedshell-appmaster")
    p.add_argument("--num-containers", type=int, default=1)
    p.add_argument("--container-memory", type=int, default=256)
    p.add_argument("--container-vcores", type=int, default=1)
    p.add_argument("--priority", type=int, default=0)
    p.add_argument("--script-resource", required=True, help="URL of the staged shellCommands file")
    p.add_argument("--shell-env", action="append", default=[], metavar="K=V")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stdout,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parse(argv)
    amrm = AMRMClient()
    nm = NMClient(amrm.redis, user=os.environ.get("USER", ""))
    reg = amrm.register(socket.gethostname(), -1, "")
    log.info("Max mem capability of resources in this cluster %d", reg.maximum_capability.memory)
    log.info("Max vcores capability of resources in this cluster %d", reg.maximum_capability.vcores)
    total = args.num_containers
    capability = Resource(memory=args.container_memory, vcores=args.container_vcores)
    for _ in range(total):
        amrm.add_container_request(ContainerRequest(capability=capability, priority=args.priority))
        log.info("Requested container ask: Capability%s Priority: %d", capability, args.priority)
    env = dict(kv.split("=", 1) for kv in args.shell_env if "=" in kv)
    script = LocalResource(resource=args.script_resource)
    launch = ContainerLaunchContext(
        commands=[f"/bin/bash {SCRIPT} 1><LOG_DIR>/stdout 2><LOG_DIR>/stderr"],
        environment=env, local_resources={SCRIPT: script})
    launched: set[str] = set()
    succeeded = failed = 0
    last_reason = ""
    while succeeded + failed < total:
        resp = amrm.allocate(progress=(succeeded + failed) / total)
        for c in resp.allocated_containers:
            if len(launched) - (succeeded + failed) >= total - (succeeded + failed):
                amrm.release_assigned_container(c.id)
                continue
            log.info("Launching shell command on a new container., containerId=%s, containerNode=%s, "
                     "containerResourceMemory=%d, containerResourceVirtualCores=%d",
                     c.id, c.node_id, c.resource.memory, c.resource.vcores)
            nm.start_container(c, launch)
            launched.add(c.id)
        for s in resp.completed_container_statuses:
            log.info("Got container status for containerID=%s, state=%s, exitStatus=%d, diagnostics=%s",
                     s.container_id, s.state.value, s.exit_status, s.diagnostics)
            if s.container_id not in launched:
                continue
            if s.exit_status == 0:
                succeeded += 1
            elif s.exit_status == ContainerExitStatus.ABORTED:
                # Lost with its node, not a failure of the command: run it again elsewhere.
                launched.discard(s.container_id)
                amrm.add_container_request(ContainerRequest(capability=capability, priority=args.priority))
            else:
                failed += 1
        if resp.pending_reason and resp.pending_reason != last_reason:
            log.info("Containers pending: %s", resp.pending_reason)
        last_reason = resp.pending_reason
        time.sleep(FAST_S if amrm.pending() else SLOW_S)
    ok = failed == 0
    diagnostics = (f"Diagnostics., total={total}, completed={succeeded + failed}, allocated={len(launched)}, "
                   f"failed={failed}")
    log.info("Application completed. Signalling finish to RM: %s", diagnostics)
    amrm.unregister(FinalApplicationStatus.SUCCEEDED if ok else FinalApplicationStatus.FAILED,
                    "" if ok else diagnostics)
    log.info("Application Master %s", "completed successfully. exiting" if ok else "failed. exiting")
    return 0 if ok else 2


if __name__ == "__main__":
    sys.exit(main())
