"""The container manager (YARN's ContainerManagerImpl + ContainerLaunch): checks a start against the
grant the RM stored, localizes, writes launch_container.sh, launches through the executor, waits,
and turns the exit into the status the RM hears. Stops and kills go through here too.

A start or stop whose container token does not match the grant's digest (or, for a stop, the digest
kept from the start) is a forgery: logged and dropped, never reported, so it cannot fail the real
container either.

Each container has one thread from start to exit, so a slow localization never holds up the
command loop, and the thread that owns the process handle is the one that reaps it.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import redis
from pydantic import ValidationError

from miniyarn import config, keys
from miniyarn.exit_status import ContainerExitStatus
from miniyarn.ids import InvalidIdError, app_id_of
from miniyarn.protocol import ContainerGrant, StartContainer, StopContainer
from miniyarn.records import ContainerStatus
from miniyarn.security.credentials import digest, same
from miniyarn.states.nm_container import NMContainerEvent
from nodemanager import diagnostics as diag
from nodemanager import recovery
from nodemanager.container import KillRequest, NMContainer, NMContainerState
from nodemanager.context import NMContext
from nodemanager.executor import ContainerExecutor, ContainerProcess, LaunchSpec
from nodemanager.executor.process import RecoveredProcess
from nodemanager.launch import ContainerPaths, NodeFacts, command_line, container_env, launch_script
from nodemanager.localizer import LocalizationError, localize_all

log = logging.getLogger("nodemanager.ContainerManager")

# YARN's yarn.nodemanager.sleep-delay-before-sigkill.ms: time to let a container end on SIGTERM.
SIGKILL_DELAY_S = 0.25
# Heartbeats that repeat a completion: one lost RPUSH (or an RM restart mid-batch) must not lose it.
COMPLETION_REPORTS = 5
# YARN's yarn.nodemanager.duration-to-track-stopped-containers: how long REST still lists a
# finished container whose application has not ended.
TRACK_STOPPED_S = 600
# A localization from Redis (blob://) that meets Redis down, paused or failing over waits this long for it
# (as AMs wait for the RM, yarn.resourcemanager.connect.max-wait.ms' default here) before the container
# fails: a state-store outage of seconds is no fault of the container's, and failing it (-1000) made the
# DistributedShell AM count a failed container when the Sentinel's master died during a start.
REDIS_WAIT_S = config.DEFAULT_MAX_WAIT_MS / 1000


class ContainerManager:
    def __init__(self, ctx: NMContext, client: redis.Redis, executor: ContainerExecutor,
                 on_complete: Callable[[], None]) -> None:
        self.ctx = ctx
        self.redis = client
        self.executor = executor
        self.on_complete = on_complete
        self.containers: dict[str, NMContainer] = {}
        self.finished_apps: set[str] = set()
        self.lock = threading.Lock()
        self.threads: dict[str, threading.Thread] = {}

    # ---- commands ------------------------------------------------------------------------

    def start(self, cmd: StartContainer) -> None:
        cid = cmd.container.id
        try:
            grant = self._check_grant(cmd)
        except ForgedRequestError as e:
            log.warning("Refusing to start %s requested by %s (user %r): %s", cid, cmd.requested_by or "unknown",
                        cmd.user, e)
            return
        with self.lock:
            existing = self.containers.get(cid)
            if existing is not None and not existing.refused:
                log.warning("Container %s already is running on this node!! Ignoring the start.", cid)
                return
        app_id = _app_of(cid)
        user = cmd.user or self.ctx.nm_user
        paths = ContainerPaths.of(self.ctx.local_dirs, self.ctx.log_dirs, user, app_id, cid)
        c = NMContainer(id=cid, app_id=app_id, user=user, resource=cmd.container.resource, paths=paths)
        with self.lock:
            self.containers[cid] = c
        if isinstance(grant, str):
            log.warning("Refusing to start %s requested by %s: %s", cid, cmd.requested_by or "unknown", grant)
            with c.lock:
                c.refused = True
                c.add_diagnostic(diag.invalid_grant(cid, self.ctx.node_id, grant))
                c.complete(int(ContainerExitStatus.INVALID), success=False)
            self.on_complete()
            return
        c.resource = grant.resource
        c.token_digest = grant.token_digest
        log.info("Start request for %s by %s, user %s, resource %s", cid, cmd.requested_by or "unknown",
                 user, c.resource)
        t = threading.Thread(target=self._run, args=(c, cmd), name=f"ContainersLauncher {cid}", daemon=True)
        self.threads[cid] = t
        t.start()

    def _grant(self, cid: str) -> ContainerGrant | str:
        """The RM's grant of `cid`, or why there is none."""
        raw = self.redis.get(keys.container(cid))
        if raw is None:
            return (f"No grant for container {cid} in Redis (never allocated by the ResourceManager, "
                    "or already completed).")
        try:
            return ContainerGrant.model_validate_json(raw)
        except ValidationError as e:
            return f"The grant for {cid} is not a Container record: {e.errors()[0]['msg']}"

    def _check_grant(self, cmd: StartContainer) -> ContainerGrant | str:
        """The grant if the RM granted this container to this node, else why not (reported to the RM);
        ForgedRequestError if the start does not carry the grant's token. The grant in Redis, not the
        command, fixes the resource (an NM checks a container token the same way)."""
        cid = cmd.container.id
        grant = self._grant(cid)
        if isinstance(grant, str):
            return grant
        if not grant.token_digest or not same(digest(cmd.container_token), grant.token_digest):
            raise ForgedRequestError(f"Invalid container token for {cid}: it does not match the ResourceManager's "
                                     "grant")
        if grant.node_id != self.ctx.node_id:
            return f"Container {cid} was granted on node {grant.node_id}, not on this node {self.ctx.node_id}."
        return grant

    def _stop_refused(self, cmd: StopContainer, c: NMContainer | None) -> str | None:
        """Why a stop is a forgery, or None: its token must match the one the start carried (or, for a
        container never started here, the grant's)."""
        expected = c.token_digest if c is not None else ""
        if not expected:
            grant = self._grant(cmd.container_id)
            if isinstance(grant, str):
                return grant
            expected = grant.token_digest
        if not expected or not same(digest(cmd.container_token), expected):
            return f"Invalid container token for {cmd.container_id}"
        return None

    def stop(self, cmd: StopContainer) -> None:
        c = self.containers.get(cmd.container_id)
        refused = self._stop_refused(cmd, c)
        if refused is not None:
            log.warning("Refusing to stop %s (exit status %d): %s", cmd.container_id, cmd.exit_status, refused)
            return
        if c is None:
            # Never started here (refused, or the start is still behind us in no queue): report it
            # complete so whoever asked hears an answer, and refuse a late start of it.
            log.info("Stop request for %s, which is not on this node; reporting it complete", cmd.container_id)
            app_id = _app_of(cmd.container_id)
            paths = ContainerPaths.of(self.ctx.local_dirs, self.ctx.log_dirs, self.ctx.nm_user, app_id,
                                      cmd.container_id)
            c = NMContainer(id=cmd.container_id, app_id=app_id, user=self.ctx.nm_user,
                            resource=self.ctx.capability.times(0), paths=paths)
            if cmd.diagnostics:
                c.add_diagnostic(cmd.diagnostics + "\n")
            c.add_diagnostic(f"Container {cmd.container_id} was not running on {self.ctx.node_id}.\n")
            c.complete(cmd.exit_status, success=False)
            with self.lock:
                self.containers.setdefault(cmd.container_id, c)
            self.on_complete()
            return
        log.info("Stopping container %s (exit status %d)", c.id, cmd.exit_status)
        self.kill(c, cmd.exit_status, cmd.diagnostics)

    def kill(self, c: NMContainer, exit_status: int, diagnostics: str) -> None:
        """End `c` (SIGTERM, then SIGKILL after YARN's delay); it reports `exit_status`."""
        with c.lock:
            if c.is_complete or c.kill is not None:
                return
            c.kill = KillRequest(exit_status, diagnostics)
            if c.state is not NMContainerState.RUNNING or c.process is None:
                return  # the launcher thread sees the request before it launches
            c.event(NMContainerEvent.KILL_CONTAINER)
            proc = c.process
        proc.signal(signal.SIGTERM)
        timer = threading.Timer(SIGKILL_DELAY_S, proc.signal, args=(signal.SIGKILL,))
        timer.daemon = True
        timer.start()

    def containers_of(self, app_id: str) -> list[NMContainer]:
        with self.lock:
            return [c for c in self.containers.values() if c.app_id == app_id]

    def application_finished(self, app_id: str, wait_s: float = 3.0) -> list[NMContainer]:
        """Kill what is left of `app_id` and wait for it; returns its containers."""
        with self.lock:
            self.finished_apps.add(app_id)
        mine = self.containers_of(app_id)
        for c in mine:
            self.kill(c, int(ContainerExitStatus.KILLED_AFTER_APP_COMPLETION),
                      "Container killed on application-finish event.")
        deadline = time.monotonic() + wait_s
        for c in mine:
            c.done.wait(max(0.0, deadline - time.monotonic()))
        return mine

    def stop_all(self, exit_status: int, diagnostics: str, wait_s: float = 3.0,
                 keep_recoverable: bool = False) -> None:
        """Kill every live container (but those the next run can take back, with `keep_recoverable`)."""
        with self.lock:
            live = [c for c in self.containers.values() if not c.is_complete
                    and not (keep_recoverable and c.process is not None and c.process.recoverable)]
        for c in live:
            self.kill(c, exit_status, diagnostics)
        deadline = time.monotonic() + wait_s
        for c in live:
            c.done.wait(max(0.0, deadline - time.monotonic()))

    # ---- what an earlier run of this node left ---------------------------------------------

    def recover_previous(self) -> list[NMContainer]:
        """At start, before the first heartbeat: take back (recovery on) or end (off) every container an
        earlier run of this node id left, and report the ones that ended; returns them all. A container
        the RM has completed meanwhile (its node was LOST, its app ended) is never taken back: its
        replacement may be running already."""
        enabled = self.ctx.recovery_enabled
        out: list[NMContainer] = []
        for found in recovery.scan(self.ctx.private_dir, self.ctx.node_id):
            rec = found.record
            held: ContainerProcess | None = None  # what a runtime that keeps its containers (Docker) has of it
            reason: tuple[int, str] | None = None
            if rec.runtime != "process":
                found, held, reason = self._found_in_runtime(found)
            granted = self._still_granted(rec)
            decision = recovery.decide(found, enabled, granted is None)
            paths = ContainerPaths.of(self.ctx.local_dirs, self.ctx.log_dirs, rec.user, rec.app_id,
                                      rec.container_id)
            c = NMContainer(id=rec.container_id, app_id=rec.app_id, user=rec.user, resource=rec.resource,
                            paths=paths, token_digest=rec.token_digest)
            node = self.ctx.node_id
            if decision is recovery.Decision.RECOVER:
                assert found.pid is not None
                c.process = held or RecoveredProcess(found.pid, rec.container_id,
                                                     recovery.exit_code_file(found.dir, rec.container_id))
                c.event(NMContainerEvent.CONTAINER_RECOVERED)
                log.info("Recovered container %s (pid %d): running", c.id, found.pid)
            elif decision is recovery.Decision.KILL:
                assert found.pid is not None
                if held is not None:
                    held.signal(signal.SIGKILL)
                    held.cleanup()  # removed, never left beside the replacement the AM may be given
                else:
                    recovery.kill_group(found.pid, signal.SIGKILL)
                why = ("yarn.nodemanager.recovery.enabled is false" if not enabled
                       else f"the ResourceManager no longer grants it ({granted})")
                log.warning("Killed container %s (pid %d) left by an earlier run of %s: %s", c.id, found.pid,
                            node, why)
                c.add_diagnostic(f"Container killed: NodeManager {node} restarted and did not recover it: {why}.\n")
                c.complete(int(ContainerExitStatus.ABORTED), success=False)
            elif decision is recovery.Decision.EXITED:
                assert found.exit_code is not None
                log.info("Container %s left by an earlier run exited with %d while %s was down", c.id,
                         found.exit_code, node)
                if held is not None:
                    held.cleanup()
                if reason is not None:  # the engine's OOM kill: -104
                    c.add_diagnostic(reason[1])
                    c.complete(reason[0], success=False)
                elif found.exit_code == 0:
                    c.complete(int(ContainerExitStatus.SUCCESS), success=True)
                else:
                    c.add_diagnostic(diag.launch_failed(c.id, found.exit_code, _tail(paths.log_dir / "stderr")))
                    c.complete(found.exit_code, success=False)
            elif decision is recovery.Decision.LOST:
                log.warning("Container %s left by an earlier run is gone without an exit code", c.id)
                c.add_diagnostic(f"Container {c.id} ended while NodeManager {node} was down and wrote no exit "
                                 f"code (killed). Exit code: {recovery.EXIT_CODE_LOST}\n")
                c.complete(recovery.EXIT_CODE_LOST, success=False)
            else:
                c.add_diagnostic(f"Container killed: NodeManager {node} went away while it ran.\n")
                c.complete(int(ContainerExitStatus.ABORTED), success=False)
            with self.lock:
                if rec.container_id in self.containers:
                    continue
                self.containers[rec.container_id] = c
            out.append(c)
            if c.process is not None and c.state is NMContainerState.RUNNING:
                t = threading.Thread(target=self._run_recovered, args=(c, c.process),
                                     name=f"ContainersLauncher {c.id}", daemon=True)
                self.threads[c.id] = t
                t.start()
        kept = {c.id for c in out if not c.is_complete}
        if (swept := self.executor.sweep(kept)):
            log.info("Removed %d containers of an earlier run of %s that it did not take back", swept,
                     self.ctx.node_id)
        return out

    def _found_in_runtime(self, found: recovery.Found) -> tuple[recovery.Found, ContainerProcess | None,
                                                                 tuple[int, str] | None]:
        """`found` as its runtime sees it (Docker: the container with its labels, running or exited with
        the engine's exit code), the runtime's handle on it, and the runtime's own exit reason."""
        rec = found.record
        executor = self.executor.runtime(rec.runtime)
        gone = recovery.Found(rec, found.dir, None, None, False)
        if executor is None:
            log.warning("Container %s left by an earlier run ran in runtime %r, which this NM does not have",
                        rec.container_id, rec.runtime)
            return gone, None, None
        try:
            held = executor.recover(rec.container_id)
        except OSError as e:  # the engine does not answer: the container counts as gone (reported lost)
            log.warning("Cannot look up container %s of an earlier run: %s", rec.container_id, e)
            return gone, None, None
        if held is None:
            return gone, None, None
        if held.alive():
            return recovery.Found(rec, found.dir, held.pid or None, None, True), held, None
        code = held.wait()  # exited: the engine answers at once with its exit code
        return recovery.Found(rec, found.dir, held.pid or None, code, False), held, held.exit_reason()

    def _still_granted(self, rec: recovery.ContainerRecord) -> str | None:
        """None if the RM still grants `rec` to this node under the token it started with, else why not."""
        try:
            grant = self._grant(rec.container_id)
        except redis.RedisError as e:
            return f"its grant could not be read: {e}"
        if isinstance(grant, str):
            return grant
        if grant.node_id != self.ctx.node_id or not same(grant.token_digest, rec.token_digest):
            return f"Container {rec.container_id} is granted under another node or token now."
        return None

    def _run_recovered(self, c: NMContainer, proc: ContainerProcess) -> None:
        try:
            self._wait_and_finish(c, proc)
        except Exception as e:  # as _run: a bug must still end the container visibly
            log.exception("Recovered container %s failed in the NodeManager", c.id)
            with c.lock:
                if not c.is_complete:
                    c.add_diagnostic(f"NodeManager error while watching the container: {e!r}\n")
                    c.complete(int(ContainerExitStatus.INVALID), success=False)
        self.on_complete()

    # ---- the container's own thread ------------------------------------------------------

    def _run(self, c: NMContainer, cmd: StartContainer) -> None:
        try:
            self._launch_and_wait(c, cmd)
        except Exception as e:  # a bug here must still end the container visibly
            log.exception("Container %s failed in the NodeManager", c.id)
            with c.lock:
                if not c.is_complete:
                    c.add_diagnostic(f"NodeManager error while running the container: {e!r}\n")
                    c.complete(int(ContainerExitStatus.INVALID), success=False)
        self.on_complete()

    def _killed_before_launch(self, c: NMContainer) -> bool:
        if c.kill is None:
            return False
        if c.kill.diagnostics:
            c.add_diagnostic(c.kill.diagnostics + "\n")
        c.add_diagnostic("Container killed before it was launched.\n")
        c.complete(c.kill.exit_status, success=False)
        return True

    def _launch_and_wait(self, c: NMContainer, cmd: StartContainer) -> None:
        with c.lock:
            if self._killed_before_launch(c):
                return
            c.event(NMContainerEvent.INIT_CONTAINER)
        paths = c.paths
        for d in (paths.work_dir / "tmp", paths.log_dir):
            d.mkdir(parents=True, exist_ok=True)
        try:
            localize_all(self.redis, cmd.launch_context.local_resources, paths.work_dir, redis_wait_s=REDIS_WAIT_S,
                         give_up=lambda: c.kill is not None)
        except LocalizationError as e:
            log.warning("Failed to localize %s for %s: %s", e.url, c.id, e)
            with c.lock:
                if self._killed_before_launch(c):
                    return  # killed while it waited for Redis: a kill, not a localization failure
                c.add_diagnostic(diag.localization_failed(c.id, e.name, e.url, str(e)))
                c.complete(int(ContainerExitStatus.INVALID), success=False)
            return
        except redis.RedisError as e:
            with c.lock:
                if self._killed_before_launch(c):
                    return
                c.add_diagnostic(f"Failed to localize the resources of {c.id}: Redis failed "
                                 f"({type(e).__name__}: {e})\n")
                c.complete(int(ContainerExitStatus.INVALID), success=False)
            return
        with c.lock:
            c.event(NMContainerEvent.RESOURCE_LOCALIZED)
        launch_env = cmd.launch_context.environment
        try:
            executor = self.executor.select(launch_env)  # YARN_CONTAINER_RUNTIME_TYPE, else --executor
            inherited = executor.inherited(launch_env)
        except OSError as e:
            with c.lock:
                c.add_diagnostic(diag.launch_exception(c.id, str(e)))
                c.complete(int(ContainerExitStatus.INVALID), success=False)
            return
        node = NodeFacts(host=executor.container_host(c.id) or self.ctx.host, port=self.ctx.port,
                         python=inherited.python or self.ctx.python)
        env = container_env(c.id, c.app_id, c.user, inherited.env.get("HOME", str(paths.work_dir)), paths, node,
                            launch_env, inherited.env)
        script = paths.work_dir / "launch_container.sh"
        script.write_text(launch_script(env, command_line(cmd.launch_context.commands, str(paths.log_dir))))
        script.chmod(0o700)
        private = recovery.container_dir(self.ctx.private_dir, c.app_id, c.id)
        spec = LaunchSpec(container_id=c.id, app_id=c.app_id, user=c.user, work_dir=paths.work_dir,
                          log_dir=paths.log_dir, script=script, env=env.nm, resource=c.resource,
                          launch_env=launch_env, private_dir=private)
        with c.lock:
            if self._killed_before_launch(c):
                return
            # Before the launch: a record must exist for any container a later run of this NM may find.
            recovery.write_record(private, recovery.ContainerRecord(
                container_id=c.id, node_id=self.ctx.node_id, app_id=c.app_id, user=c.user, resource=c.resource,
                token_digest=c.token_digest,
                runtime=executor.name))
            try:
                c.process = executor.launch(spec)
            except OSError as e:
                c.add_diagnostic(diag.launch_exception(c.id, str(e)))
                c.complete(int(ContainerExitStatus.INVALID), success=False)
                return
            c.event(NMContainerEvent.CONTAINER_LAUNCHED)
            proc = c.process
        log.info("Container %s transitioned from SCHEDULED to RUNNING (pid %d)", c.id, proc.pid)
        self._wait_and_finish(c, proc)

    def _wait_and_finish(self, c: NMContainer, proc: ContainerProcess) -> None:
        """Wait for the container's root to exit and turn the exit into the status the RM hears."""
        code = proc.wait()
        proc.cleanup()
        reason = proc.exit_reason()  # e.g. the Docker engine's OOM kill: -104
        with c.lock:
            if c.kill is not None:
                if c.kill.diagnostics:
                    c.add_diagnostic(c.kill.diagnostics + ("" if c.kill.diagnostics.endswith("\n") else "\n"))
                for text in diag.killed_on_request(code):
                    c.add_diagnostic(text)
                c.complete(c.kill.exit_status, success=False)
            elif reason is not None:
                c.add_diagnostic(reason[1])
                for text in diag.killed_on_request(code):
                    c.add_diagnostic(text)
                c.complete(reason[0], success=False)
            elif code == 0:
                c.complete(int(ContainerExitStatus.SUCCESS), success=True)
            else:
                c.add_diagnostic(diag.launch_failed(c.id, code, _tail(c.paths.log_dir / "stderr")))
                c.complete(code, success=False)
        log.info("Container %s exited with exit status %d; state %s", c.id, c.exit_status, c.state.value)

    # ---- what the heartbeat and REST see -------------------------------------------------

    def heartbeat_statuses(self) -> list[ContainerStatus]:
        """Live containers, and each completion for its first COMPLETION_REPORTS heartbeats."""
        out: list[ContainerStatus] = []
        with self.lock:
            for c in self.containers.values():
                with c.lock:
                    if c.is_complete:
                        if c.completion_reports >= COMPLETION_REPORTS:
                            continue
                    out.append(c.status())
        return out

    def heartbeat_sent(self, statuses: list[ContainerStatus]) -> None:
        now = time.time()
        with self.lock:
            for s in statuses:
                c = self.containers.get(s.container_id)
                if c is not None and c.is_complete:
                    c.completion_reports += 1
            # Forget completed containers once reported, when their app ended or long after.
            for cid, c in list(self.containers.items()):
                if c.is_complete and c.completion_reports >= COMPLETION_REPORTS and (
                        c.app_id in self.finished_apps or now - (c.completed_at or now) > TRACK_STOPPED_S):
                    with c.lock:
                        c.event(NMContainerEvent.CONTAINER_RESOURCES_CLEANEDUP)
                    del self.containers[cid]
                    self.threads.pop(cid, None)
                    recovery.remove(recovery.container_dir(self.ctx.private_dir, c.app_id, cid))

    def snapshot(self) -> list[NMContainer]:
        with self.lock:
            return list(self.containers.values())

    def get(self, cid: str) -> NMContainer | None:
        with self.lock:
            return self.containers.get(cid)


class ForgedRequestError(ValueError):
    """A start or stop without the container's token: dropped (and logged), never acted on or reported."""


def _app_of(container_id: str) -> str:
    try:
        return app_id_of(container_id)
    except InvalidIdError:
        # Still tracked (and refused by the grant check), under an app id no real app has.
        return "application_0_0000"


def _tail(path: Path, n: int = diag.STDERR_TAIL_BYTES) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - n))
            return f.read().decode(errors="replace")
    except OSError:
        return ""
