"""How a container's launch context becomes a shell script, as YARN's ContainerLaunch does it.

Pure functions: expand `<LOG_DIR>`, `<CPS>` and `{{VAR}}` in commands and environment values, build
the container's environment (YARN's own variables plus the launch context's), and write
`launch_container.sh`: the environment as exports, then the commands joined by spaces and run with
`exec /bin/bash -c`, exactly as YARN joins a command list (so `["python", "x.py", "1><LOG_DIR>/stdout"]`
is one command line).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

LOG_DIR_VAR = "<LOG_DIR>"  # ApplicationConstants.LOG_DIR_EXPANSION_VAR
CLASS_PATH_SEPARATOR = "<CPS>"  # ApplicationConstants.CLASS_PATH_SEPARATOR
_PARAM = re.compile(r"\{\{([A-Za-z_][A-Za-z0-9_]*)\}\}")  # {{VAR}}: cross-platform $VAR

# Variables the NM inherits into a container unless the launch context sets them, as YARN's
# yarn.nodemanager.env-whitelist; PYTHONPATH and VIRTUAL_ENV are our JAVA_HOME.
DEFAULT_ENV_WHITELIST = ("PATH", "LANG", "LC_ALL", "TZ", "PYTHONPATH", "VIRTUAL_ENV", "JAVA_HOME",
                         "HADOOP_CONF_DIR", "YARN_CONF_DIR", "MINIYARN_RM_ADDRESS")
# Set by the NM only when the launch context leaves them out (an AM may hand its containers another
# interpreter). Never the NM's own Redis URL: a container gets a Redis credential only when its launch
# context carries one, which the RM gives an AM container alone (its attempt's user).
NM_DEFAULTS = ("PYTHON", "PYTHONUNBUFFERED")


def expand(text: str, log_dir: str) -> str:
    """YARN's command/env expansion: `<LOG_DIR>` to the container's log dir, `<CPS>` to `:`,
    `{{VAR}}` to `$VAR` (left for the shell to expand when the script runs)."""
    text = text.replace(LOG_DIR_VAR, log_dir).replace(CLASS_PATH_SEPARATOR, ":")
    return _PARAM.sub(r"$\1", text)


def command_line(commands: list[str], log_dir: str) -> str:
    """The one line YARN runs: every element expanded, joined by single spaces."""
    return " ".join(expand(c, log_dir) for c in commands)


@dataclass
class ContainerPaths:
    """Where one container lives on this node (YARN's layout)."""

    work_dir: Path  # <local-dir>/usercache/<user>/appcache/<appId>/<containerId>
    app_local_dirs: list[Path]  # <local-dir>/usercache/<user>/appcache/<appId>, per local dir
    user_local_dirs: list[Path]  # <local-dir>/usercache/<user>, per local dir
    log_dir: Path  # <log-dir>/<appId>/<containerId>

    @classmethod
    def of(cls, local_dirs: list[Path], log_dirs: list[Path], user: str, app_id: str,
           container_id: str) -> ContainerPaths:
        user_dirs = [d / "usercache" / user for d in local_dirs]
        app_dirs = [d / "appcache" / app_id for d in user_dirs]
        return cls(work_dir=app_dirs[0] / container_id, app_local_dirs=app_dirs, user_local_dirs=user_dirs,
                   log_dir=log_dirs[0] / app_id / container_id)


@dataclass
class ContainerEnv:
    """`nm`: values the NM owns, exported verbatim. `user`: the launch context's, exported in double
    quotes after `nm` so `$PWD`, `$CLASSPATH`, ... expand as they do in YARN's script."""

    nm: dict[str, str] = field(default_factory=dict)
    user: dict[str, str] = field(default_factory=dict)

    def merged(self) -> dict[str, str]:
        return {**self.nm, **self.user}


@dataclass
class NodeFacts:
    host: str
    port: int
    python: str


def container_env(container_id: str, app_id: str, user: str, home: str, paths: ContainerPaths,
                  node: NodeFacts, launch_env: Mapping[str, str], nm_env: Mapping[str, str],
                  whitelist: tuple[str, ...] = DEFAULT_ENV_WHITELIST) -> ContainerEnv:
    log_dir = str(paths.log_dir)
    nm: dict[str, str] = {}
    for key in whitelist:
        if key in nm_env and key not in launch_env:
            nm[key] = nm_env[key]
    defaults = {"PYTHON": node.python, "PYTHONUNBUFFERED": "1"}
    for key in NM_DEFAULTS:
        if key not in launch_env:
            nm[key] = defaults[key]
    nm.update({
        "CONTAINER_ID": container_id,
        "NM_HOST": node.host,
        # One port serves everything this NM offers, so YARN's RPC and HTTP ports are the same.
        "NM_PORT": str(node.port),
        "NM_HTTP_PORT": str(node.port),
        "LOCAL_DIRS": ",".join(str(d) for d in paths.app_local_dirs),
        "LOCAL_USER_DIRS": ",".join(str(d) + "/" for d in paths.user_local_dirs),
        "LOG_DIRS": log_dir,
        # The container's identity, never the NM's: the executors inherit none of the NM's (HOME, USER,
        # ...), and a container with no home of its own here gets its work dir, as a YARN user does.
        "USER": user,
        "LOGNAME": user,
        "HOME": home or str(paths.work_dir),
        "PWD": str(paths.work_dir),
        # Python's tempfile and most tools honour TMPDIR; YARN points java.io.tmpdir here too.
        "TMPDIR": str(paths.work_dir / "tmp"),
        "APPLICATION_WEB_PROXY_BASE": f"/proxy/{app_id}",
    })
    owned = {"CONTAINER_ID", "NM_HOST", "NM_PORT", "NM_HTTP_PORT", "LOCAL_DIRS", "LOCAL_USER_DIRS", "LOG_DIRS",
             "USER", "LOGNAME", "PWD"}
    user_env = {k: expand(v, log_dir) for k, v in launch_env.items() if k not in owned}
    return ContainerEnv(nm=nm, user=user_env)


def _double_quoted(value: str) -> str:
    # Keep `$` live (YARN's script expands launch-context values) but not quotes or backticks.
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`") + '"'


def launch_script(env: ContainerEnv, command: str) -> str:
    """The text of launch_container.sh."""
    lines = ["#!/bin/bash", "", "set -o pipefail -e"]
    lines += [f"export {k}={shlex.quote(v)}" for k, v in env.nm.items()]
    lines += [f"export {k}={_double_quoted(v)}" for k, v in env.user.items() if _valid_name(k)]
    lines += ["", f"exec /bin/bash -c {shlex.quote(command)}", ""]
    return "\n".join(lines)


def _valid_name(key: str) -> bool:
    return re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key) is not None
