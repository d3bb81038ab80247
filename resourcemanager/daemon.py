"""Starting the ResourceManager: recover from Redis, run the inbox loop, serve HTTP.

With RM HA (`yarn.resourcemanager.ha.enabled`) the RM starts standby and serves HTTP at once (a standby
redirects to the active); recovery and the inbox loop start when its elector takes the leader lease
(resourcemanager/ha/), and stop when it loses it.
"""

from __future__ import annotations

import logging

import uvicorn

from miniyarn import config as cfg
from miniyarn.config import YarnConfiguration
from miniyarn.redisconn import client_for, connect, role_url
from miniyarn.security.credentials import Credentials
from miniyarn.sockets import bound_note, listening_socket
from resourcemanager.amrm_users import has_aclfile
from resourcemanager.ha.lease import Lease
from resourcemanager.ha.service import HAService
from resourcemanager.inbox import InboxLoop
from resourcemanager.recovery import recover
from resourcemanager.rm import ResourceManager
from resourcemanager.webapp.rest import create_app

log = logging.getLogger("resourcemanager")


class HAConfigError(ValueError):
    """RM HA asked for with a configuration it cannot run with."""


def ha_rm_id(conf: YarnConfiguration, explicit: str | None) -> str:
    """This RM's id: `--rm-id`, else yarn.resourcemanager.ha.id; one of yarn.resourcemanager.ha.rm-ids."""
    rm_id = explicit or conf.get_str("yarn.resourcemanager.ha.id")
    ids = cfg.rm_ids(conf)
    if len(ids) < 2:
        raise HAConfigError("yarn.resourcemanager.ha.rm-ids must name at least two ResourceManagers "
                            "(rm1,rm2) when yarn.resourcemanager.ha.enabled is true")
    if not rm_id:
        raise HAConfigError("set yarn.resourcemanager.ha.id (or --rm-id) to this ResourceManager's id, "
                            f"one of {','.join(ids)}")
    if rm_id not in ids:
        raise HAConfigError(f"yarn.resourcemanager.ha.id {rm_id} is not one of yarn.resourcemanager.ha.rm-ids "
                            f"({','.join(ids)})")
    return rm_id


def serve(conf: YarnConfiguration, redis_url: str, host: str, port: int, advertise: str,
          credentials: Credentials | None = None, rm_id: str = "") -> int:
    sock = listening_socket(host, port)
    actual = sock.getsockname()[1]
    web = f"http://{advertise}:{actual}"
    # Clients are told `web`; the line also names the address the socket listens on when that differs.
    at = web + bound_note(f"{advertise}:{actual}", sock.getsockname())
    redis_url = role_url(redis_url, credentials, "rm")

    def make_rm() -> ResourceManager:
        rm = ResourceManager(conf, connect(redis_url), web_address=web, credentials=credentials)
        rm.acl_save = has_aclfile(rm.redis)
        return rm

    def start_active(rm: ResourceManager) -> InboxLoop:
        recover(rm)
        loop = InboxLoop(rm, connect(redis_url))
        loop.start()
        return loop

    rm = make_rm()
    ha: HAService | None = None
    loop: InboxLoop | None = None
    if rm_id:
        lease_ms = conf.get_int("yarn.resourcemanager.ha.lease-ms")
        # Its own client with a timeout of half a lease (the others wait 30 s): a renewal stuck on a paused
        # or unreachable Redis must fail in time for the elector to give the lease up before it expires.
        timeout_s = lease_ms / 2000
        # client_for, not Redis.from_url: a redis+sentinel:// URL (HA behind a Sentinel-watched Redis) is
        # not one from_url takes, and the RM refused to start.
        lease_client = client_for(redis_url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
        lease = Lease(lease_client, rm_id, web, lease_ms)
        ha = HAService(rm, rm_id, lease, start_active, make_rm)
    else:
        loop = start_active(rm)
    app = create_app(rm, bind_host=host, ha=ha)
    if ha is not None:
        ha.start()
        print(f"ResourceManager {rm_id} started at {at} in standby (HA on: it becomes active when it takes "
              f"the leader lease); web UI {web}/cluster", flush=True)
    else:
        print(f"ResourceManager started at {at} (cluster timestamp {rm.cluster_ts}); web UI {web}/cluster",
              flush=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    finally:
        if ha is not None:
            ha.stop()
        if loop is not None:
            loop.stop()
            loop.join(timeout=2)
    return 0
