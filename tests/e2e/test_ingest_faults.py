"""Fault tests with a count oracle: the broker, InfluxDB or an ingest worker fails mid-stream.

Devices publish telemetry with seq 1..N through an edge outbox (``EdgeOutbox``): it keeps each
QoS 1 message until the broker acknowledges it and sends everything unacknowledged again after
a reconnect, as a real edge outbox does. A smoke detector also reports smoke once in the middle
of the stream. Afterwards the test reconciles InfluxDB (exactly one point per (device, seq), N
per device) and the alert store (exactly one smoke alert, raised once). Duplicates are allowed
on the wire; ingest must absorb them.

Figures (lost before re-send, duplicates received) are recorded with ``record_property`` and
printed, so ``pytest -s`` shows them.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from pydantic import SecretStr

from hgj_contracts import ALERT, EVENT, SERVICE_STATUS, TELEMETRY, utc_now
from hgj_contracts.events import SmokeEvent
from hgj_devstack.accounts import MqttAccount, service_account
from hgj_devstack.influx import INFLUXD_BINARY, InfluxDB
from hgj_devstack.mosquitto import Mosquitto
from hgj_devstack.ports import free_port
from hgj_ingest.service import IngestService
from hgj_ingest.settings import IngestSettings, settings_to_env
from hgj_sim.behaviour import DeviceBehaviour
from hgj_sim.inventory import SimDevice
from hgj_statedb.alert_store import AlertStore
from tests.helpers import MosquittoFactory, MqttTestClient, unique_id, wait_until
from tests.ingest_stack import Slice, ingest_slice, pick_devices

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

COMMUNITY = "guangsha"
PER_DEVICE = 400
INTERVAL_S = 0.004
"""Pause between one device's publishes: four devices at ~250 msg/s each, a stream of ~2 s,
long enough to fail something in the middle of it."""
WINDOW = 50
"""Unacknowledged messages an outbox lets out at once (a modest in-flight window)."""
SETTLE_TIMEOUT = 60.0

RecordProperty = Callable[[str, object], None]
"""pytest's ``record_property`` fixture."""


# The edge outbox ---------------------------------------------------------------------------


class EdgeOutbox:
    """One device's publisher: QoS 1, a persistent MQTT 5 session, automatic reconnect.

    Each message stays in the outbox until PUBACKed. After every reconnect, everything sent
    and not yet PUBACKed is sent again (paho re-sends its own in-flight messages as well:
    duplicates are expected). ``resend`` sends chosen messages again even though they were
    PUBACKed: the durable-outbox policy of the SIGKILL test.
    """

    def __init__(
        self,
        broker: Mosquitto,
        account: MqttAccount,
        messages: list[tuple[str, bytes]],
        interval_s: float = INTERVAL_S,
    ) -> None:
        self._messages = messages
        self._interval_s = interval_s
        self.acked_at: dict[int, float] = {}
        """Index of a message → monotonic time of its first PUBACK."""
        self._mids: dict[int, int] = {}
        self._lock = threading.Lock()
        self._connected = threading.Event()
        self._generation = 0
        self._next = 0
        self._resend: list[int] = []
        self._stop = threading.Event()
        self.sends = 0
        self._client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=unique_id("edge-"),
            protocol=mqtt.MQTTv5,
        )
        self._client.username_pw_set(account.username, account.password)
        self._client.reconnect_delay_set(min_delay=1, max_delay=1)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_publish = self._on_publish
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = 3600
        self._client.connect_async(
            broker.host, broker.port, keepalive=30, clean_start=False, properties=properties
        )
        self._thread = threading.Thread(target=self._run, name="edge-outbox", daemon=True)

    @property
    def sent(self) -> int:
        """Messages handed to MQTT at least once."""
        return self._next

    @property
    def done(self) -> bool:
        with self._lock:
            return self._next == len(self._messages) and len(self.acked_at) == self._next

    def start(self) -> None:
        self._client.loop_start()
        self._thread.start()

    def resend(self, indexes: list[int]) -> None:
        with self._lock:
            self._resend.extend(indexes)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._client.disconnect()
        self._client.loop_stop()
        self._client._reset_sockets()  # see MqttTestClient.close

    def _run(self) -> None:
        seen_generation = 0
        while not self._stop.is_set():
            if not self._connected.wait(0.05):
                continue
            with self._lock:
                if self._generation != seen_generation:
                    if seen_generation:  # a reconnect: send again what is unconfirmed
                        self._resend.extend(i for i in range(self._next) if i not in self.acked_at)
                    seen_generation = self._generation
                resend, self._resend = self._resend, []
                in_flight = self._next - len(self.acked_at)
            for index in resend:
                self._publish(index)
            if self._next < len(self._messages) and in_flight < WINDOW:
                self._publish(self._next)
                self._next += 1
                time.sleep(self._interval_s)
            else:
                time.sleep(0.01)

    def _publish(self, index: int) -> None:
        topic, payload = self._messages[index]
        info = self._client.publish(topic, payload, qos=1)
        with self._lock:
            self._mids[info.mid] = index
            self.sends += 1

    def _on_connect(
        self,
        _c: mqtt.Client,
        _u: object,
        _f: mqtt.ConnectFlags,
        reason: ReasonCode,
        _p: Properties | None,
    ) -> None:
        if reason.is_failure:
            return
        with self._lock:
            self._generation += 1
        self._connected.set()

    def _on_disconnect(
        self,
        _c: mqtt.Client,
        _u: object,
        _f: mqtt.DisconnectFlags,
        _r: ReasonCode,
        _p: Properties | None,
    ) -> None:
        self._connected.clear()

    def _on_publish(
        self, _c: mqtt.Client, _u: object, mid: int, reason: ReasonCode, _p: Properties | None
    ) -> None:
        if reason.is_failure:
            return
        with self._lock:
            index = self._mids.pop(mid, None)
            if index is not None and index not in self.acked_at:
                self.acked_at[index] = time.monotonic()


