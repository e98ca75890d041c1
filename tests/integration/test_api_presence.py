"""Device presence follows the status topics on a real Mosquitto: the API's presence consumer
(shared subscription, and a read of the retained statuses at start) keeps the registry's
``online``, ``status_reason`` and ``status_at`` up to date, and an older status never
overwrites a newer one."""

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from hgj_api.app import create_app
from hgj_api.services import Services
from hgj_contracts import DEVICE_STATUS, DeviceStatus, utc_now
from hgj_devstack.accounts import MqttAccount, admin_account, api_account, device_account
from hgj_devstack.mosquitto import Mosquitto
from hgj_statedb.models import DeviceRow
from tests.api_support import FAST_PASSWORDS, api_settings
from tests.helpers import MosquittoFactory, MqttTestClient, wait_until

pytestmark = pytest.mark.integration

GS = "guangsha"
GATE, EARLY = "gs-gate-n", "gs-b01-smoke-f01"


@dataclass
class Stack:
    broker: Mosquitto
    root: str
    services: Services
    admin: MqttTestClient
    gate: MqttAccount

    def presence(self, device: str) -> tuple[bool | None, str | None, datetime | None]:
        with self.services.database.read_session() as session:
            row = session.get(DeviceRow, (GS, device))
            assert row is not None
            return row.online, row.status_reason, row.status_at

    def publish_status(self, device: str, status: DeviceStatus, *, retain: bool = False) -> None:
        topic = DEVICE_STATUS.topic(root=self.root, community=GS, device=device)
        self.admin.publish(topic, DEVICE_STATUS.encode(status), retain=retain)


@pytest.fixture
def stack(
    mosquitto_factory: MosquittoFactory, topic_root: str, sqlite_state_db_url: str
) -> Iterator[Stack]:
    api = api_account(topic_root, "api-1")
    gate = device_account(topic_root, GS, GATE)
    admin = admin_account(topic_root)
    broker = mosquitto_factory([api, gate, admin])
    settings = api_settings(
        sqlite_state_db_url,
        root=topic_root,
        mqtt_host=broker.host,
        mqtt_port=broker.port,
        mqtt_password=api.password,
    )
    with MqttTestClient.connected(broker, admin) as publisher:
        stack_admin = publisher
        # Retained before the API runs: only the read of retained statuses can find it.
        early = DeviceStatus(ts=utc_now(), seq=1, state="online", reason="startup")
        topic = DEVICE_STATUS.topic(root=topic_root, community=GS, device=EARLY)
        publisher.publish(topic, DEVICE_STATUS.encode(early), retain=True)
        app = create_app(settings, passwords=FAST_PASSWORDS)
        services: Services = app.state.services
        _register(services, [GATE, EARLY])
        with TestClient(app):
            assert services.presence is not None
            assert services.presence.wait_ready(30)
            yield Stack(broker, topic_root, services, stack_admin, gate)


def _register(services: Services, devices: list[str]) -> None:
    services.database.migrate()
    now = utc_now()
    with services.database.write_session() as session, session.begin():
        for device in devices:
            session.add(DeviceRow(community=GS, device=device, created_at=now, updated_at=now))


def _spawn_device(stack: Stack) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.status_device",
            stack.broker.host,
            str(stack.broker.port),
            stack.gate.username,
            stack.root,
            GS,
            GATE,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None
    assert process.stdout is not None
    process.stdin.write(stack.gate.password + "\n")
    process.stdin.flush()
    assert process.stdout.readline().strip() == "online"
    return process


def test_a_retained_status_from_before_the_start_is_read(stack: Stack) -> None:
    assert stack.presence(EARLY)[:2] == (True, "startup")


def test_connect_then_kill_then_an_older_status_changes_nothing(stack: Stack) -> None:
    device = _spawn_device(stack)
    try:
        wait_until(lambda: stack.presence(GATE)[0] is True, message="online")
        online_at = stack.presence(GATE)[2]
        assert stack.presence(GATE)[1] == "startup"
        killed_at = utc_now()
    finally:
        device.kill()
        device.wait(timeout=10)
        assert device.stdin is not None
        assert device.stdout is not None
        device.stdin.close()
        device.stdout.close()
    wait_until(lambda: stack.presence(GATE)[0] is False, message="offline after the kill")
    _online, reason, status_at = stack.presence(GATE)
    assert reason == "connection_lost"
    assert online_at is not None
    assert status_at is not None
    # Dated when the broker delivered the will (the device was lost then), not its connect time.
    assert status_at >= killed_at - timedelta(seconds=1)
    assert status_at > online_at

    # An older status, delivered again (live, and retained): nothing changes.
    stale = DeviceStatus(
        ts=online_at - timedelta(seconds=30), seq=1, state="online", reason="startup"
    )
    stack.publish_status(GATE, stale)
    # A sentinel for the consumer having handled it: a newer status for another device.
    newer = DeviceStatus(ts=utc_now(), seq=2, state="offline", reason="shutdown")
    stack.publish_status(EARLY, newer)
    wait_until(lambda: stack.presence(EARLY)[0] is False, message="the sentinel")
    assert stack.presence(GATE) == (False, "connection_lost", status_at)
    # Applying the same status twice is a no-op the second time.
    assert stack.services.presence is not None
    topic = DEVICE_STATUS.topic(root=stack.root, community=GS, device=EARLY)
    assert not stack.services.presence.apply(topic, DEVICE_STATUS.encode(newer), fresh=False)
