"""Commands through the HTTP API for real: the API (its own settings and broker account,
``api_account``), a real Mosquitto and a device process. An operator opens a gate and follows
it to ``succeeded``; an interlock refuses closing a registered gate during a fire, and the
device never receives that command."""

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from hgj_api import accounts
from hgj_api.app import create_app
from hgj_api.routers.stream import STREAM_PATH
from hgj_api.security.permissions import Role
from hgj_api.services import Services
from hgj_contracts import utc_now
from hgj_devstack.accounts import admin_account, api_account, device_account
from hgj_statedb.models import AuditLogRow, DeviceRow
from tests.api_support import FAST_PASSWORDS, PASSWORD, api_settings, bearer
from tests.command_device import CommandDevice
from tests.helpers import MosquittoFactory, wait_until
from tests.statedb_fixtures import signal

pytestmark = pytest.mark.integration

GS = "guangsha"
GATE = "gs-gate-n"
COMMANDS = "/api/v1/commands"


@dataclass
class Stack:
    client: TestClient
    services: Services
    device: CommandDevice
    headers: dict[str, str]

    def post(self, action: str, **body: Any) -> dict[str, Any]:
        payload = {"community": GS, "device": GATE, "action": action, "reason": "test"} | body
        response = self.client.post(COMMANDS, json=payload, headers=self.headers)
        assert response.status_code == 201, response.text
        command: dict[str, Any] = response.json()
        return command

    def wait_state(self, command_id: str, state: str) -> dict[str, Any]:
        found: dict[str, Any] = {}

        def reached() -> bool:
            found.update(self.client.get(f"{COMMANDS}/{command_id}", headers=self.headers).json())
            return found.get("state") == state

        wait_until(reached, timeout=15, interval=0.1, message=f"{command_id} {state}")
        return found


@pytest.fixture
def stack(
    mosquitto_factory: MosquittoFactory, topic_root: str, sqlite_state_db_url: str
) -> Iterator[Stack]:
    api = api_account(topic_root, "api-1")
    gate = device_account(topic_root, GS, GATE)
    broker = mosquitto_factory([api, gate, admin_account(topic_root)])
    settings = api_settings(
        sqlite_state_db_url,
        root=topic_root,
        instance="api-1",
        mqtt_host=broker.host,
        mqtt_port=broker.port,
        mqtt_password=api.password,
    )
    # The real clock: the device compares expires_at with its own.
    app = create_app(settings, passwords=FAST_PASSWORDS)
    with TestClient(app) as client:
        services: Services = app.state.services
        _seed(services)
        assert services.commands is not None
        assert services.commands.dispatcher.wait_ready(10)
        with CommandDevice(broker, gate, root=topic_root, community=GS, device=GATE) as device:
            device.connect()
            form = {"username": "gs.op", "password": PASSWORD}
            token = client.post("/api/v1/auth/token", data=form).json()["access_token"]
            yield Stack(client, services, device, bearer(token))


def _seed(services: Services) -> None:
    now = utc_now()
    with services.database.write_session() as session, session.begin():
        accounts.create_user(
            session,
            username="gs.op",
            password_hash=services.passwords.hash(PASSWORD),
            roles=[Role.OPERATOR],
            communities=[GS],
            all_communities=False,
            now=now,
        )
        # A gate in the registry: a fire-lane gate to the interlocks (device_type "gate").
        session.add(
            DeviceRow(
                community=GS,
                device=GATE,
                device_type="gate",
                capabilities=["open_gate", "set_switch", "ping"],
                enabled=True,
                created_at=now,
                updated_at=now,
            )
        )


def test_opening_a_gate_walks_every_state_and_is_audited(stack: Stack) -> None:
    command = stack.post("open_gate", parameters={"hold_open_s": 3.0})
    assert command["state"] in ("queued", "sent", "delivered", "succeeded")
    done = stack.wait_state(command["id"], "succeeded")
    transitions = [e["to_state"] for e in done["timeline"] if e["kind"] == "transition"]
    assert transitions == ["queued", "sent", "delivered", "succeeded"]
    assert stack.device.executed_ids() == [command["id"]]

    def audited() -> list[str]:
        with stack.services.database.read_session() as session:
            return list(
                session.scalars(
                    select(AuditLogRow.action)
                    .where(AuditLogRow.target_id == command["id"])
                    .order_by(AuditLogRow.seq)
                )
            )

    wait_until(lambda: len(audited()) == 4, message="four audit records")
    assert audited() == ["command.create", "command.sent", "command.delivered", "command.succeeded"]


def test_an_interlock_refuses_closing_the_gate_during_a_fire(stack: Stack) -> None:
    assert stack.services.alerts.apply(signal("raise", -5, community=GS, rule="smoke"))
    refused = stack.post("set_switch", parameters={"on": False})
    assert refused["state"] == "refused"
    assert refused["error_code"] == "interlock_fire_lane_gate"
    # The sentinel: a later command reaches the device, so the refused one would have first.
    sentinel = stack.post("ping")
    stack.wait_state(sentinel["id"], "succeeded")
    assert stack.device.received_ids() == [sentinel["id"]]


def test_every_transition_reaches_the_live_stream_once(stack: Stack) -> None:
    with stack.client.websocket_connect(STREAM_PATH, headers=stack.headers) as stream:
        assert stream.receive_json()["type"] == "ready"
        command = stack.post("ping")
        states: list[str] = []
        with ThreadPoolExecutor(1) as pool:
            while "succeeded" not in states:
                # A bounded wait: a stream that stays silent fails the test, not hangs it.
                message = pool.submit(stream.receive_json).result(timeout=15)
                data = message.get("data", {})
                if message["type"] == "command_progress" and data["command_id"] == command["id"]:
                    states.append(data["state"])
        # Each once: this replica's own hand-over, and its MQTT echo dropped as not newer.
        assert states == ["queued", "sent", "delivered", "succeeded"]