# The stream and its oracle ------------------------------------------------------------------


@dataclass
class Stream:
    outboxes: dict[str, EdgeOutbox]
    smoke_device: str

    @property
    def sent(self) -> int:
        return sum(o.sent for o in self.outboxes.values())

    @property
    def sends(self) -> int:
        return sum(o.sends for o in self.outboxes.values())

    def wait_sent(self, fraction: float) -> None:
        """Until every device handed this share of its stream to MQTT."""
        self.wait_each_sent(int(PER_DEVICE * fraction))

    def wait_each_sent(self, count: int) -> None:
        wait_until(
            lambda: all(o.sent >= count for o in self.outboxes.values()),
            timeout=SETTLE_TIMEOUT,
            message=f"{count} messages sent by each device",
        )

    def wait_done(self) -> None:
        wait_until(
            lambda: all(o.done for o in self.outboxes.values()),
            timeout=SETTLE_TIMEOUT,
            message="every message PUBACKed",
        )


def device_messages(root: str, device: SimDevice, smoke: bool) -> list[tuple[str, bytes]]:
    """Telemetry seq 1..N (event times in the past, one second apart); a smoke detector also
    reports smoke half way through (seq N+1: it is not part of the telemetry count)."""
    start = utc_now() - timedelta(seconds=PER_DEVICE + 60)
    behaviour = DeviceBehaviour(device, seed=1)
    topic = TELEMETRY.topic(root=root, community=COMMUNITY, device=device.id)
    messages = [
        (topic, TELEMETRY.encode(behaviour.next_telemetry(start + timedelta(seconds=i))))
        for i in range(PER_DEVICE)
    ]
    if smoke:
        event = SmokeEvent(ts=utc_now(), seq=PER_DEVICE + 1, active=True, location="5F stairwell")
        event_topic = EVENT.topic(root=root, community=COMMUNITY, device=device.id, kind="smoke")
        messages.insert(PER_DEVICE // 2, (event_topic, EVENT.encode(event)))
    return messages


@contextmanager
def device_stream(stack: Slice, interval_s: float = INTERVAL_S) -> Iterator[Stream]:
    smoke_device = next(d.id for d, _ in stack.devices.values() if "smoke" in d.device_type)
    outboxes = {
        device.id: EdgeOutbox(
            stack.broker,
            account,
            device_messages(stack.root, device, smoke=device.id == smoke_device),
            interval_s,
        )
        for device, account in stack.devices.values()
    }
    for outbox in outboxes.values():
        outbox.start()
    try:
        yield Stream(outboxes, smoke_device)
    finally:
        for outbox in outboxes.values():
            outbox.close()


def stored_seqs(influx: InfluxDB, db: str, device: str) -> list[int]:
    answer = influx.query(
        'SELECT "seq" FROM "telemetry" WHERE "device" = $device', db=db, params={"device": device}
    )
    series = answer["results"][0].get("series", [])
    return sorted(int(row[1]) for row in series[0]["values"]) if series else []


def missing_points(stack: Slice, influx: InfluxDB, db: str) -> dict[str, set[int]]:
    expected = set(range(1, PER_DEVICE + 1))
    return {d: expected - set(stored_seqs(influx, db, d)) for d in stack.devices}


def assert_exactly_once(stack: Slice, influx: InfluxDB, db: str) -> None:
    """Every (device, seq) stored exactly once: nothing lost, duplicates absorbed."""

    def complete() -> bool:
        return not any(missing_points(stack, influx, db).values())

    wait_until(complete, timeout=SETTLE_TIMEOUT, interval=0.2, message="every point stored")
    for device_id in stack.devices:
        assert stored_seqs(influx, db, device_id) == list(range(1, PER_DEVICE + 1)), device_id


def assert_one_smoke_alert(stack: Slice, device: str) -> None:
    """Exactly one smoke alert for the detector, raised once however often it was delivered."""

    def smoke_alerts() -> int:
        store = AlertStore.open(stack.settings.state_db_url, run_migrations=False)
        try:
            return len([a for a in store.list_alerts(device=device) if a.rule == "smoke"])
        finally:
            store.close()

    wait_until(lambda: smoke_alerts() >= 1, timeout=SETTLE_TIMEOUT, message="smoke alert stored")
    store = AlertStore.open(stack.settings.state_db_url, run_migrations=False)
    try:
        alerts = [a for a in store.list_alerts(device=device) if a.rule == "smoke"]
        assert len(alerts) == 1, alerts
        assert alerts[0].state == "active"
        assert [e.kind for e in store.timeline(alerts[0].alert_id)] == ["raised"]
    finally:
        store.close()


def report(record: RecordProperty, **figures: object) -> None:
    for name, value in figures.items():
        record(name, value)
    print(" ".join(f"{k}={v}" for k, v in figures.items()))


@pytest.fixture
def devices() -> list[SimDevice]:
    return pick_devices(COMMUNITY, "temp_humidity", 3) + pick_devices(
        COMMUNITY, "smoke_detector", 1
    )


# 1. Mosquitto stopped with SIGTERM ----------------------------------------------------------


def test_broker_sigterm_mid_stream_loses_nothing(
    mosquitto_factory: MosquittoFactory,
    influxdb: InfluxDB,
    influx_db: str,
    topic_root: str,
    devices: list[SimDevice],
    record_property: RecordProperty,
) -> None:
    """SIGTERM saves the broker's whole state on the way out: after the restart the queued
    messages reach ingest, the outboxes send what was not PUBACKed, and nothing is lost."""
    with ingest_slice(mosquitto_factory, influxdb, influx_db, topic_root, devices) as stack:
        service = stack.ingest()
        try:
            with device_stream(stack) as stream:
                stream.wait_sent(0.4)
                stack.broker.stop()
                sent_before_stop = stream.sent
                stack.broker.start()
                stream.wait_done()
                assert_exactly_once(stack, influxdb, influx_db)
                assert_one_smoke_alert(stack, stream.smoke_device)
                report(
                    record_property,
                    sent_before_stop=sent_before_stop,
                    publishes=stream.sends,
                    ingest_received=service.counters.get("received"),
                    expected=len(devices) * PER_DEVICE + 1,
                    lost=0,
                )
        finally:
            service.stop()
        assert 0 < sent_before_stop < len(devices) * PER_DEVICE


# 2. Mosquitto killed with SIGKILL -----------------------------------------------------------


class SnapshotWatcher:
    """Follows the broker's persistence file to learn which PUBACKs are durable.

    Mosquitto is single-threaded and saves by renaming a new file over the old one, so a
    snapshot that appears after time t holds every message the broker PUBACKed before t
    (``Mosquitto.wait_for_snapshot`` makes the same argument). Polling the file, a change
    seen at poll k proves durable everything PUBACKed before poll k-1.
    """

    def __init__(self, broker: Mosquitto) -> None:
        self._path = broker.paths.persistence_file
        self.durable_before = 0.0
        self.snapshots = 0
        self._stop = threading.Event()
        self._previous = self._identity()
        self._previous_poll = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="snapshots", daemon=True)
        self._thread.start()

    def _identity(self) -> tuple[int, int, int] | None:
        try:
            st = self._path.stat()
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _run(self) -> None:
        previous, previous_poll = self._previous, self._previous_poll
        while not self._stop.wait(0.01):
            now = time.monotonic()
            current = self._identity()
            if current != previous and current is not None:
                self.durable_before = previous_poll
                self.snapshots += 1
            previous, previous_poll = current, now

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def wait_ingest_idle(service: IngestService, quiet_s: float = 2.0) -> None:
    """Until ingest stored all it received and received nothing new for ``quiet_s``: used only
    to *measure* loss before the outboxes re-send, never as the pass condition."""
    last = (-1, 0.0)

    def idle() -> bool:
        nonlocal last
        received = service.counters.get("received")
        stored = service.counters.get("stored_messages")
        now = time.monotonic()
        if received != last[0] or stored < received:
            last = (received, now)
            return False
        return now - last[1] >= quiet_s

    wait_until(idle, timeout=SETTLE_TIMEOUT, interval=0.1, message="ingest idle")


