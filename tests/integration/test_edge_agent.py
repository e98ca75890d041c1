"""The edge agent against a real Mosquitto with its own device account: remote commands
(answered, refused when expired, executed once even across a restart), its retained status,
and messages produced while the broker is down.

What each delivery test asserts, exactly:

- broker down: every health telemetry message the agent produced (its ``seq`` 1..N of one
  run) reaches a subscriber with a persistent session, and their first arrivals come in
  ``seq`` order. Duplicates are allowed: after the reconnect the outbox re-sends what was
  acknowledged within its replay window (a SIGKILLed broker may have forgotten it), which
  ingest absorbs (same event time and tags, the point is overwritten).
- the SIGKILL test (a subprocess) is in test_edge_agent_process.py.

The issue asks for a 5-minute outage; the test keeps it to a few seconds (``OUTAGE_S``): the
outbox and the session behave the same, only the backlog is smaller.
"""

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from hgj_contracts import (
    COMMAND,
    COMMAND_RESULT,
    DEVICE_STATE,
    DEVICE_STATUS,
    EVENT,
    TELEMETRY,
    CommandResult,
    DeviceState,
    DeviceStatus,
    Telemetry,
    device_tree_subscription,
    match_topic,
    utc_now,
)
from hgj_contracts.commands import OpenGateCommand
from hgj_contracts.events import GatePassageEvent
from hgj_devstack.accounts import MqttAccount, admin_account, device_account
from hgj_devstack.mosquitto import Mosquitto
from hgj_edge.agent.config import AgentConfig, parse_config
from hgj_edge.agent.drivers import SimulatedGate
from hgj_edge.agent.runtime import Agent
from tests.helpers import MosquittoFactory, MqttTestClient, Received, wait_until

pytestmark = pytest.mark.integration

COMMUNITY = "guangsha"
DEVICE = "gs-gate-north"
OUTAGE_S = 5.0


def agent_config(
    broker: Mosquitto, account: MqttAccount, root: str, outbox: Path, **extra: Any
) -> AgentConfig:
    raw: dict[str, Any] = {
        "root": root,
        "community": COMMUNITY,
        "device": DEVICE,
        "device_type": "gate",
        "client_id": account.username,
        "broker": {
            "host": broker.host,
            "port": broker.port,
            "username": account.username,
            "password": account.password,
            "reconnect_max_s": 1,
        },
        "outbox": {"path": str(outbox), "replay_window_s": 2.0},
        "drivers": [{"kind": "simulated_gate"}],
        "gate": {
            "methods": ["face", "card"],
            "credentials": [{"method": "card", "secret": "0012345678", "person_id": "r-0001"}],
        },
        "telemetry_interval_s": None,
        **extra,
    }
    return parse_config(raw)


@contextmanager
def running(config: AgentConfig) -> Iterator[Agent]:
    agent = Agent(config)
    agent.start()
    try:
        wait_until(lambda: agent.publisher.connected, message="the agent connected")
        yield agent
    finally:
        agent.shutdown()


@pytest.fixture
def accounts(topic_root: str) -> tuple[MqttAccount, MqttAccount]:
    return admin_account(topic_root), device_account(topic_root, COMMUNITY, DEVICE)


@pytest.fixture
def broker(
    mosquitto_factory: MosquittoFactory, accounts: tuple[MqttAccount, MqttAccount]
) -> Mosquitto:
    return mosquitto_factory(list(accounts))


def decoded(messages: list[Received], channel: str, *, distinct: bool = True) -> list[Any]:
    """The payloads of one channel in arrival order. ``distinct`` drops byte-identical
    repeats: the outbox's replay window re-sends acknowledged messages after a reconnect (and
    a restart), and ingest absorbs them; a device that answers again sends a new message."""
    out = []
    seen: set[bytes] = set()
    for m in messages:
        if distinct and m.payload in seen:
            continue
        seen.add(m.payload)
        match = match_topic(m.topic)
        if match.channel.name == channel:
            out.append(match.channel.decode(m.payload, match.params))
    return out


def results(messages: list[Received]) -> list[tuple[str, str, str | None]]:
    return [
        (r.command_id, r.status, r.error_code)
        for r in decoded(messages, COMMAND_RESULT.name)
        if isinstance(r, CommandResult)
    ]


