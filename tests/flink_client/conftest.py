"""The real Flink client: Apache Flink's own `bin/flink` from the `apache-flink` wheel (its `pyflink/` is a
Flink home: `bin/` from apache-flink, `lib/` from apache-flink-libraries), on a Java 17. Never committed:
.ci/run installs both (`openjdk-17-jre-headless`; the two wheels, without their Python dependencies, which
`bin/flink` does not use, into a directory it names in `$MINIFLINK_TEST_FLINK_HOME`); otherwise an installed
`pyflink` is used, or the tier is skipped saying what is missing. Without `bin/flink` (the libraries wheel
alone) the same CLI class, `org.apache.flink.client.cli.CliFrontend`, is run from the jars.

The JobManager REST wants the cluster secret; Flink's client adds headers from `FLINK_REST_CLIENT_HEADERS`
(newline-separated `Name:value` lines, read by RestClusterClient), so it is given
`Authorization:Bearer <secret>` there, as docs/flink-runtime.md tells users to."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.flink.conftest import flink  # noqa: F401 -- the real JobManager/TaskManager fixture
from tests.flink_yarn.conftest import flink_yarn  # noqa: F401 -- a real RM, NMs and miniflink on YARN

FLINK_VERSION = "2.3.0"


def flink_home() -> Path | None:
    """A directory with Flink's `lib/flink-dist-*.jar` (and, from the apache-flink wheel, `bin/flink`)."""
    given = os.environ.get("MINIFLINK_TEST_FLINK_HOME")
    if given:
        home = Path(given)
    else:
        spec = importlib.util.find_spec("pyflink")
        if spec is None or not spec.submodule_search_locations:
            return None
        home = Path(next(iter(spec.submodule_search_locations)))
    return home if any((home / "lib").glob("flink-dist-*.jar")) else None


@dataclass
class FlinkCli:
    java: str
    home: Path
    conf_dir: Path

    def run(self, *args: str, secret: str | None, timeout: float = 90) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k != "FLINK_REST_CLIENT_HEADERS"}
        env.update(FLINK_HOME=str(self.home), FLINK_CONF_DIR=str(self.conf_dir), FLINK_LOG_DIR=str(self.conf_dir))
        if secret is not None:
            env["FLINK_REST_CLIENT_HEADERS"] = f"Authorization:Bearer {secret}"
        script = self.home / "bin" / "flink"
        if script.exists():
            cmd = ["bash", str(script), *args]
        else:
            cmd = [self.java, f"-Dlog4j.configurationFile={self.conf_dir / 'log4j-cli.properties'}", "-cp",
                   f"{self.home / 'lib'}/*", "org.apache.flink.client.cli.CliFrontend", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture
def flink_cli(tmp_path: Path) -> FlinkCli:
    java = shutil.which("java")
    if java is None:
        pytest.skip("no java on PATH: the real Flink client tier needs a Java 17 (apt-get install -y "
                    "openjdk-17-jre-headless; .ci/run does)")
    home = flink_home()
    if home is None:
        pytest.skip(f"no Flink jars: the real Flink client tier needs the apache-flink {FLINK_VERSION} wheels "
                    "(pip install apache-flink; .ci/run installs them and sets $MINIFLINK_TEST_FLINK_HOME)")
    conf = tmp_path / "flink-cli-conf"
    conf.mkdir()
    (conf / "config.yaml").write_text("rest.retry.max-attempts: 0\nclient.timeout: 30 s\n")
    (conf / "log4j-cli.properties").write_text(
        "rootLogger.level = WARN\nrootLogger.appenderRef.console.ref = console\n"
        "appender.console.type = Console\nappender.console.name = console\nappender.console.target = SYSTEM_ERR\n"
        "appender.console.layout.type = PatternLayout\nappender.console.layout.pattern = %p %c - %m%n\n")
    return FlinkCli(java, home, conf)
