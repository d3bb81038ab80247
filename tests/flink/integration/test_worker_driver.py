"""The JobManager's extension point for YARN: an in-process JobManager with a recording WorkerDriver, a real
TaskManager process, and a job whose demand, allocation history and idleness the driver sees."""

from __future__ import annotations

import asyncio

import pytest

from flink_on_yarn.common.config import Configuration
from flink_on_yarn.datastream import StreamExecutionEnvironment
from flink_on_yarn.runtime.jobmanager import JobManager
from flink_on_yarn.runtime.worker_driver import SlotDemand, WorkerDriver
from tests.conftest import Processes

pytestmark = pytest.mark.integration


class RecordingDriver(WorkerDriver):
    def __init__(self) -> None:
        self.demands: list[SlotDemand] = []
        self.registered: list[str] = []
        self.idle: list[list[str]] = []

    def on_demand_changed(self, demand: SlotDemand) -> None:
        self.demands.append(demand)

    def on_taskmanager_registered(self, tm_id: str) -> None:
        self.registered.append(tm_id)

    def on_idle_taskmanagers(self, tm_ids: list[str]) -> None:
        self.idle.append(tm_ids)
        for tm in tm_ids:
            self.rm.release_taskmanager(tm, "idle")


def test_driver_sees_demand_registration_and_idle(processes: Processes) -> None:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    env.from_collection(list(range(100))).map(lambda x: x * 2).set_parallelism(2).print()
    graph = env.get_job_graph("driver test")
    assert graph.required_slots() == 2

    async def scenario() -> None:
        config = Configuration({"rest.port": "0", "jobmanager.rpc.port": "0", "jobmanager.rpc.address": "127.0.0.1",
                                "resourcemanager.taskmanager-timeout": "1500", "heartbeat.interval": "500"})
        driver = RecordingDriver()
        jm = JobManager(config, driver)
        await jm.start()
        try:
            job = jm.dispatcher.submit(graph)
            await asyncio.sleep(0.3)
            assert driver.demands[-1].required_slots == 2 and driver.demands[-1].waiting_slots == 2
            tm = processes.start("tm", ["-m", "flink_on_yarn.runtime.taskmanager", "-D",
                                        "jobmanager.rpc.address=127.0.0.1", "-D", f"jobmanager.rpc.port={jm.rpc_port}",
                                        "-D", "taskmanager.numberOfTaskSlots=2", "-D", "taskmanager.resource-id=tm-x"])
            for _ in range(200):
                if job.status.is_globally_terminal:
                    break
                await asyncio.sleep(0.1)
            assert job.status.value == "FINISHED"
            assert driver.registered == ["tm-x"]
            assert jm.rm.demand().required_slots == 0
            for _ in range(60):
                if driver.idle:
                    break
                await asyncio.sleep(0.1)
            assert driver.idle and driver.idle[0] == ["tm-x"]
            events = [e["event"] for e in jm.rm.history.as_list()]
            assert events[:3] == ["slots-requested", "taskmanager-registered", "slots-allocated"]
            assert "slots-released" in events and events[-1] == "taskmanager-released"
            for _ in range(50):
                if tm.poll() is not None:
                    break
                await asyncio.sleep(0.1)
            assert tm.poll() == 0, "a released TaskManager exits"
        finally:
            await jm.stop()

    asyncio.run(scenario())
