"""RM HA's pure parts: the lease value, renewal timing, the standby redirect's URL and texts, the HA keys of
yarn-site, this RM's id, and rmadmin's refusals when HA is off (no Redis, no RM)."""

from __future__ import annotations

import pytest

from miniyarn import config
from miniyarn.cli.main import main
from miniyarn.config import YarnConfiguration
from resourcemanager.daemon import HAConfigError, ha_rm_id
from resourcemanager.ha.elector import Timing
from resourcemanager.ha.fence import Fence, FencedError
from resourcemanager.ha.lease import Holder
from resourcemanager.ha.redirect import not_active_message, redirect_url

HA = {"yarn.resourcemanager.ha.enabled": "true", "yarn.resourcemanager.ha.rm-ids": "rm1, rm2",
      "yarn.resourcemanager.webapp.address.rm1": "0.0.0.0:8088",
      "yarn.resourcemanager.webapp.address.rm2": "rm2.example:8090"}


def test_the_lease_value_names_the_holder_its_epoch_and_its_address() -> None:
    h = Holder("rm1", 12, "http://127.0.0.1:8088")
    assert h.value == "rm1 12 http://127.0.0.1:8088"
    assert Holder.parse(h.value) == h and Holder.parse(h.value.encode()) == h
    for bad in (None, b"", b"rm1", b"rm1 x http://a", b"rm1 12"):
        assert Holder.parse(bad) is None


def test_renewals_come_four_times_a_lease_and_a_lease_unrenewed_for_its_length_is_lost() -> None:
    t = Timing(lease_ms=2000)
    assert t.renew_every_s == 0.5
    assert not t.lost(last_renewed=100.0, now=101.999)
    assert t.lost(last_renewed=100.0, now=102.0)


def test_a_standby_fence_refuses_before_touching_redis() -> None:
    # Fence(0): a standby. Its refusals come before any command is sent, so no client is needed to see them.
    with pytest.raises(FencedError):
        Fence(0).pop(None, [("k", 1)])  # type: ignore[arg-type]
    with pytest.raises(FencedError):
        Fence(0).pipeline(None)  # type: ignore[arg-type]
    assert not Fence(None).enabled and Fence(0).enabled and Fence(3).enabled


def test_the_standby_redirect_keeps_path_and_query_and_says_so_as_yarn() -> None:
    assert redirect_url("http://a:1/", "/cluster/apps", "") == "http://a:1/cluster/apps"
    assert redirect_url("http://a:1", "/ws/v1/cluster/apps", "states=RUNNING&limit=2") == \
        "http://a:1/ws/v1/cluster/apps?states=RUNNING&limit=2"
    assert not_active_message("rm2") == "ResourceManager rm2 is not Active!"


def test_ha_keys_give_rm_ids_and_their_addresses() -> None:
    conf = YarnConfiguration(HA, load_files=False)
    assert config.rm_ids(conf) == ["rm1", "rm2"]
    assert config.rm_webapp_address(conf, "rm1") == "http://127.0.0.1:8088"  # a wildcard bind is this host
    assert config.rm_webapp_address(conf, "rm2") == "http://rm2.example:8090"
    assert config.rm_webapp_address(conf, "rm3") == ""
    assert config.rm_ids(YarnConfiguration({**HA, "yarn.resourcemanager.ha.enabled": "false"},
                                           load_files=False)) == []
    assert YarnConfiguration(load_files=False).get_int("yarn.resourcemanager.ha.lease-ms") == 2000
    assert config.rm_address("a:1, http://b:2/") == "http://a:1,http://b:2"


def test_this_rms_id_must_be_one_of_the_rm_ids() -> None:
    conf = YarnConfiguration(HA, load_files=False)
    assert ha_rm_id(conf, "rm2") == "rm2"
    assert ha_rm_id(YarnConfiguration({**HA, "yarn.resourcemanager.ha.id": "rm1"}, load_files=False), None) == "rm1"
    with pytest.raises(HAConfigError, match=r"set yarn\.resourcemanager\.ha\.id"):
        ha_rm_id(conf, None)
    with pytest.raises(HAConfigError, match="is not one of"):
        ha_rm_id(conf, "rm3")
    with pytest.raises(HAConfigError, match="at least two"):
        ha_rm_id(YarnConfiguration({**HA, "yarn.resourcemanager.ha.rm-ids": "rm1"}, load_files=False), "rm1")


def test_rmadmin_without_ha_fails_as_yarns(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rmadmin", "-getServiceState", "rm1", "-D", "yarn.resourcemanager.ha.enabled=false"]) == 255
    assert capsys.readouterr().err == "Cannot run -getServiceState when ResourceManager HA is not enabled\n"
    defines = [arg for k, v in HA.items() for arg in ("-D", f"{k}={v}")]
    assert main(["rmadmin", "-getServiceState", *defines]) == 255
    assert "-getServiceState: incorrect number of arguments" in capsys.readouterr().err


def test_a_second_activation_writes_through_the_rm_the_web_app_holds() -> None:
    """Active, standby, active again in one process: the fresh state replaces the stale one in place, and
    its store must flush that RM's outbox (it flushed the discarded fresh object's: nothing was sent)."""
    import redis

    from resourcemanager.ha.lease import Lease
    from resourcemanager.ha.service import HAService
    from resourcemanager.inbox import InboxLoop
    from resourcemanager.rm import ResourceManager

    conf = YarnConfiguration(HA, load_files=False)

    def make_rm() -> ResourceManager:
        return ResourceManager(conf, redis.Redis(port=1))  # never connected: nothing here reaches Redis

    rm = make_rm()
    started: list[ResourceManager] = []

    class IdleLoop(InboxLoop):
        """The inbox loop's thread, idle until stopped: the activation around it is what is tested."""

        def run(self) -> None:
            self.stopping.wait()

    def start_active(target: ResourceManager) -> InboxLoop:
        started.append(target)
        loop = IdleLoop(target, target.redis)
        loop.start()
        return loop

    ha = HAService(rm, "rm1", Lease(rm.redis, "rm1", "http://127.0.0.1:1", 2000), start_active, make_rm)
    for epoch in (1, 2):
        ha.elector.on_active(Holder("rm1", epoch, "http://127.0.0.1:1"))
        assert ha.fence.epoch == epoch and rm.fence is ha.fence and started[-1] is rm
        assert rm.store.ctx is rm
        ha.elector.on_standby("test")
        assert ha.fence.epoch == 0
