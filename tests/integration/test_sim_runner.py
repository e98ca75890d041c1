"""The simulator against a real Mosquitto: presence, counted telemetry, goodbye and last will.

Each test subscribes as admin and checks what the broker delivered, decoded through the
contract. Nothing is timed: the tests poll for messages with generous timeouts.
"""

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from hgj_contracts import DEVICE_STATUS, EVENT, TELEMETRY, DeviceStatus, Telemetry, match_topic
from hgj_devstack.accounts import MqttAccount, admin_account, device_account
from hgj_devstack.mosquitto import Mosquitto
from hgj_sim.model import Community, load_community
from hgj_sim.runner import Backoff, BrokerAddress, SimStats, run_community
from hgj_sim.scenario import PreparedScenario, load_scenario, play_scenario
from tests.helpers import MosquittoFactory, MqttTestClient, Received, wait_until

pytestmark = pytest.mark.integration

COUNT = 3
INTERVAL_S = 0.05
TIMEOUT = 30.0

# One building, two entrances, two floors: a climate sensor, two smoke detectors, a leak probe
# and two door contacts.
TINY_COMMUNITY = {
    "id": "tiny",
    "name_zh": "测试小区",
    "name_en": "Test Community",
    "device_prefix": "tc",
    "buildings": [{"number": 1, "units": 2, "floors": 2}],
}


@pytest.fixture
def community_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY_COMMUNITY, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture
def community(community_file: Path) -> Community:
    return load_community(community_file)


@pytest.fixture
def root(topic_root: str) -> str:
    return topic_root


@pytest.fixture
def accounts(root: str, community: Community) -> dict[str, MqttAccount]:
    made = (device_account(root, community.id, d.id) for d in community.devices)
    return {a.username: a for a in made}


@pytest.fixture
def admin(root: str) -> MqttAccount:
    return admin_account(root)


@pytest.fixture
def broker(
    mosquitto_factory: MosquittoFactory,
    admin: MqttAccount,
    accounts: dict[str, MqttAccount],
) -> Mosquitto:
    return mosquitto_factory([admin, *accounts.values()])


@pytest.fixture
def credentials(accounts: dict[str, MqttAccount]) -> dict[str, str]:
    return {name: a.password for name, a in accounts.items()}


@pytest.fixture
def watcher(
    broker: Mosquitto, admin: MqttAccount, root: str, community: Community
) -> Iterator[MqttTestClient]:
    """An admin subscribed to the community's status and telemetry before any device starts."""
    with MqttTestClient.connected(broker, admin) as client:
        _subscribe(client, root, community)
        yield client


def _subscribe(client: MqttTestClient, root: str, community: Community) -> None:
    for channel in (DEVICE_STATUS, TELEMETRY):
        client.subscribe(channel.subscription(root=root, community=community.id))


def _device_of(message: Received) -> str:
    return match_topic(message.topic).params["device"]


def _statuses(messages: list[Received]) -> dict[str, list[DeviceStatus]]:
    found: dict[str, list[DeviceStatus]] = {}
    for m in messages:
        if match_topic(m.topic).channel is DEVICE_STATUS:
            found.setdefault(_device_of(m), []).append(DEVICE_STATUS.decode(m.payload))
    return found


def _telemetry(messages: list[Received]) -> dict[str, list[Telemetry]]:
    found: dict[str, list[Telemetry]] = {}
    for m in messages:
        if match_topic(m.topic).channel is TELEMETRY:
            found.setdefault(_device_of(m), []).append(TELEMETRY.decode(m.payload))
    return found


def _retained_statuses(
    broker: Mosquitto, admin: MqttAccount, root: str, community: Community
) -> dict[str, tuple[DeviceStatus, bool]]:
    """What a subscriber arriving now is told: each device's retained status and retain flag."""
    with MqttTestClient.connected(broker, admin) as late:
        late.subscribe(DEVICE_STATUS.subscription(root=root, community=community.id))
        late.wait_for_messages(len(community.devices), TIMEOUT)
        return {_device_of(m): (DEVICE_STATUS.decode(m.payload), m.retain) for m in late.messages}


def _states(statuses: dict[str, list[DeviceStatus]]) -> dict[str, list[tuple[Any, Any]]]:
    return {d: [(s.state, s.reason) for s in seq] for d, seq in statuses.items()}


