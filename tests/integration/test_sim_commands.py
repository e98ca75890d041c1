"""Simulated devices answer commands on the real broker: success, failure, timeout (no answer,
or an answer later than the caller waits), expiry, duplicates, refusals, and the state and
status they republish.

The test publishes commands as the platform would (admin account, contract channels) and reads
what the devices answer. Non-delivery is proven with a sentinel: a device handles its commands
in order, so once the answer to a later command has arrived, an earlier one that got none is
known to have been dropped.
"""

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import yaml

from hgj_contracts import (
    COMMAND,
    COMMAND_RESULT,
    DEVICE_STATE,
    DEVICE_STATUS,
    EVENT,
    CommandResult,
    DeviceState,
    utc_now,
)
from hgj_contracts.commands import (
    DeviceCommand,
    OpenGateCommand,
    PingCommand,
    RebootCommand,
    SetReportIntervalCommand,
    SetSwitchCommand,
)
from hgj_contracts.events import GatePassageEvent
from hgj_devstack.accounts import MqttAccount, admin_account, device_account
from hgj_devstack.mosquitto import Mosquitto
from hgj_sim.model import Community, load_community
from hgj_sim.responder import CommandPolicy
from hgj_sim.runner import BrokerAddress, SimStats, run_community
from tests.helpers import MosquittoFactory, MqttTestClient, unique_id, wait_until
from tests.sim_support import InThread, contract_violations, device_messages

pytestmark = pytest.mark.integration

TIMEOUT = 20.0
GATE = "tc-gate-north"
LIGHT = "tc-main-light-01"
SMOKE = "tc-b01-smoke-f01"

# One building and a compound with a gate and a street light: six devices.
TINY = {
    "id": "tiny",
    "name_zh": "测试小区",
    "name_en": "Test Community",
    "device_prefix": "tc",
    "buildings": [{"number": 1, "units": 1, "floors": 1}],
    "compounds": [
        {
            "id": "main",
            "name_zh": "测试",
            "buildings": [1],
            "gates": [{"name": "north", "name_zh": "北门", "face_camera": False}],
            "street_lights": 1,
        }
    ],
}


@pytest.fixture(scope="module")
def community(tmp_path_factory: pytest.TempPathFactory) -> Community:
    path = tmp_path_factory.mktemp("tiny") / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY, allow_unicode=True), encoding="utf-8")
    return load_community(path)


class Devices:
    """The tiny community running against a broker, and a platform-side client."""

    def __init__(self, broker: Mosquitto, admin: MqttAccount, root: str, platform: MqttTestClient):
        self.broker, self.admin, self.root, self.platform = broker, admin, root, platform
        self.stats = SimStats()

    def send(self, device: str, command: DeviceCommand) -> None:
        ids = {"root": self.root, "community": "tiny", "device": device}
        self.platform.publish(COMMAND.topic(**ids, action=command.action), COMMAND.encode(command))

    def results(self, command_id: str) -> list[CommandResult]:
        found = []
        for m in self.platform.messages:
            if "/cmd_result/" in m.topic:
                result = COMMAND_RESULT.decode(m.payload)
                if result.command_id == command_id:
                    found.append(result)
        return found

    def statuses(self, command_id: str) -> list[str]:
        return [r.status for r in self.results(command_id)]

    def wait_statuses(self, command_id: str, expected: list[str]) -> list[CommandResult]:
        wait_until(
            lambda: self.statuses(command_id) == expected,
            TIMEOUT,
            message=f"{command_id} answered {expected}; got {self.statuses(command_id)}",
        )
        return self.results(command_id)

    def states(self, device: str) -> list[DeviceState]:
        topic = DEVICE_STATE.topic(root=self.root, community="tiny", device=device)
        return [DEVICE_STATE.decode(m.payload) for m in self.platform.messages if m.topic == topic]

    def device_statuses(self, device: str) -> list[tuple[str, str | None, float | None]]:
        topic = DEVICE_STATUS.topic(root=self.root, community="tiny", device=device)
        decoded = [
            DEVICE_STATUS.decode(m.payload) for m in self.platform.messages if m.topic == topic
        ]
        return [(s.state, s.reason, s.report_interval_s) for s in decoded]


