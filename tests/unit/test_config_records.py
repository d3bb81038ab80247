from __future__ import annotations

from pathlib import Path

import pytest
import redis

from miniyarn import config
from miniyarn.client.amrm_client import AMRMClient
from miniyarn.client.nm_client import NMClient
from miniyarn.config import YarnConfiguration, parse_define, read_site_xml
from miniyarn.records import ApplicationSubmissionContext


def test_yarn_site_xml_is_read_from_conf_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "yarn-site.xml").write_text(
        "<configuration><property><name>yarn.scheduler.maximum-allocation-mb</name>"
        "<value>4096</value></property></configuration>")
    monkeypatch.setenv("YARN_CONF_DIR", str(tmp_path))
    conf = YarnConfiguration({"yarn.scheduler.minimum-allocation-mb": "512"})
    assert conf.get_int("yarn.scheduler.maximum-allocation-mb") == 4096
    assert conf.get_int("yarn.scheduler.minimum-allocation-mb") == 512


def test_the_am_clients_wait_for_the_rm_as_yarn_resourcemanager_connect_max_wait_ms_says(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("YARN_CONF_DIR", raising=False)
    monkeypatch.delenv("HADOOP_CONF_DIR", raising=False)
    client = redis.Redis(port=1)  # never connected: the clients only read their configuration here
    assert YarnConfiguration().get_int(config.MAX_WAIT_KEY) == config.DEFAULT_MAX_WAIT_MS == 120_000
    assert NMClient(client).max_wait_s == AMRMClient(client=client, attempt_id="appattempt_1_0001_000001",
                                                     amrm_token="").max_wait_s == 120.0
    (tmp_path / "yarn-site.xml").write_text(
        f"<configuration><property><name>{config.MAX_WAIT_KEY}</name><value>5000</value></property>"
        "</configuration>")
    monkeypatch.setenv("YARN_CONF_DIR", str(tmp_path))
    assert NMClient(client).max_wait_s == AMRMClient(client=client, attempt_id="appattempt_1_0001_000001",
                                                     amrm_token="").max_wait_s == 5.0
    assert NMClient(client, max_wait_ms=250).max_wait_s == 0.25


def test_broken_xml_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "yarn-site.xml"
    bad.write_text("<configuration>")
    with pytest.raises(ValueError, match=r"yarn-site\.xml"):
        read_site_xml(bad)


def test_parse_define() -> None:
    assert parse_define("a.b=1") == ("a.b", "1")
    with pytest.raises(ValueError, match="key=value"):
        parse_define("nokey")


def test_submission_context_accepts_yarn_rest_shapes() -> None:
    ctx = ApplicationSubmissionContext.model_validate({
        "application-id": "application_1_0001", "application-name": "ds", "queue": "default",
        "am-container-spec": {
            "commands": {"command": "echo hi"},
            "environment": {"entry": [{"key": "A", "value": "1"}]},
            "local-resources": {"entry": [{"key": "f", "value": {"resource": "blob://abc", "type": "FILE",
                                                                 "visibility": "APPLICATION", "size": 3,
                                                                 "timestamp": 0}}]},
        },
        "resource": {"memory": 512, "vCores": 1}, "max-app-attempts": 1, "application-type": "YARN",
    })
    assert ctx.am_container_spec.commands == ["echo hi"]
    assert ctx.am_container_spec.environment == {"A": "1"}
    assert ctx.am_container_spec.local_resources["f"].resource == "blob://abc"
    assert ctx.resource.memory == 512