def test_devices_announce_report_exactly_count_and_say_goodbye(
    broker: Mosquitto,
    admin: MqttAccount,
    root: str,
    community: Community,
    credentials: dict[str, str],
    watcher: MqttTestClient,
) -> None:
    stats = SimStats()
    address = BrokerAddress(broker.host, broker.port)

    async def simulate() -> None:
        await run_community(
            community,
            address,
            root,
            credentials,
            interval_s=INTERVAL_S,
            count=COUNT,
            stop=asyncio.Event(),
            stats=stats,
        )

    asyncio.run(asyncio.wait_for(simulate(), TIMEOUT))

    devices = {d.id: d for d in community.devices}
    # Each device's goodbye is its last message, so once all are in, nothing else is coming.
    wait_until(
        lambda: (
            _states(_statuses(watcher.messages))
            == {d: [("online", "startup"), ("offline", "shutdown")] for d in devices}
        ),
        TIMEOUT,
        message="online then shutdown status from every device",
    )
    statuses = _statuses(watcher.messages)
    telemetry = _telemetry(watcher.messages)
    assert {d: [t.seq for t in readings] for d, readings in telemetry.items()} == {
        d: list(range(1, COUNT + 1)) for d in devices
    }
    for device_id, (online, offline) in statuses.items():
        assert online.device_type == devices[device_id].device_type
        assert online.report_interval_s == INTERVAL_S
        assert online.seq < offline.seq
    # One publisher's messages arrive in the order it sent them.
    order = [(_device_of(m), match_topic(m.topic).channel.name) for m in watcher.messages]
    for device_id in devices:
        mine = [name for d, name in order if d == device_id]
        assert mine == ["device_status", *["telemetry"] * COUNT, "device_status"]

    retained = _retained_statuses(broker, admin, root, community)
    assert {d: (s.state, s.reason, flag) for d, (s, flag) in retained.items()} == {
        d: ("offline", "shutdown", True) for d in devices
    }
    assert (stats.devices, stats.sent, stats.errors, stats.connected, stats.finished) == (
        len(devices),
        COUNT * len(devices),
        0,
        0,
        len(devices),
    )


def test_retained_online_while_running_and_last_will_when_the_process_dies(
    broker: Mosquitto,
    admin: MqttAccount,
    root: str,
    community: Community,
    community_file: Path,
    credentials: dict[str, str],
    watcher: MqttTestClient,
    tmp_path: Path,
) -> None:
    """SIGKILL closes every socket without DISCONNECT, as a power cut would."""
    credentials_file = tmp_path / "credentials.json"
    credentials_file.write_text(json.dumps(credentials), encoding="utf-8")
    command = [
        sys.executable,
        "-m",
        "hgj_sim",
        "run",
        "--community",
        str(community_file),
        "--host",
        broker.host,
        "--port",
        str(broker.port),
        "--root",
        root,
        "--credentials",
        str(credentials_file),
        "--interval",
        "0.2",
        "--quiet",
    ]
    devices = {d.id for d in community.devices}
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) as simulator:
        try:
            wait_until(
                lambda: set(_telemetry(watcher.messages)) == devices,
                TIMEOUT,
                message="telemetry from every device",
            )
            retained = _retained_statuses(broker, admin, root, community)
            assert {d: (s.state, s.reason, flag) for d, (s, flag) in retained.items()} == {
                d: ("online", "startup", True) for d in devices
            }
        finally:
            simulator.kill()
            output = simulator.communicate()[0].decode(errors="replace")

    def wills() -> dict[str, DeviceStatus]:
        return {
            d: s[-1]
            for d, s in _statuses(watcher.messages).items()
            if s[-1].reason == "connection_lost"
        }

    wait_until(lambda: set(wills()) == devices, TIMEOUT, message=f"every last will\n{output}")
    for device_id, will in wills().items():
        online = _statuses(watcher.messages)[device_id][0]
        assert (will.state, will.device_type) == ("offline", online.device_type)
        assert will.seq > online.seq  # the will outranks the online status it follows
    retained = _retained_statuses(broker, admin, root, community)
    assert {d: (s.state, s.reason, flag) for d, (s, flag) in retained.items()} == {
        d: ("offline", "connection_lost", True) for d in devices
    }


def test_devices_come_back_after_a_broker_restart(
    broker: Mosquitto,
    admin: MqttAccount,
    root: str,
    community: Community,
    credentials: dict[str, str],
    watcher: MqttTestClient,
) -> None:
    stats = SimStats()
    address = BrokerAddress(broker.host, broker.port)
    devices = {d.id for d in community.devices}

    async def simulate() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(
            run_community(
                community,
                address,
                root,
                credentials,
                interval_s=INTERVAL_S,
                stop=stop,
                stats=stats,
                backoff=Backoff(initial_s=0.1, maximum_s=0.5),
            )
        )
        try:
            await asyncio.to_thread(
                wait_until,
                lambda: set(_telemetry(watcher.messages)) == devices,
                TIMEOUT,
                message="telemetry before the restart",
            )
            before = {d: r[-1].seq for d, r in _telemetry(watcher.messages).items()}
            watcher.close()  # it would not survive the restart
            await asyncio.to_thread(broker.restart)
            with MqttTestClient.connected(broker, admin) as after:
                _subscribe(after, root, community)

                def resumed() -> bool:
                    seen = _telemetry(after.messages)
                    return set(seen) == devices and all(
                        r[-1].seq > before[d] for d, r in seen.items()
                    )

                await asyncio.to_thread(
                    wait_until, resumed, TIMEOUT, message="telemetry after the restart"
                )
                statuses = _statuses(after.messages)
        finally:
            stop.set()
            await task
        # Whether the new subscriber caught it live or retained, each device's latest status
        # is the online status of a later session (session 1 used seqs 1-3), which says it is
        # a reconnect rather than a restart of the device.
        assert {d: (s[-1].state, s[-1].reason, s[-1].seq > 3) for d, s in statuses.items()} == {
            d: ("online", "reconnect", True) for d in devices
        }
        assert stats.lost + stats.connect_failures >= 1
        assert stats.connects >= 2 * len(devices)

    asyncio.run(asyncio.wait_for(simulate(), 2 * TIMEOUT))
    retained = _retained_statuses(broker, admin, root, community)
    assert {d: (s.state, s.reason) for d, (s, _flag) in retained.items()} == {
        d: ("offline", "shutdown") for d in devices
    }