def _command(kind: type[Any], **fields: Any) -> Any:
    now = utc_now()
    base = {"ts": now, "command_id": unique_id("c-"), "expires_at": now + timedelta(seconds=30)}
    return kind(**(base | fields))


@pytest.fixture
def devices_with(
    mosquitto_factory: MosquittoFactory, community: Community, topic_root: str
) -> Iterator[Any]:
    """``devices_with(policy)``: the community running with that command policy."""
    running: list[InThread] = []
    clients: list[MqttTestClient] = []

    def start(policy: CommandPolicy) -> Devices:
        admin = admin_account(topic_root)
        accounts = [device_account(topic_root, community.id, d.id) for d in community.devices]
        broker = mosquitto_factory([admin, *accounts])
        platform = MqttTestClient.connected(broker, admin)
        clients.append(platform)
        platform.subscribe(f"{topic_root}/#")
        devices = Devices(broker, admin, topic_root, platform)
        credentials = {a.username: a.password for a in accounts}
        address = BrokerAddress(broker.host, broker.port)
        runner = InThread(
            lambda stop: run_community(
                community,
                address,
                topic_root,
                credentials,
                interval_s=30.0,
                stop=stop,
                stats=devices.stats,
                commands=policy,
            )
        )
        running.append(runner.__enter__())
        wait_until(
            lambda: (
                devices.stats.connected == len(community.devices)
                and all(devices.device_statuses(d.id) for d in community.devices)
            ),
            TIMEOUT,
            message="every device online",
        )
        return devices

    try:
        yield start
    finally:
        for runner in running:
            runner.stop()
        for client in clients:
            assert contract_violations(device_messages(client.messages)) == []
            client.close()


def test_open_gate_succeeds_opens_then_closes_and_says_so(devices_with: Any) -> None:
    devices = devices_with(CommandPolicy(latency_s=0.05))
    command = _command(OpenGateCommand, hold_open_s=0.3)
    devices.send(GATE, command)

    accepted, succeeded = devices.wait_statuses(command.command_id, ["accepted", "succeeded"])
    assert succeeded.data == {"gate": "open", "hold_open_s": 0.3}
    assert succeeded.seq > accepted.seq
    wait_until(lambda: len(devices.states(GATE)) >= 2, TIMEOUT, message="gate open, then closed")
    opened, closed = devices.states(GATE)[:2]
    assert (opened.state["gate"], opened.command_id) == ("open", command.command_id)
    assert (closed.state["gate"], closed.command_id) == ("closed", None)
    passages = [
        event
        for m in devices.platform.messages
        if m.topic.endswith(f"/{GATE}/event/gate_passage")
        and isinstance(event := EVENT.decode(m.payload), GatePassageEvent)
    ]
    assert [(p.method, p.granted, p.command_id) for p in passages] == [
        ("remote", True, command.command_id)
    ]
    # The state is retained: a console connecting later sees the gate's latest state.
    with MqttTestClient.connected(devices.broker, devices.admin) as late:
        late.subscribe(DEVICE_STATE.topic(root=devices.root, community="tiny", device=GATE))
        (retained,) = late.wait_for_messages(1)
        assert retained.retain
        assert DEVICE_STATE.decode(retained.payload).state["gate"] == "closed"


def test_a_failing_device_says_failed_and_republishes_its_unchanged_state(
    devices_with: Any,
) -> None:
    devices = devices_with(CommandPolicy(latency_s=0.05, failure_rate=1.0))
    command = _command(SetSwitchCommand, on=False)
    devices.send(LIGHT, command)

    _, failed = devices.wait_statuses(command.command_id, ["accepted", "failed"])
    assert (failed.error_code, failed.error) == ("relay_fault", "the relay did not switch")
    wait_until(lambda: devices.states(LIGHT), TIMEOUT, message="state after the failure")
    assert "switch_on" not in devices.states(LIGHT)[-1].state  # still on its schedule
    # Ping always answers, even from a device whose actuators fail.
    ping = _command(PingCommand)
    devices.send(LIGHT, ping)
    devices.wait_statuses(ping.command_id, ["accepted", "succeeded"])