def send_open_gate(
    admin_client: MqttTestClient, root: str, command_id: str, *, expired: bool = False
) -> None:
    now = utc_now()
    issued = now - timedelta(seconds=20) if expired else now
    command = OpenGateCommand(
        ts=issued,
        command_id=command_id,
        expires_at=issued + timedelta(seconds=10 if expired else 60),
    )
    topic = COMMAND.topic(root=root, community=COMMUNITY, device=DEVICE, action="open_gate")
    admin_client.publish(topic, COMMAND.encode(command))


def retained(broker: Mosquitto, admin: MqttAccount, topic: str) -> Received:
    with MqttTestClient.connected(broker, admin) as late:
        late.subscribe(topic)
        message = late.wait_for_topic(topic)
    assert message.retain
    return message


def test_a_remote_open_gate_is_accepted_then_succeeded_with_the_retained_state(
    broker: Mosquitto,
    accounts: tuple[MqttAccount, MqttAccount],
    topic_root: str,
    tmp_path: Path,
) -> None:
    admin, device = accounts
    config = agent_config(broker, device, topic_root, tmp_path / "agent.sqlite")
    with MqttTestClient.connected(broker, admin) as watcher, running(config) as agent:
        watcher.subscribe(device_tree_subscription(topic_root))
        send_open_gate(watcher, topic_root, "c-open-1")
        wait_until(lambda: len(results(watcher.messages)) >= 2, message="two answers")
        wait_until(lambda: bool(decoded(watcher.messages, DEVICE_STATE.name)), message="the state")
        messages = watcher.messages
        gate = agent.drivers[0]
        assert isinstance(gate, SimulatedGate)
        openings = list(gate.openings)

    assert results(messages) == [("c-open-1", "accepted", None), ("c-open-1", "succeeded", None)]
    [passage] = [e for e in decoded(messages, EVENT.name) if isinstance(e, GatePassageEvent)]
    assert (passage.method, passage.granted, passage.command_id) == ("remote", True, "c-open-1")
    assert openings == [5.0]
    state_topic = DEVICE_STATE.topic(root=topic_root, community=COMMUNITY, device=DEVICE)
    state = DEVICE_STATE.decode(retained(broker, admin, state_topic).payload)
    assert isinstance(state, DeviceState)
    assert (state.state["gate"], state.command_id) == ("open", "c-open-1")


def test_an_expired_command_is_answered_expired_and_the_gate_stays_shut(
    broker: Mosquitto,
    accounts: tuple[MqttAccount, MqttAccount],
    topic_root: str,
    tmp_path: Path,
) -> None:
    admin, device = accounts
    config = agent_config(broker, device, topic_root, tmp_path / "agent.sqlite")
    with MqttTestClient.connected(broker, admin) as watcher, running(config) as agent:
        watcher.subscribe(device_tree_subscription(topic_root))
        send_open_gate(watcher, topic_root, "c-late", expired=True)
        send_open_gate(watcher, topic_root, "c-sentinel")  # answered after the expired one
        wait_until(
            lambda: ("c-sentinel", "succeeded", None) in results(watcher.messages),
            message="the sentinel's outcome",
        )
        gate = agent.drivers[0]
        assert isinstance(gate, SimulatedGate)
        openings = list(gate.openings)

    assert [r for r in results(watcher.messages) if r[0] == "c-late"] == [
        ("c-late", "expired", "expired")
    ]
    assert openings == [5.0]  # the sentinel's only


def test_a_replayed_command_id_is_executed_once_even_across_a_restart(
    broker: Mosquitto,
    accounts: tuple[MqttAccount, MqttAccount],
    topic_root: str,
    tmp_path: Path,
) -> None:
    admin, device = accounts
    config = agent_config(broker, device, topic_root, tmp_path / "agent.sqlite")
    with MqttTestClient.connected(broker, admin) as watcher:
        watcher.subscribe(device_tree_subscription(topic_root))
        with running(config) as first:
            send_open_gate(watcher, topic_root, "c-once")
            send_open_gate(watcher, topic_root, "c-once")  # QoS 1 delivered twice
            wait_until(lambda: len(results(watcher.messages)) >= 3, message="three answers")
            gate = first.drivers[0]
            assert isinstance(gate, SimulatedGate)
            first_openings = list(gate.openings)
        with running(config) as second:  # a new process would start just like this
            send_open_gate(watcher, topic_root, "c-once")
            wait_until(lambda: len(results(watcher.messages)) >= 4, message="a fourth answer")
            gate = second.drivers[0]
            assert isinstance(gate, SimulatedGate)
            second_openings = list(gate.openings)
        messages = watcher.messages

    assert results(messages) == [
        ("c-once", "accepted", None),
        ("c-once", "succeeded", None),
        ("c-once", "succeeded", None),
        ("c-once", "succeeded", None),
    ]
    assert (first_openings, second_openings) == ([5.0], [])
    assert len(decoded(messages, DEVICE_STATE.name)) == 1
    assert len(decoded(messages, EVENT.name)) == 1