def test_a_flap_publishes_the_will_and_what_happened_meanwhile_follows_the_reconnect(
    broker: Mosquitto,
    root: str,
    community: Community,
    credentials: dict[str, str],
    watcher: MqttTestClient,
    tmp_path: Path,
) -> None:
    scenario_file = tmp_path / "flap.yaml"
    scenario_file.write_text(
        yaml.safe_dump(
            {
                "id": "flap",
                "title_zh": "断网",
                "title_en": "A flap",
                "community": community.id,
                "duration": 30,
                "cast": {"probe": {"type": "water_leak"}},
                "timeline": [
                    {"at": 10, "device": "probe", "link": "down"},
                    {"at": 15, "device": "probe", "event": {"kind": "tamper", "active": True}},
                    {"at": 20, "device": "probe", "link": "up"},
                ],
            }
        ),
        encoding="utf-8",
    )
    run = PreparedScenario.prepare(load_scenario(scenario_file), community, speed=30)
    probe = run.cast["probe"][0].id
    watcher.subscribe(EVENT.subscription(root=root, community=community.id))
    stats = SimStats()
    play = play_scenario(
        run,
        BrokerAddress(broker.host, broker.port),
        root,
        credentials,
        stop=asyncio.Event(),
        stats=stats,
        cast_only=True,
    )
    asyncio.run(asyncio.wait_for(play, TIMEOUT))

    wait_until(
        lambda: len(_statuses(watcher.messages).get(probe, [])) == 4,
        TIMEOUT,
        message="four statuses",
    )
    order = [
        (s.state, s.reason) if (s := _status_or_none(m)) else match_topic(m.topic).channel.name
        for m in watcher.messages
        if _device_of(m) == probe and match_topic(m.topic).channel is not TELEMETRY
    ]
    assert order == [
        ("online", "startup"),
        ("offline", "connection_lost"),  # the broker's will
        ("online", "reconnect"),
        "event",  # kept while offline, sent once back, with the time it happened
        ("offline", "shutdown"),
    ]
    tamper = next(EVENT.decode(m.payload) for m in watcher.messages if "/event/" in m.topic)
    assert tamper.ts == run.origin + timedelta(seconds=15)


def test_faults_flap_devices_and_they_come_back(
    broker: Mosquitto,
    root: str,
    community_file: Path,
    credentials: dict[str, str],
    watcher: MqttTestClient,
    tmp_path: Path,
) -> None:
    """`run --faults` at a high speed: within a second every device has lost its link at least
    once (its will published) and reconnected."""
    data = yaml.safe_load(community_file.read_text(encoding="utf-8"))
    data["faults"] = {"flaps_per_day": 1000, "offline_periods_per_day": 0, "flap_seconds": [5, 20]}
    flaky = load_community(_write_yaml(tmp_path / "flaky.yaml", data))
    devices = {d.id for d in flaky.devices}
    stats = SimStats()

    async def simulate() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(
            run_community(
                flaky,
                BrokerAddress(broker.host, broker.port),
                root,
                credentials,
                speed=1000,
                stop=stop,
                stats=stats,
                faults=True,
                backoff=Backoff(initial_s=0.05, maximum_s=0.1),
            )
        )

        def flapped() -> bool:
            reasons = {d: {s.reason for s in seq} for d, seq in _statuses(watcher.messages).items()}
            return all({"connection_lost", "reconnect"} <= reasons.get(d, set()) for d in devices)

        try:
            await asyncio.to_thread(wait_until, flapped, TIMEOUT, message="a flap of every device")
        finally:
            stop.set()
            await task

    asyncio.run(asyncio.wait_for(simulate(), 2 * TIMEOUT))
    assert stats.connects > len(devices)


def _write_yaml(path: Path, data: object) -> Path:
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _status_or_none(message: Received) -> DeviceStatus | None:
    if match_topic(message.topic).channel is DEVICE_STATUS:
        return DEVICE_STATUS.decode(message.payload)
    return None