def test_a_lost_command_gets_no_answer_so_the_caller_times_out(devices_with: Any) -> None:
    devices = devices_with(CommandPolicy(latency_s=0.05, drop_rate=1.0))
    lost = _command(OpenGateCommand)
    devices.send(GATE, lost)
    # Sentinel: an undecodable command (no expiry) is refused before any drop is drawn.
    sentinel = unique_id("c-")
    topic = COMMAND.topic(root=devices.root, community="tiny", device=GATE, action="open_gate")
    devices.platform.publish(topic, json.dumps({"command_id": sentinel}).encode())
    (refused,) = devices.wait_statuses(sentinel, ["rejected"])
    assert refused.error_code == "invalid_command"
    assert devices.results(lost.command_id) == []
    assert devices.states(GATE) == []


def test_an_answer_slower_than_the_caller_arrives_late(devices_with: Any) -> None:
    devices = devices_with(CommandPolicy(latency_s=2.0))
    command = _command(SetSwitchCommand, on=True)
    devices.send(LIGHT, command)
    devices.wait_statuses(command.command_id, ["accepted"])
    with pytest.raises(AssertionError, match="timed out"):  # the caller's timeout passes
        wait_until(lambda: len(devices.results(command.command_id)) > 1, 0.5)
    devices.wait_statuses(command.command_id, ["accepted", "succeeded"])


def test_expired_duplicate_and_unsupported_commands(devices_with: Any) -> None:
    devices = devices_with(CommandPolicy(latency_s=0.05))
    now = utc_now()
    stale = OpenGateCommand(
        ts=now - timedelta(seconds=10),
        command_id=unique_id("c-"),
        expires_at=now - timedelta(seconds=5),
    )
    devices.send(GATE, stale)
    (expired,) = devices.wait_statuses(stale.command_id, ["expired"])
    assert expired.error_code == "expired"
    assert devices.states(GATE) == []  # a late gate does not open

    twice = _command(OpenGateCommand, hold_open_s=60.0)
    devices.send(GATE, twice)
    devices.send(GATE, twice)
    unsupported = _command(SetSwitchCommand, on=True)
    devices.send(GATE, unsupported)
    (rejected,) = devices.wait_statuses(unsupported.command_id, ["rejected"])
    assert rejected.error_code == "unsupported_action"
    devices.wait_statuses(twice.command_id, ["accepted", "succeeded"])  # executed once
    sentinel = _command(PingCommand)
    devices.send(GATE, sentinel)
    devices.wait_statuses(sentinel.command_id, ["accepted", "succeeded"])
    assert devices.statuses(twice.command_id) == ["accepted", "succeeded"]


def test_a_new_report_interval_is_announced_and_a_reboot_restarts(devices_with: Any) -> None:
    devices = devices_with(CommandPolicy(latency_s=0.05, reboot_s=0.5))
    interval = _command(SetReportIntervalCommand, interval_s=120.0)
    devices.send(SMOKE, interval)
    devices.wait_statuses(interval.command_id, ["accepted", "succeeded"])
    wait_until(
        lambda: ("online", "reconnect", 120.0) in devices.device_statuses(SMOKE),
        TIMEOUT,
        message="online status with the new interval",
    )
    reboot = _command(RebootCommand)
    devices.send(SMOKE, reboot)
    devices.wait_statuses(reboot.command_id, ["accepted", "succeeded"])
    wait_until(
        lambda: (
            devices.device_statuses(SMOKE)[-2:]
            == [("offline", "shutdown", None), ("online", "startup", 120.0)]
        ),
        TIMEOUT,
        message="goodbye, then a fresh start",
    )
