"""The Docker executor (YARN's DockerLinuxContainerRuntime): each YARN container is a sibling Docker
container on the host network, or on the Docker network `yarn.nodemanager.runtime.linux.docker.
default-container-network` names (compose's bridge network), in the network namespace of its node's
sandbox container there (one address per node, as on a host: a start sets up no network), or with an
address and hostname of its own when the node does not share one (ds.SHARED_NETNS_KEY);
with the memory and CPU of its grant, its work and log dirs mounted at the same paths as on the host,
running as a non-root user, labelled with its application, container and node ids.

The engine enforces memory (so the NM's monitor leaves these containers alone); an OOM kill is
reported as YARN's -104. When the NM starts it removes containers an earlier run of the same node
left behind. A missing image, a daemon that does not answer or a mount outside the allowed dirs fails
that one container with a diagnostic; the NM keeps running.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import docker
import docker.errors
import requests.exceptions
from docker.models.containers import Container

from miniyarn.exit_status import ContainerExitStatus
from miniyarn.ids import container_hostname, sandbox_hostname
from nodemanager.executor import docker_spec as ds
from nodemanager.executor.base import ContainerExecutor, ContainerProcess, Inherited, LaunchSpec, Usage

if TYPE_CHECKING:
    from nodemanager.context import NMContext

log = logging.getLogger("nodemanager.DockerContainerExecutor")

# API calls other than `wait`: starting a container takes well under a second; 60 s covers a
# loaded engine without hanging a launcher thread forever.
API_TIMEOUT_S = 60
# Launcher threads each hold a connection while they wait for their container to exit.
POOL_SIZE = 64
# How long `wait` keeps retrying when the engine stops answering before giving the container up.
LOST_ENGINE_S = 30.0
# Default run-as user when the NM is root: the image's `yarn` user.
DEFAULT_USER = "1000:1000"
ABORTED = int(ContainerExitStatus.ABORTED)

_ENGINE_ERRORS = (docker.errors.DockerException, requests.exceptions.RequestException)


def _engine_down(e: BaseException) -> str:
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    return (f"The Docker engine at {host} does not answer ({e}); start dockerd, or run this NodeManager "
            "with --executor process")


class DockerContainer(ContainerProcess):
    def __init__(self, container: Container, spec: ds.RunSpec, recoverable: bool = False) -> None:
        self.container = container
        self.spec = spec
        # With recovery on the engine keeps it running past the NM; the next run finds it by its labels.
        self.recoverable = recoverable
        self._pid = 0
        self._reason: tuple[int, str] | None = None
        self._done = threading.Event()
        try:
            container.reload()
            self._pid = int(container.attrs.get("State", {}).get("Pid", 0) or 0)
        except _ENGINE_ERRORS:
            pass

    @property
    def pid(self) -> int:
        return self._pid

    def wait(self) -> int:
        lost_since: float | None = None
        while True:
            try:
                result = self.container.wait(timeout=None)  # no HTTP timeout: containers run for days
                self.container.reload()
                break
            except docker.errors.NotFound:
                self._reason = (ABORTED, f"Docker container {self.spec.name} vanished while running "
                                      "(removed outside the NodeManager).\n")
                self._done.set()
                return 137
            except _ENGINE_ERRORS as e:
                lost_since = lost_since or time.monotonic()
                if time.monotonic() - lost_since > LOST_ENGINE_S:
                    self._reason = (ABORTED, f"Lost the Docker engine while container {self.spec.name} ran: "
                                          f"{_engine_down(e)}.\n")
                    self._done.set()
                    return 137
                time.sleep(1.0)
        code = int(result.get("StatusCode", 1))
        self._reason = ds.exit_reason(self.container.attrs.get("State", {}), self.spec.name,
                                      self.spec.mem_bytes, self._pid)
        self._done.set()
        return code

    def signal(self, sig: int) -> None:
        try:
            self.container.kill(signal=signal.Signals(sig).name)
        except _ENGINE_ERRORS:
            pass  # already exited (409) or gone (404): nothing left to signal

    def alive(self) -> bool:
        if self._done.is_set():
            return False
        try:
            self.container.reload()
        except _ENGINE_ERRORS:
            return False
        return bool(self.container.attrs.get("State", {}).get("Running"))

    def usage(self) -> Usage | None:
        return None  # the engine enforces the limit; the NM's monitor need not measure

    def cleanup(self) -> None:
        try:
            self.container.remove(force=True)
        except _ENGINE_ERRORS as e:
            log.warning("Could not remove Docker container %s: %s", self.spec.name, e)

    def exit_reason(self) -> tuple[int, str] | None:
        return self._reason


class DockerExecutor(ContainerExecutor):
    name = "docker"
    monitored = False

    def __init__(self) -> None:
        self.ctx: NMContext | None = None
        self._client: docker.DockerClient | None = None
        self._host_cpus = os.cpu_count() or 1
        self._lock = threading.Lock()
        self._sandbox_lock = threading.Lock()
        self._sandbox: Container | None = None
        self._released = False  # the NM stopped: no new sandbox (the warm-up thread may come late)

    # ---- the engine ----------------------------------------------------------------------

    def client(self) -> docker.DockerClient:
        """The engine's client, connecting (again) if needed; raises DockerLaunchError if it does not answer."""
        with self._lock:
            if self._client is not None:
                return self._client
            try:
                client = docker.from_env(timeout=API_TIMEOUT_S, max_pool_size=POOL_SIZE)
                self._host_cpus = int(client.info().get("NCPU", self._host_cpus))
            except _ENGINE_ERRORS as e:
                raise ds.DockerLaunchError(_engine_down(e)) from None
            self._client = client
            return client

    def _forget_client(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
            self._client = None

    def prepare(self, ctx: NMContext) -> None:
        self.ctx = ctx
        try:
            if not ctx.recovery_enabled:
                # Without recovery (with it, the NM takes back what it may, then sweeps the rest).
                self.remove_orphans()
        except ds.DockerLaunchError as e:
            log.warning("%s; Docker containers will fail until it does", e)
            return
        if self.shares_netns():
            # Now, not in the first container's start; beside the NM's registration, not before it (a
            # launch waits for it on the sandbox's lock).
            threading.Thread(target=self._warm_sandbox, name="network-sandbox", daemon=True).start()

    def _warm_sandbox(self) -> None:
        try:
            self.sandbox()
        except ds.DockerLaunchError as e:
            log.warning("%s; the node's first container tries again", e)

    def release(self) -> None:
        """The node's network sandbox goes with its containers, which the NM has just ended (a supervised
        stop keeps both); one still dying past the NM's wait loses its network a little sooner."""
        if self.ctx is None or not self.shares_netns():
            return
        try:
            with self._sandbox_lock:
                self._released = True
                self._sandbox = None
                self.client().containers.get(ds.sandbox_name(self.ctx.node_id)).remove(force=True)
            log.info("Removed the network sandbox %s of node %s", ds.sandbox_name(self.ctx.node_id), self.ctx.node_id)
        except docker.errors.NotFound:
            pass
        except (ds.DockerLaunchError, *_ENGINE_ERRORS) as e:
            log.warning("Could not remove the network sandbox of node %s: %s", self.ctx.node_id, e)

    # ---- the node's network sandbox ----------------------------------------------------------

    def shares_netns(self) -> bool:
        """Whether this node's containers share one network namespace (ds.SHARED_NETNS_KEY)."""
        return (self.network() != ds.HOST_NETWORK and self.ctx is not None
                and self.ctx.conf.get_bool(ds.SHARED_NETNS_KEY, True))

    def sandbox(self) -> Container:
        """The node's running network sandbox: the one an earlier run of this node left, if it still runs
        on this network (its containers may be in it), else a new one."""
        assert self.ctx is not None
        name = ds.sandbox_name(self.ctx.node_id)
        with self._sandbox_lock:
            if self._released:
                raise ds.DockerLaunchError(f"NodeManager {self.ctx.node_id} is stopping: no network sandbox")
            client = self.client()
            try:
                found = self._sandbox or client.containers.get(name)
                found.reload()
                if found.status == "running" and found.labels.get(ds.LABEL_NETWORK) == self.network():
                    self._sandbox = found
                    return found
                log.info("Replacing the network sandbox %s of node %s (%s)", name, self.ctx.node_id, found.status)
                found.remove(force=True)
            except docker.errors.NotFound:
                pass
            except _ENGINE_ERRORS as e:
                self._forget_client()
                raise ds.DockerLaunchError(_engine_down(e)) from None
            user, _, _ = self.run_as()
            spec = ds.sandbox_spec(self.ctx.node_id, self.ctx.host, self.network(), self.default_image(), user)
            created = self._made(lambda: client.containers.run(**spec.kwargs()), spec.image,
                                 f"Docker could not start the network sandbox {name} on network {self.network()!r}")
            log.info("Started the network sandbox %s of node %s on %s: its containers are reached at %s",
                     name, self.ctx.node_id, self.network(), spec.hostname)
            self._sandbox = created
            return created

    def _of_this_node(self) -> list[Container]:
        assert self.ctx is not None
        try:
            return list(self.client().containers.list(
                all=True, filters={"label": f"{ds.LABEL_NODE}={self.ctx.node_id}"}))
        except _ENGINE_ERRORS as e:
            self._forget_client()
            raise ds.DockerLaunchError(_engine_down(e)) from None

    def remove_orphans(self, keep: set[str] | None = None) -> int:
        """Remove containers labelled with this node id (left by an earlier run of this NM), but those
        whose container id is in `keep` (taken back by its recovery)."""
        removed = 0
        for c in self._of_this_node():
            if keep and c.labels.get(ds.LABEL_CONTAINER) in keep:
                continue
            if c.labels.get(ds.LABEL_ROLE) == ds.SANDBOX_ROLE:
                continue  # the node's own (`sandbox` reuses or replaces it, `release` removes it)
            log.info("Removing orphaned Docker container %s (%s)", c.name, c.labels.get(ds.LABEL_CONTAINER))
            try:
                c.remove(force=True)
            except docker.errors.NotFound:
                continue  # removed meanwhile
            except _ENGINE_ERRORS as e:
                self._forget_client()
                raise ds.DockerLaunchError(_engine_down(e)) from None
            removed += 1
        return removed

    def recover(self, container_id: str) -> ContainerProcess | None:
        """The Docker container an earlier run of this node started for `container_id`, found by its
        labels (node id and container id), running or exited; None when the engine has none."""
        assert self.ctx is not None
        for c in self._of_this_node():
            if c.labels.get(ds.LABEL_CONTAINER) == container_id:
                if c.status == "created":
                    return None  # never started (its NM died between create and start): the sweep removes it
                host = c.attrs.get("HostConfig", {})
                network = str(host.get("NetworkMode") or ds.HOST_NETWORK)
                # What watching it needs (its name, its memory limit for an OOM report), from the engine.
                spec = ds.RunSpec(name=str(c.name), image=str(c.attrs.get("Config", {}).get("Image", "")),
                                  entrypoint=[], working_dir="", user="", mem_bytes=int(host.get("Memory") or 0),
                                  nano_cpus=int(host.get("NanoCpus") or 0), labels=dict(c.labels), network=network)
                return DockerContainer(c, spec, recoverable=True)
        return None

    def sweep(self, keep: set[str]) -> int:
        if self.ctx is None or not self.ctx.recovery_enabled:
            return 0  # prepare() removed them all already
        try:
            return self.remove_orphans(keep)
        except ds.DockerLaunchError as e:
            log.warning("%s; containers of an earlier run of this node may be left in Docker", e)
            return 0

    # ---- per container -------------------------------------------------------------------

    def default_image(self) -> str:
        conf_image = self.ctx.conf.get_str(ds.IMAGE_KEY) if self.ctx is not None else ""
        return conf_image or os.environ.get("MINIYARN_DOCKER_IMAGE", "") or ds.DEFAULT_IMAGE

    def inherited(self, launch_env: Mapping[str, str]) -> Inherited:
        image = ds.image_of(launch_env, self.default_image())
        try:
            attrs = self.client().images.get(image).attrs
        except docker.errors.ImageNotFound:
            node = self.ctx.node_id if self.ctx is not None else "this node"
            raise ds.DockerLaunchError(
                f"Docker image {image!r} is not on the Docker engine of node {node}; build it there "
                "(bash images/build.sh) or `docker load` it. No registry pull is attempted.") from None
        except _ENGINE_ERRORS as e:
            self._forget_client()
            raise ds.DockerLaunchError(_engine_down(e)) from None
        image_env = ds.env_list(attrs.get("Config", {}).get("Env") or [])
        return Inherited(ds.inherited_env(image_env, os.environ), python=image_env.get("PYTHON", "python3"))

    def network(self) -> str:
        return (self.ctx.conf.get_str(ds.NETWORK_KEY) if self.ctx is not None else "") or ds.HOST_NETWORK

    def container_host(self, container_id: str) -> str | None:
        if self.network() == ds.HOST_NETWORK:
            return None
        if self.shares_netns():
            assert self.ctx is not None
            return sandbox_hostname(self.ctx.host)
        return container_hostname(container_id)

    def run_as(self) -> tuple[str, int, int]:
        """The container's user: $MINIYARN_DOCKER_USER, else the NM's own uid:gid, or 1000:1000 for a root NM."""
        text = os.environ.get("MINIYARN_DOCKER_USER") or (
            DEFAULT_USER if os.geteuid() == 0 else f"{os.geteuid()}:{os.getegid()}")
        uid, _, gid = text.partition(":")
        try:
            return text, int(uid), int(gid or uid)
        except ValueError:
            raise ds.DockerLaunchError(f"MINIYARN_DOCKER_USER={text!r} must be uid:gid") from None

    def allowed_mounts(self) -> tuple[list[str], list[str]]:
        """(read-only, read-write) host dirs a container may mount: YARN's keys, plus the NM's own
        local and log dirs (as YARN adds them to the rw list)."""
        if self.ctx is None:
            return [], []
        ro = ds.split_dirs(self.ctx.conf.get_str(ds.ALLOWED_RO_KEY) or "")
        rw = ds.split_dirs(self.ctx.conf.get_str(ds.ALLOWED_RW_KEY) or "")
        rw += [os.path.realpath(d) for d in (*self.ctx.local_dirs, *self.ctx.log_dirs)]
        return ro, rw

    def _made(self, make: Callable[[], Container], image: str, refused: str) -> Container:
        """`make()` (a create or a run), its engine errors as the diagnostics a container fails with."""
        try:
            return make()
        except docker.errors.ImageNotFound:
            node = self.ctx.node_id if self.ctx is not None else "unknown"
            raise ds.DockerLaunchError(f"Docker image {image!r} is not on the Docker engine of node {node}; "
                                       "build it there (bash images/build.sh) or `docker load` it") from None
        except docker.errors.APIError as e:
            raise ds.DockerLaunchError(f"{refused}: {e.explanation or e}") from None
        except _ENGINE_ERRORS as e:
            self._forget_client()
            raise ds.DockerLaunchError(_engine_down(e)) from None

    def launch(self, spec: LaunchSpec) -> ContainerProcess:
        launch_env = spec.launch_env
        image = ds.image_of(launch_env, self.default_image())
        user, uid, gid = self.run_as()
        ro, rw = self.allowed_mounts()
        extra = ds.parse_mounts(launch_env.get(ds.DOCKER_MOUNTS, ""))
        for m in extra:
            ds.check_mount(ds.Mount(os.path.realpath(m.source), m.target, m.read_only), ro, rw)
        for own in (spec.work_dir, spec.log_dir):
            ds.check_mount(ds.Mount(os.path.realpath(own), str(own), False), [], rw)
        spec.log_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0 and uid != 0:
            _chown_tree(spec.work_dir, uid, gid)
            _chown_tree(spec.log_dir, uid, gid)
        node_id = self.ctx.node_id if self.ctx is not None else "unknown"
        client = self.client()
        pids = self.ctx.conf.get_int(ds.PIDS_LIMIT_KEY, ds.DEFAULT_PIDS_LIMIT) if self.ctx else ds.DEFAULT_PIDS_LIMIT
        sandbox = self.sandbox().id if self.shares_netns() else ""
        run = ds.run_spec(spec, image, node_id, user, self._host_cpus, extra, pids_limit=pids,
                          network=self.network(), sandbox=sandbox or "")
        container = self._made(lambda: client.containers.create(**run.kwargs()), image,
                               f"Docker refused to create container {spec.container_id} from image {image!r}")
        try:
            container.start()
        except _ENGINE_ERRORS as e:
            try:
                container.remove(force=True)
            except _ENGINE_ERRORS:
                pass
            explanation = e.explanation if isinstance(e, docker.errors.APIError) else str(e)
            raise ds.DockerLaunchError(f"Docker could not start container {spec.container_id} from image "
                                       f"{image!r}: {explanation or e}") from None
        log.info("Started Docker container %s (%s) from %s, %d MB, %.2f CPUs", container.short_id,
                 spec.container_id, image, spec.resource.memory, run.nano_cpus / 1e9)
        return DockerContainer(container, run, recoverable=self.ctx is not None and self.ctx.recovery_enabled)


def _chown_tree(root: os.PathLike[str], uid: int, gid: int) -> None:
    """Hand a container's dirs (and what was localized into them) to the user it runs as."""
    os.chown(root, uid, gid)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in (*dirnames, *filenames):
            try:
                os.chown(os.path.join(dirpath, name), uid, gid, follow_symlinks=False)
            except FileNotFoundError:
                pass