def test_status_is_online_with_a_will_and_offline_shutdown_after_a_clean_stop(
    broker: Mosquitto,
    accounts: tuple[MqttAccount, MqttAccount],
    topic_root: str,
    tmp_path: Path,
) -> None:
    admin, device = accounts
    config = agent_config(broker, device, topic_root, tmp_path / "agent.sqlite")
    topic = DEVICE_STATUS.topic(root=topic_root, community=COMMUNITY, device=DEVICE)
    with running(config) as agent:
        assert agent.publisher.flush(timeout=10)
        online = DEVICE_STATUS.decode(retained(broker, admin, topic).payload)
    offline = DEVICE_STATUS.decode(retained(broker, admin, topic).payload)

    assert isinstance(online, DeviceStatus)
    assert isinstance(offline, DeviceStatus)
    assert (online.state, online.reason, online.seq, online.device_type) == (
        "online",
        "startup",
        1,
        "gate",
    )
    # seq 2 is the will reserved with the first CONNECT; 3 and 4 the next connection's pair.
    assert (offline.state, offline.reason, offline.seq) == ("offline", "shutdown", 5)


def test_the_broker_down_while_the_agent_produces_loses_nothing_and_keeps_order(
    broker: Mosquitto,
    accounts: tuple[MqttAccount, MqttAccount],
    topic_root: str,
    tmp_path: Path,
) -> None:
    admin, device = accounts
    telemetry = TELEMETRY.topic(root=topic_root, community=COMMUNITY, device=DEVICE)
    session = {"client_id": "ingest-like", "clean_start": False, "session_expiry": 3600}
    with MqttTestClient.connected(broker, admin, **session) as subscriber:
        subscriber.subscribe(telemetry)  # then away: the broker queues for the session
    config = agent_config(
        broker, device, topic_root, tmp_path / "agent.sqlite", telemetry_interval_s=0.05
    )
    agent = Agent(config)
    agent.start()
    producing = threading.Thread(target=agent.run, daemon=True)  # run() shuts down at stop()
    producing.start()
    try:
        wait_until(lambda: agent.publisher.stats().acked >= 20, message="20 acknowledged")
        broker.stop()
        time.sleep(OUTAGE_S)
        during = agent.outbox.unacked_count()
        broker.start()
        wait_until(lambda: agent.publisher.stats().connects >= 2, message="reconnected")
        time.sleep(0.5)
    finally:
        agent.stop()
        producing.join(timeout=20)
    # The newest messages are still in the outbox (kept for the replay window).
    last_seq = max(t.seq for t in outbox_telemetry(tmp_path / "agent.sqlite"))
    expected = set(range(1, last_seq + 1))

    with MqttTestClient.connected(broker, admin, **session) as subscriber:
        wait_until(
            lambda: {t.seq for t in decoded(subscriber.messages, TELEMETRY.name)} >= expected,
            timeout=30,
            message="every telemetry message",
        )
        received = [t.seq for t in decoded(subscriber.messages, TELEMETRY.name, distinct=False)]

    first_arrivals = list(dict.fromkeys(received))
    assert first_arrivals == sorted(first_arrivals)
    assert set(received) == expected
    assert not producing.is_alive()
    assert during >= OUTAGE_S / 0.05 / 2  # the agent went on producing into its outbox


def outbox_telemetry(path: Path) -> list[Telemetry]:
    db = sqlite3.connect(path)
    try:
        rows = db.execute("SELECT payload FROM messages WHERE class = 'telemetry'").fetchall()
    finally:
        db.close()
    out = [TELEMETRY.decode(bytes(r[0])) for r in rows]
    return [t for t in out if isinstance(t, Telemetry)]
