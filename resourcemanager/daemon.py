"""Starting the ResourceManager: recover from Redis, run the inbox loop, serve HTTP."""

from __future__ import annotations

import logging

import uvicorn

from miniyarn.config import YarnConfiguration
from miniyarn.redisconn import connect, role_url
from miniyarn.security.credentials import Credentials
from miniyarn.sockets import listening_socket
from resourcemanager.amrm_users import has_aclfile
from resourcemanager.inbox import InboxLoop
from resourcemanager.recovery import recover
from resourcemanager.rm import ResourceManager
from resourcemanager.webapp.rest import create_app

log = logging.getLogger("resourcemanager")


def serve(conf: YarnConfiguration, redis_url: str, host: str, port: int, advertise: str,
          credentials: Credentials | None = None) -> int:
    sock = listening_socket(host, port)
    actual = sock.getsockname()[1]
    web = f"http://{advertise}:{actual}"
    redis_url = role_url(redis_url, credentials, "rm")
    client = connect(redis_url)
    rm = ResourceManager(conf, client, web_address=web, credentials=credentials)
    rm.acl_save = has_aclfile(client)
    recover(rm)
    loop = InboxLoop(rm, connect(redis_url))
    loop.start()
    app = create_app(rm, bind_host=host)
    print(f"ResourceManager started at {web} (cluster timestamp {rm.cluster_ts}); web UI {web}/cluster",
          flush=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    finally:
        loop.stop()
        loop.join(timeout=2)
    return 0
