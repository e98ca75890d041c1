"""Alert latency under telemetry load, the part of `make bench` that times alerts.

Method: a `python -m hgj_ingest` process (as deployed) consumes a steady background of
telemetry from many simulated devices, published at a fixed rate by a paced publisher in a
process of its own (hgj_devstack.bench_load). Meanwhile smoke detectors report smoke and,
a moment later, its end, at a modest rate. A subscriber on the alert topics timestamps each
alert change as it arrives; the latency of one alert is its ``raised`` change's arrival
minus the moment the smoke event was handed to the MQTT client, both read from
``time.perf_counter`` in this process, so no clocks need to agree. That span is everything
a security guard waits for: broker → ingest → rules → state database → broker → console.

The same publisher and subscriber also time a plain QoS 1 round trip through the broker
(a probe on a topic ingest does not read) interleaved with the smoke events, under the same
load: on a noisy machine the alert figures are best read against that baseline.

Everything runs under a topic root of its own, so the throughput bench's persistent
sessions do not queue this background for consumers that are gone.
"""

import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, replace

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import SecretStr
from rich.console import Console

from hgj_contracts import ALERT, EVENT, SERVICE_STATUS, utc_now
from hgj_contracts.events import SmokeEvent
from hgj_devstack.accounts import MqttAccount, admin_account, service_account
from hgj_devstack.influx import InfluxDB
from hgj_devstack.mosquitto import Mosquitto
from hgj_devstack.service_process import end_process
from hgj_ingest.settings import IngestSettings, settings_to_env

ROOT = "benchalerts"
INSTANCE = "ingest-alerts"
LOAD_DEVICES = 500
DETECTORS = 10
COMMUNITY = "guangsha"
PROBE_TOPIC = SERVICE_STATUS.topic(root=ROOT, service="bench-probe")
INGEST_STATUS_TOPIC = SERVICE_STATUS.topic(root=ROOT, service=INSTANCE)
LATE_ALERT_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class AlertBenchAccounts:
    """Broker accounts of this part: one that publishes as every simulated device (and
    subscribes to alerts), and ingest's. Created before the broker starts."""

    load: MqttAccount
    ingest: MqttAccount

    @classmethod
    def new(cls) -> "AlertBenchAccounts":
        # admin_account's username is shared by every root; the throughput bench has it.
        load = replace(admin_account(ROOT), username="bench-alerts-load")
        return cls(load, service_account(ROOT, INSTANCE))

    def all(self) -> list[MqttAccount]:
        return [self.load, self.ingest]


@dataclass(frozen=True)
class AlertBenchParams:
    duration_s: float = 30.0
    """How long smoke events are sent (after the warm-up)."""
    telemetry_per_s: float = 5000.0
    events_per_s: float = 10.0
    """Smoke raises per second (each cleared half a detector cycle later), and as many probes."""
    warmup_s: float = 3.0
    """Background only, before measuring: the process imports, connects and opens its files."""


