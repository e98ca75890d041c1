"""The agent's session with a fake paho client: what it subscribes to, how presence is
numbered across connections (each will just after its own online status), that a failing
message handler cannot end paho's loop, and that a local opening republishes the state."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from hgj_contracts import COMMAND, DEVICE_STATUS, DeviceState, DeviceStatus, match_topic
from hgj_edge import publisher as publisher_module
from hgj_edge.agent.config import AgentConfig, parse_config
from hgj_edge.agent.runtime import Agent
from tests.edge_agent_support import IDS


class FakeSessionClient:
    """Stands in for paho: records subscriptions and wills; the test plays the broker."""

    def __init__(self) -> None:
        self.subscribed: list[str] = []
        self.wills: list[bytes] = []
        self.on_connect: Any = None
        self.on_disconnect: Any = None
        self.on_publish: Any = None
        self.on_message: Any = None

    def subscribe(self, topic: str, qos: int) -> tuple[int, int]:
        self.subscribed.append(topic)
        return (0, 1)

    def will_set(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        assert (topic, qos, retain) == (DEVICE_STATUS.topic(**IDS), 1, True)
        self.wills.append(payload)

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> mqtt.MQTTMessageInfo:
        info = mqtt.MQTTMessageInfo(1)
        info.rc = mqtt.MQTT_ERR_NO_CONN
        return info

    def connect_async(self, *args: object, **kwargs: object) -> None:
        pass

    def loop_start(self) -> None:
        pass

    def disconnect(self) -> None:
        pass

    def loop_stop(self) -> None:
        pass

    def _reset_sockets(self) -> None:
        pass

    def connack(self) -> None:
        success = ReasonCode(PacketTypes.CONNACK, identifier=0)
        self.on_connect(self, None, mqtt.ConnectFlags(session_present=True), success, None)

    def deliver(self, topic: str, payload: bytes) -> None:
        message = mqtt.MQTTMessage(topic=topic.encode())
        message.payload = payload
        self.on_message(self, None, message)


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> FakeSessionClient:
    fake = FakeSessionClient()
    monkeypatch.setattr(publisher_module, "make_client", lambda settings, will: fake)
    return fake


def config(tmp_path: Path) -> AgentConfig:
    return parse_config(
        {
            **IDS,
            "device_type": "gate",
            "broker": {"host": "127.0.0.1"},
            "outbox": {"path": str(tmp_path / "agent.sqlite")},
            "drivers": [{"kind": "simulated_gate"}],
            "gate": {
                "methods": ["card"],
                "credentials": [{"method": "card", "secret": "12345678", "person_id": "r-1"}],
            },
            "telemetry_interval_s": None,
        }
    )


@pytest.fixture
def agent(tmp_path: Path, client: FakeSessionClient) -> Iterator[Agent]:
    running = Agent(config(tmp_path))
    running.start()
    yield running
    running.publisher.close()
    running.command_log.close()
    running.outbox.close()


def queued(agent: Agent) -> list[Any]:
    out = []
    for row in agent.outbox.next_unsent(1000):
        match = match_topic(row.topic)
        out.append(match.channel.decode(row.payload, match.params))
    return out


def statuses(agent: Agent) -> list[tuple[str, str | None, int]]:
    return [(s.state, s.reason, s.seq) for s in queued(agent) if isinstance(s, DeviceStatus)]


def will_seqs(client: FakeSessionClient) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    for payload in client.wills:
        will = DEVICE_STATUS.decode(payload)
        assert isinstance(will, DeviceStatus)
        assert will.reason == "connection_lost"
        out.append((will.state, will.seq))
    return out


def test_each_connection_announces_itself_and_its_will_follows_its_online_status(
    agent: Agent, client: FakeSessionClient
) -> None:
    assert will_seqs(client) == [("offline", 2)]  # set before the first CONNECT
    client.connack()
    client.connack()  # a reconnect

    assert statuses(agent) == [("online", "startup", 1), ("online", "reconnect", 3)]
    assert will_seqs(client) == [("offline", 2), ("offline", 4), ("offline", 6)]
    assert client.subscribed == [COMMAND.subscription(**IDS)] * 2


def test_a_handler_that_raises_does_not_escape_into_paho(
    agent: Agent, client: FakeSessionClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(action: str, payload: bytes) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(agent.commands, "handle", explode)
    topic = COMMAND.topic(action="ping", **IDS)

    client.deliver(topic, b"{}")  # must not raise

    assert queued(agent) == []


def test_a_local_opening_republishes_the_retained_state(agent: Agent) -> None:
    assert agent.gate is not None
    assert agent.gate.present_credential("card", "12345678").granted

    [state] = [s for s in queued(agent) if isinstance(s, DeviceState)]
    assert (state.state, state.command_id) == ({"gate": "open", "openings": 1}, None)
