"""The agent as a process (``python -m hgj_edge run``): killed with SIGKILL and restarted, then
stopped with SIGTERM.

What is asserted about the killed run's health telemetry (told apart from the second run's by
its event time, which is before the kill), against a snapshot of the outbox file taken right
after the kill and a subscriber with a persistent session:

- nothing is lost: every ``seq`` from 1 to the highest in the outbox arrives, including the
  messages that were unacknowledged at the kill;
- nothing acknowledged is resent beyond the replay window: a message that arrives more than
  once was either unacknowledged in the file at the kill (paho may have had its PUBACK without
  the file recording it) or acknowledged within ``replay_window_s`` of the last PUBACK, which
  the restarted outbox sends again on purpose (a SIGKILLed broker forgets its last second;
  ingest overwrites the identical point).
"""

import os
import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from hgj_contracts import DEVICE_STATUS, TELEMETRY, DeviceStatus, Telemetry, utc_now
from hgj_devstack.accounts import MqttAccount, admin_account, device_account
from hgj_devstack.mosquitto import Mosquitto
from tests.helpers import MosquittoFactory, MqttTestClient, Received, wait_until

pytestmark = pytest.mark.integration

COMMUNITY = "guanbeigou"
DEVICE = "gbg-gate-east"
REPLAY_WINDOW_S = 1.0
SESSION = {"client_id": "ingest-like", "clean_start": False, "session_expiry": 3600}


@pytest.fixture
def accounts(topic_root: str) -> tuple[MqttAccount, MqttAccount]:
    return admin_account(topic_root), device_account(topic_root, COMMUNITY, DEVICE)


def write_config(tmp_path: Path, broker: Mosquitto, account: MqttAccount, root: str) -> Path:
    password_file = tmp_path / "password"
    password_file.write_text(account.password, encoding="utf-8")
    config = {
        "root": root,
        "community": COMMUNITY,
        "device": DEVICE,
        "device_type": "gate",
        "client_id": account.username,
        "broker": {
            "host": broker.host,
            "port": broker.port,
            "username": account.username,
            "password_file": str(password_file),
            "reconnect_max_s": 1,
        },
        "outbox": {"path": str(tmp_path / "agent.sqlite"), "replay_window_s": REPLAY_WINDOW_S},
        "drivers": [{"kind": "simulated_gate"}],
        "gate": {"methods": ["card", "pin"]},
        "telemetry_interval_s": 0.02,
    }
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def start_agent(config: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "hgj_edge", "run", "--config", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def outbox_rows(path: Path) -> list[tuple[bytes, float | None]]:
    if not path.exists():
        return []
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = db.execute(
            "SELECT payload, acked_at FROM messages WHERE class = 'telemetry' ORDER BY id"
        ).fetchall()
    except sqlite3.OperationalError:  # the agent is still creating the file
        return []
    finally:
        db.close()
    return [(bytes(payload), acked_at) for payload, acked_at in rows]


def retained_status(broker: Mosquitto, admin: MqttAccount, root: str) -> DeviceStatus:
    topic = DEVICE_STATUS.topic(root=root, community=COMMUNITY, device=DEVICE)
    with MqttTestClient.connected(broker, admin) as late:
        late.subscribe(topic)
        status = DEVICE_STATUS.decode(late.wait_for_topic(topic).payload)
    assert isinstance(status, DeviceStatus)
    return status


def telemetry_of(messages: list[Received]) -> list[tuple[Telemetry, bytes]]:
    out = []
    for m in messages:
        message = TELEMETRY.decode(m.payload)
        assert isinstance(message, Telemetry)
        out.append((message, m.payload))
    return out


def decode(payload: bytes) -> Telemetry:
    message = TELEMETRY.decode(payload)
    assert isinstance(message, Telemetry)
    return message


def seq_of(payload: bytes) -> int:
    return decode(payload).seq


def test_sigkill_and_restart_lose_nothing_and_resend_only_within_the_replay_window(
    mosquitto_factory: MosquittoFactory,
    accounts: tuple[MqttAccount, MqttAccount],
    topic_root: str,
    tmp_path: Path,
    processes: list[subprocess.Popen[bytes]],
) -> None:
    admin, device = accounts
    broker = mosquitto_factory([admin, device])
    telemetry = TELEMETRY.topic(root=topic_root, community=COMMUNITY, device=DEVICE)
    with MqttTestClient.connected(broker, admin, **SESSION) as subscriber:
        subscriber.subscribe(telemetry)
    config = write_config(tmp_path, broker, device, topic_root)
    outbox = tmp_path / "agent.sqlite"
    log = tmp_path / "agent.log"

    first = start_agent(config, log)
    processes.append(first)
    wait_until(
        # Long enough (2.4 s at 50 a second) for acknowledged messages older than the window.
        lambda: max((seq_of(p) for p, a in outbox_rows(outbox) if a is not None), default=0) >= 120,
        timeout=20,
        message="120 telemetry messages acknowledged",
    )
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    killed_at: datetime = utc_now()
    snapshot = outbox_rows(outbox)
    wait_until(
        lambda: retained_status(broker, admin, topic_root).state == "offline",
        message="the last will",
    )
    will = retained_status(broker, admin, topic_root)

    second = start_agent(config, log)
    processes.append(second)
    wait_until(
        lambda: retained_status(broker, admin, topic_root).reason == "startup",
        timeout=20,
        message="the restarted agent online",
    )
    backlog = {p for p, a in snapshot if a is None}
    wait_until(
        lambda: not backlog & {p for p, a in outbox_rows(outbox) if a is None},
        timeout=20,
        message="the killed run's backlog acknowledged",
    )
    wait_until(
        lambda: any(a is not None and decode(p).ts > killed_at for p, a in outbox_rows(outbox)),
        timeout=20,
        message="the restarted run's own telemetry acknowledged",
    )
    second.send_signal(signal.SIGTERM)
    assert second.wait(timeout=20) == 0, log.read_text()
    stopped = retained_status(broker, admin, topic_root)

    acked = [a for _, a in snapshot if a is not None]
    window_start = max(acked) - REPLAY_WINDOW_S
    may_repeat = {p for p, a in snapshot if a is None or a >= window_start}
    last_seq = max(seq_of(p) for p, _ in snapshot)
    with MqttTestClient.connected(broker, admin, **SESSION) as subscriber:
        wait_until(
            lambda: (
                {m.seq for m, _ in telemetry_of(subscriber.messages) if m.ts < killed_at}
                >= set(range(1, last_seq + 1))
            ),
            timeout=30,
            message="every message of the killed run",
        )
        received = telemetry_of(subscriber.messages)

    killed_run = [(m, p) for m, p in received if m.ts < killed_at]
    repeated = {p for p, n in Counter(p for _, p in killed_run).items() if n > 1}
    assert {m.seq for m, _ in killed_run} == set(range(1, last_seq + 1))
    assert repeated <= may_repeat
    beyond_window = set(range(1, last_seq + 1)) - {seq_of(p) for p in may_repeat}
    assert len(beyond_window) >= 60
    assert all(
        n == 1 for n in Counter(m.seq for m, _ in killed_run if m.seq in beyond_window).values()
    )
    restarted = list(dict.fromkeys(m.seq for m, _ in received if m.ts > killed_at))
    assert restarted == list(range(1, len(restarted) + 1))  # a new run numbers from 1
    assert restarted
    assert (will.state, will.reason) == ("offline", "connection_lost")
    assert (stopped.state, stopped.reason) == ("offline", "shutdown")
