"""`miniyarn distributed-shell`: YARN's DistributedShell client.

Stages the shell command as a file (YARN puts it in HDFS; we put it in Redis through the RM),
submits an AM that runs it in N containers, follows the application and exits 0 only if it
ends FINISHED/SUCCEEDED, 2 otherwise, as YARN's DS client does.
"""

from __future__ import annotations

import getpass
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from miniyarn import config
from miniyarn.client.yarn_client import YarnClient, YarnClientError

FINAL = {"FINISHED", "FAILED", "KILLED"}


@dataclass(frozen=True)
class ShellRequest:
    """What `miniyarn distributed-shell` was asked to run (its options, miniyarn/cli/distributed_shell.py)."""
    shell_command: str
    num_containers: int = 1
    container_memory: int = 256
    container_vcores: int = 1
    master_memory: int = 256
    queue: str = "default"
    appname: str = "DistributedShell"
    shell_env: tuple[str, ...] = ()
    timeout: int = 600000  # ms before the client kills the app
    rm_address: str | None = None


def submission(app_id: str, script_resource: str, num_containers: int, *, name: str = "DistributedShell",
               container_memory: int = 256, container_vcores: int = 1, master_memory: int = 256,
               queue: str = "default", shell_env: Sequence[str] = ()) -> dict[str, Any]:
    """The REST submission of a DistributedShell application whose shell script is already staged."""
    am = ["$PYTHON", "-m", "miniyarn.distributedshell.appmaster",
          "--num-containers", str(num_containers), "--container-memory", str(container_memory),
          "--container-vcores", str(container_vcores), "--script-resource", script_resource]
    for kv in shell_env:
        am += ["--shell-env", kv]
    command = " ".join(shlex.quote(a) if a != "$PYTHON" else a for a in am)
    return {
        "application-id": app_id, "application-name": name, "queue": queue,
        "application-type": "YARN", "max-app-attempts": 1,
        "resource": {"memory": master_memory, "vCores": 1},
        "am-container-spec": {"commands": {"command": f"{command} 1><LOG_DIR>/AppMaster.stdout "
                                                      "2><LOG_DIR>/AppMaster.stderr"}},
    }


def run(args: ShellRequest) -> int:
    if args.num_containers < 1:
        print("Invalid no. of containers specified, exiting. Specified numContainer="
              f"{args.num_containers}", file=sys.stderr)
        return 2
    yarn = YarnClient(config.rm_address(args.rm_address))
    try:
        script = yarn.stage_file(args.shell_command.encode())
        new = yarn.new_application()
        app_id = str(new["application-id"])
        body = submission(app_id, script.resource, args.num_containers, name=args.appname,
                          container_memory=args.container_memory, container_vcores=args.container_vcores,
                          master_memory=args.master_memory, queue=args.queue, shell_env=args.shell_env)
        print(f"Submitting application {app_id} to ResourceManager at {yarn.address}", flush=True)
        yarn.submit_application(body, user=getpass.getuser())
        return monitor(yarn, app_id, args.timeout / 1000.0)
    except YarnClientError as e:
        print(f"distributed-shell: {e}", file=sys.stderr)
        return 2


def monitor(yarn: YarnClient, app_id: str, timeout_s: float) -> int:
    start = time.monotonic()
    last = ""
    try:
        while True:
            report = yarn.get_application(app_id)
            line = (f"Got application report from ASM for, appId={app_id.rsplit('_', 1)[-1].lstrip('0')}, "
                    f"appDiagnostics={report.get('diagnostics', '')}, appQueue={report.get('queue')}, "
                    f"yarnAppState={report['state']}, distributedFinalState={report['finalStatus']}, "
                    f"appTrackingUrl={report.get('trackingUrl')}, appUser={report.get('user')}")
            if line != last:
                print(line, flush=True)
                last = line
            state, final = report["state"], report["finalStatus"]
            if state in FINAL:
                if state == "FINISHED" and final == "SUCCEEDED":
                    print("Application has completed successfully. Breaking monitoring loop", flush=True)
                    print("Application completed successfully")
                    return 0
                print(f"Application did finished unsuccessfully. YarnState={state}, DSFinalStatus={final}. "
                      "Breaking monitoring loop")
                print(f"Application failed to complete successfully; see: miniyarn logs -applicationId {app_id}")
                return 2
            if time.monotonic() - start > timeout_s:
                print("Reached client specified timeout for application. Killing application")
                yarn.kill_application(app_id)
                return 2
            time.sleep(0.25)
    except KeyboardInterrupt:
        print(f"Interrupted; killing application {app_id}")
        yarn.kill_application(app_id)
        return 130