class Timings:
    """Arrival times, fed by the subscriber's network thread, read by the measuring thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._raised_sent: dict[str, deque[float]] = {}
        self._probes_sent: dict[bytes, float] = {}
        self.alert_ms: list[float] = []
        self.probe_ms: list[float] = []
        self.ingest_online = threading.Event()

    def smoke_sent(self, device: str, at: float) -> None:
        with self._lock:
            # A FIFO per detector: each raise produces exactly one "raised" change, in order,
            # so even an alert slower than a detector's cycle is matched to its own event.
            self._raised_sent.setdefault(device, deque()).append(at)

    def probe_sent(self, probe: bytes, at: float) -> None:
        with self._lock:
            self._probes_sent[probe] = at

    def waiting(self) -> int:
        with self._lock:
            return sum(map(len, self._raised_sent.values())) + len(self._probes_sent)

    def on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        arrived = time.perf_counter()  # first, before any parsing
        if msg.topic == INGEST_STATUS_TOPIC:
            if json.loads(msg.payload).get("state") == "online":
                self.ingest_online.set()
            return
        with self._lock:
            if msg.topic == PROBE_TOPIC:
                sent = self._probes_sent.pop(bytes(msg.payload), None)
                if sent is not None:
                    self.probe_ms.append((arrived - sent) * 1000)
                return
            alert = json.loads(msg.payload)
            # Only raises: reminders and clears are not what a guard waits for.
            queue = self._raised_sent.get(str(alert.get("device")))
            if alert.get("change") == "raised" and queue:
                self.alert_ms.append((arrived - queue.popleft()) * 1000)


def _client(broker: Mosquitto, account: MqttAccount, client_id: str) -> mqtt.Client:
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
    )
    client.username_pw_set(account.username, account.password)
    client.connect(broker.host, broker.port)
    client.loop_start()
    return client


def send_smoke_events(publisher: mqtt.Client, timings: Timings, params: AlertBenchParams) -> int:
    """Raise detector n % DETECTORS at tick n and clear it half a cycle later; a probe at
    each tick too. Returns the number of raises sent."""
    half = DETECTORS // 2
    seqs = [0] * DETECTORS
    ticks = max(1, int(params.duration_s * params.events_per_s))
    started = time.perf_counter()
    for tick in range(ticks):
        time.sleep(max(0.0, started + tick / params.events_per_s - time.perf_counter()))
        for detector, active in ((tick - half, False), (tick, True)):
            if detector < 0:
                continue
            index = detector % DETECTORS
            device = f"smoke-{index:02d}"
            seqs[index] += 1
            event = SmokeEvent(ts=utc_now(), seq=seqs[index], active=active, location="bench")
            topic = EVENT.topic(root=ROOT, community=COMMUNITY, device=device, kind="smoke")
            payload = EVENT.encode(event)
            if active:
                timings.smoke_sent(device, time.perf_counter())
            publisher.publish(topic, payload, qos=EVENT.qos)
        probe = str(tick).encode()
        timings.probe_sent(probe, time.perf_counter())
        publisher.publish(PROBE_TOPIC, probe, qos=1)
    return ticks


def _p99(samples: list[float]) -> float:
    # Inclusive method: with few samples (the smoke test) it stays within the observed range.
    return statistics.quantiles(samples, n=100, method="inclusive")[98]


def measure_alerts(
    broker: Mosquitto,
    influx: InfluxDB,
    accounts: AlertBenchAccounts,
    settings: IngestSettings,
    params: AlertBenchParams,
    console: Console,
) -> dict[str, float]:
    """Run this part on a running broker and InfluxDB; the figures by key.

    ``settings`` are the throughput bench's ingest settings (its state database lives in the
    bench's temporary directory); root, instance and account are replaced by this part's.
    """
    db = "alert_latency"
    influx.create_database(db)
    settings = settings.model_copy(
        update={
            "root": ROOT,
            "instance": INSTANCE,
            "mqtt_username": accounts.ingest.username,
            "mqtt_password": SecretStr(accounts.ingest.password),
            "influx_db": db,
            "state_db_url": settings.state_db_url.replace(".sqlite", "-alerts.sqlite"),
            "log_level": "WARNING",
        }
    )
    timings = Timings()
    subscriber = _client(broker, accounts.load, "bench-alerts-watch")
    subscriber.on_message = timings.on_message
    for topic_filter in (ALERT.subscription(root=ROOT), PROBE_TOPIC, INGEST_STATUS_TOPIC):
        subscriber.subscribe(topic_filter, qos=1)
    publisher = _client(broker, accounts.load, "bench-alerts-smoke")
    ingest = subprocess.Popen(
        [sys.executable, "-m", "hgj_ingest"], env=os.environ | settings_to_env(settings)
    )
    load: subprocess.Popen[bytes] | None = None
    try:
        if not timings.ingest_online.wait(30):
            raise RuntimeError("alert bench: ingest did not come online")
        load = subprocess.Popen(
            [
                *(sys.executable, "-m", "hgj_devstack.bench_load", broker.host, str(broker.port)),
                *(accounts.load.username, ROOT, str(params.telemetry_per_s), str(LOAD_DEVICES)),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert load.stdin is not None
        assert load.stdout is not None
        load.stdin.write(accounts.load.password.encode() + b"\n")
        load.stdin.flush()
        console.print(
            f"alert latency: {params.telemetry_per_s:,.0f} telemetry msg/s in the background, "
            f"{params.events_per_s:g} smoke alarms/s for {params.duration_s:g} s …"
        )
        time.sleep(params.warmup_s)
        raises = send_smoke_events(publisher, timings, params)
        deadline = time.monotonic() + LATE_ALERT_TIMEOUT_S
        while timings.waiting() and time.monotonic() < deadline:
            time.sleep(0.05)
        load.stdin.close()  # end of file: the load publisher stops and reports
        outcome = json.loads(load.stdout.readline())
        if load.wait(timeout=30) != 0:
            raise RuntimeError("alert bench: the load publisher failed")
    finally:
        if load is not None:
            end_process(load)
            for pipe in (load.stdin, load.stdout):
                if pipe is not None:
                    pipe.close()
        end_process(ingest)
        for client in (publisher, subscriber):
            client.disconnect()
            client.loop_stop()
            # paho closes its wake-up socket pair only in __del__: a ResourceWarning then.
            client._reset_sockets()
    if len(timings.alert_ms) != raises:
        raise RuntimeError(f"alert bench: {len(timings.alert_ms)} of {raises} alerts raised")
    return {
        "alert_latency_p50_ms": round(statistics.median(timings.alert_ms), 2),
        "alert_latency_p99_ms": round(_p99(timings.alert_ms), 2),
        "alert_latency_samples": float(len(timings.alert_ms)),
        "alert_bench_telemetry_msgs_per_s": round(outcome["acked"] / outcome["seconds"], 1),
        "mqtt_roundtrip_p50_ms": round(statistics.median(timings.probe_ms), 2),
        "mqtt_roundtrip_p99_ms": round(_p99(timings.probe_ms), 2),
    }