KILL_STREAM_INTERVAL_S = 0.01
"""A slower stream (~4 s) for the SIGKILL test, so that the kill falls between two snapshots
with the stream still flowing."""


@pytest.mark.parametrize("ingest_during_kill", ["live", "offline"])
def test_broker_sigkill_mid_stream_loses_only_unsnapshotted_acks_and_outbox_recovers_them(
    mosquitto_factory: MosquittoFactory,
    influxdb: InfluxDB,
    influx_db: str,
    topic_root: str,
    devices: list[SimDevice],
    ingest_during_kill: str,
    record_property: RecordProperty,
) -> None:
    """The shipped config snapshots every ~1 s, not on every change, so SIGKILL may lose
    messages the broker PUBACKed after its last snapshot and had not yet handed to ingest.

    Measured: after the restart (before any extra re-send) whatever is missing must be among
    the messages PUBACKed after the last snapshot; that is the bound. Then each outbox re-sends
    exactly those non-durable messages (an edge that keeps a message until the broker's next
    snapshot) and the oracle must show 0 lost. "offline": ingest is down while the broker
    queues for it, the case where the snapshot interval matters most.

    Measured here (Mosquitto 2.0.11, shipped config, ~400 msg/s, kill ~1 s after a snapshot):
    "live" lost 0 (ingest had stored them before the kill); "offline" lost 411-418 of the
    ~410-420 messages PUBACKed after the last snapshot. So the shipped config alone does not
    give 0 loss under SIGKILL: the edge must keep a message until a snapshot taken after its
    PUBACK (or the broker must save on every change, at the cost deploy/mosquitto/README.md
    measures).
    """
    with ingest_slice(mosquitto_factory, influxdb, influx_db, topic_root, devices) as stack:
        service = stack.ingest()
        if ingest_during_kill == "offline":
            service.stop()  # its persistent session stays, and the broker queues for it
        watcher = SnapshotWatcher(stack.broker)
        try:
            with device_stream(stack, KILL_STREAM_INTERVAL_S) as stream:
                stream.wait_sent(0.2)
                # Kill about a second after a snapshot, mid-way to the next one (~2 s apart):
                # a typical crash, neither right after a save nor the worst case.
                stack.broker.wait_for_snapshot()
                ahead = max(o.sent for o in stream.outboxes.values())
                stream.wait_each_sent(ahead + int(1.0 / KILL_STREAM_INTERVAL_S))
                stack.broker.kill()
                watcher.stop()
                durable_before = watcher.durable_before
                non_durable = {
                    device: sorted(i for i, at in o.acked_at.items() if at >= durable_before)
                    for device, o in stream.outboxes.items()
                }
                acked_at_kill = sum(len(o.acked_at) for o in stream.outboxes.values())
                stack.broker.start()
                if ingest_during_kill == "offline":
                    service = stack.ingest()
                stream.wait_done()
                wait_ingest_idle(service)
                missing = missing_points(stack, influxdb, influx_db)
                lost = sum(len(m) for m in missing.values())
                # seq s is message index s-1, or s after the smoke event inserted half way
                for device, seqs in missing.items():
                    shift = 1 if device == stream.smoke_device else 0
                    indexes = {s - 1 + (shift if s - 1 >= PER_DEVICE // 2 else 0) for s in seqs}
                    assert indexes <= set(non_durable[device]), (
                        f"{device} lost messages PUBACKed before the last snapshot: "
                        f"{sorted(indexes - set(non_durable[device]))}"
                    )
                for device, outbox in stream.outboxes.items():
                    outbox.resend(non_durable[device])
                assert_exactly_once(stack, influxdb, influx_db)
                assert_one_smoke_alert(stack, stream.smoke_device)
                report(
                    record_property,
                    ingest=ingest_during_kill,
                    acked_at_kill=acked_at_kill,
                    snapshots_seen=watcher.snapshots,
                    acked_after_last_snapshot=sum(len(v) for v in non_durable.values()),
                    lost_without_resend=lost,
                    lost_after_resend=0,
                )
        finally:
            watcher.stop()
            service.stop()


# 3. InfluxDB down mid-stream ----------------------------------------------------------------

INFLUX_OUTAGE_S = 10.0
"""The issue's figure is 60 s; ten seconds exercise the same path (ingest retries with a
backoff capped at 15 s, the broker keeps the unacknowledged messages) in a sixth of the time."""


@pytest.fixture
def own_influxdb(tmp_path: Path) -> Iterator[InfluxDB]:
    """An InfluxDB of this test alone, on a fixed port so that it restarts where it was."""
    if not Path(INFLUXD_BINARY).exists():
        pytest.fail(f"{INFLUXD_BINARY} is missing: run `make setup`", pytrace=False)
    server = InfluxDB(tmp_path / "influxdb", http_port=free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_influxdb_down_mid_stream_loses_nothing_and_alerts_still_go_out(
    mosquitto_factory: MosquittoFactory,
    own_influxdb: InfluxDB,
    topic_root: str,
    devices: list[SimDevice],
    record_property: RecordProperty,
) -> None:
    db = "faults"
    own_influxdb.create_database(db)
    with ingest_slice(mosquitto_factory, own_influxdb, db, topic_root, devices) as stack:
        service = stack.ingest()
        try:
            with MqttTestClient.connected(stack.broker, stack.admin) as alerts:
                alerts.subscribe(ALERT.subscription(root=topic_root))
                with device_stream(stack) as stream:
                    stream.wait_sent(0.2)
                    own_influxdb.stop()
                    outage_started = time.monotonic()
                    # the smoke event sits half way through the stream: published in the outage
                    wait_until(
                        lambda: any(
                            json.loads(m.payload)["device"] == stream.smoke_device
                            for m in alerts.messages
                        ),
                        timeout=SETTLE_TIMEOUT,
                        message="smoke alert published while InfluxDB is down",
                    )
                    alert_seen_after = time.monotonic() - outage_started
                    stream.wait_done()  # the broker PUBACKs; ingest holds them unacknowledged
                    retries = service.counters.get("write_retries")
                    time.sleep(max(0.0, INFLUX_OUTAGE_S - (time.monotonic() - outage_started)))
                    assert not own_influxdb.running  # the alert went out during the outage
                    own_influxdb.start()
                    assert_exactly_once(stack, own_influxdb, db)
                    assert_one_smoke_alert(stack, stream.smoke_device)
                    smoke_alerts = [
                        json.loads(m.payload)
                        for m in alerts.messages
                        if json.loads(m.payload)["device"] == stream.smoke_device
                    ]
                    report(
                        record_property,
                        outage_s=INFLUX_OUTAGE_S,
                        alert_published_after_s=round(alert_seen_after, 2),
                        write_retries_during_outage=retries,
                        publishes=stream.sends,
                        ingest_received=service.counters.get("received"),
                        smoke_alert_messages=len(smoke_alerts),
                        lost=0,
                    )
        finally:
            service.stop()
        assert retries >= 1
        assert {a["change"] for a in smoke_alerts} == {"raised"}


# 4. One of two shared-subscription workers killed -------------------------------------------


def worker_env(settings: IngestSettings, instance: str, password: str) -> dict[str, str]:
    chosen = settings.model_copy(
        update={
            "instance": instance,
            "share_group": "ingest",
            "mqtt_password": SecretStr(password),
        }
    )
    return os.environ | settings_to_env(chosen)


def wait_online(stack: Slice, instances: list[str]) -> None:
    with MqttTestClient.connected(stack.broker, stack.admin) as watcher:
        for instance in instances:
            watcher.subscribe(SERVICE_STATUS.topic(root=stack.root, service=instance))

        def online() -> bool:
            states: dict[str, str] = {}
            for m in watcher.messages:
                payload = json.loads(m.payload)
                states[payload["instance"]] = payload["state"]
            return all(states.get(i) == "online" for i in instances)

        wait_until(online, timeout=30, message=f"{instances} online")


def test_one_of_two_shared_workers_killed_loses_nothing(
    tmp_path: Path,
    mosquitto_factory: MosquittoFactory,
    influxdb: InfluxDB,
    influx_db: str,
    topic_root: str,
    devices: list[SimDevice],
    record_property: RecordProperty,
) -> None:
    """Two workers in ``$share/ingest``; SIGKILL of one while the stream flows.

    Mosquitto 2.0 keeps a killed member's persistent session: its unacknowledged messages are
    not handed to the other member, and the broker goes on queueing its share of new messages
    for it. They are delivered when the same client id (the same ``instance``) comes back, so
    the killed worker is restarted with its id, as a supervisor would; the test measures what
    the survivor alone stored before that (measured: ~505 of 1,600 points missing until the
    killed worker returned, about half of what was published after the kill).
    """
    with ingest_slice(
        mosquitto_factory, influxdb, influx_db, topic_root, devices, batch_size=50
    ) as stack:
        accounts = {i: service_account(topic_root, i) for i in ("ingest-a", "ingest-b")}
        stack.broker.add_accounts(list(accounts.values()))
        envs = {i: worker_env(stack.settings, i, a.password) for i, a in accounts.items()}
        log_path = tmp_path / "workers.log"
        workers: dict[str, subprocess.Popen[bytes]] = {}
        with log_path.open("wb") as log:

            def spawn(instance: str) -> None:
                workers[instance] = subprocess.Popen(
                    [sys.executable, "-m", "hgj_ingest"], env=envs[instance], stderr=log
                )

            try:
                spawn("ingest-a")
                spawn("ingest-b")
                wait_online(stack, ["ingest-a", "ingest-b"])
                with device_stream(stack) as stream:
                    stream.wait_sent(0.4)
                    workers["ingest-a"].kill()
                    workers["ingest-a"].wait()
                    stream.wait_done()
                    # Measure: what does the survivor alone bring in? Poll until it stops
                    # changing (a measurement, not the pass condition).
                    last: tuple[int, float] = (-1, time.monotonic())

                    def settled() -> bool:
                        nonlocal last
                        count = sum(
                            len(m) for m in missing_points(stack, influxdb, influx_db).values()
                        )
                        if count != last[0]:
                            last = (count, time.monotonic())
                        return count == 0 or time.monotonic() - last[1] >= 3.0

                    wait_until(settled, timeout=SETTLE_TIMEOUT, interval=0.2, message="settled")
                    missing_with_survivor_only = last[0]
                    spawn("ingest-a")  # the same instance id: its session is redelivered
                    try:
                        assert_exactly_once(stack, influxdb, influx_db)
                        assert_one_smoke_alert(stack, stream.smoke_device)
                    except AssertionError as err:
                        raise AssertionError(f"{err}\n{log_path.read_text()[-3000:]}") from None
                    report(
                        record_property,
                        publishes=stream.sends,
                        missing_with_survivor_only=missing_with_survivor_only,
                        lost_after_restart=0,
                    )
            finally:
                for worker in workers.values():
                    if worker.poll() is None:
                        worker.send_signal(signal.SIGTERM)
                for worker in workers.values():
                    worker.wait(timeout=30)
