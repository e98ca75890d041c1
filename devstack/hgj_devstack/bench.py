"""`make bench`: ingest throughput as a ratio to a raw pipe measured in the same run.

Machines here are noisy, so absolute rates mean little; the ratio to a bare paho → InfluxDB
pipe on the same broker and database, measured minutes apart, is the figure to watch.

Method: both consumers hold persistent sessions; a backlog of N contract-valid telemetry
messages is published while they are away, so the broker queues N messages for each; then
each consumer is started alone and timed until it has written (and, for ingest,
acknowledged) all N. Draining a queued backlog measures the consumer, not the publisher.
Rounds alternate the order. Figures go to .bench/results.json, one key per figure, merged
with what other benchmarks wrote there.
"""

import json
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import SecretStr
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from hgj_contracts import TELEMETRY, Reading, Telemetry, utc_now
from hgj_devstack.accounts import MqttAccount, admin_account, service_account
from hgj_devstack.influx import InfluxDB
from hgj_devstack.mosquitto import Mosquitto
from hgj_devstack.raw_pipe import RawPipe
from hgj_ingest.service import IngestService
from hgj_ingest.settings import IngestSettings

ROOT = "bench"
DEVICES = 200
RESULTS_FILE = Path(".bench/results.json")


@dataclass(frozen=True)
class Backlog:
    messages: list[tuple[str, bytes]]


def make_backlog(total: int) -> Backlog:
    """``total`` telemetry messages from DEVICES devices in two communities, seq 1..n each."""
    per_device = total // DEVICES
    start = utc_now() - timedelta(seconds=per_device + 60)
    messages = []
    for seq in range(1, per_device + 1):
        for d in range(DEVICES):
            community = "guangsha" if d % 2 else "guanbeigou"
            topic = TELEMETRY.topic(root=ROOT, community=community, device=f"bench-{d:04d}")
            payload = Telemetry(
                ts=start + timedelta(seconds=seq, microseconds=d),
                seq=seq,
                metrics={
                    "temperature": Reading(value=20.0 + (seq % 50) / 10, unit="Cel"),
                    "humidity": Reading(value=40.0 + d % 20, unit="%RH"),
                    "battery": Reading(value=90.0, unit="%"),
                },
            )
            messages.append((topic, TELEMETRY.encode(payload)))
    return Backlog(messages)


def publish_backlog(broker: Mosquitto, admin: MqttAccount, backlog: Backlog) -> None:
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id="bench-publisher",
        protocol=mqtt.MQTTv5,
    )
    client.username_pw_set(admin.username, admin.password)
    client.max_inflight_messages_set(100)
    client.connect(broker.host, broker.port)
    client.loop_start()
    infos = []
    for topic, payload in backlog.messages:
        info = client.publish(topic, payload, qos=TELEMETRY.qos)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise RuntimeError(f"publish failed: {mqtt.error_string(info.rc)}")
        infos.append(info)
    for info in infos:
        info.wait_for_publish(timeout=120)
    client.disconnect()
    client.loop_stop()


def wait_for(done: Callable[[], int], total: int, label: str, progress: Progress) -> float:
    """Seconds until ``done()`` reaches ``total``, with a progress bar."""
    task = progress.add_task(label, total=total)
    started = time.perf_counter()
    while (count := done()) < total:
        progress.update(task, completed=count)
        time.sleep(0.01)
        if time.perf_counter() - started > 600:
            raise RuntimeError(f"{label}: only {count}/{total} after 600 s")
    elapsed = time.perf_counter() - started
    progress.update(task, completed=total)
    return elapsed


def drain_raw(pipe: RawPipe, total: int, console: Console) -> float:
    pipe.start()
    with Progress(console=console, transient=True) as progress:
        elapsed = wait_for(lambda: pipe.written, total, "raw pipe", progress)
    pipe.stop()
    return elapsed


def drain_ingest(settings: IngestSettings, total: int, console: Console) -> float:
    service = IngestService(settings)
    service.start()
    with Progress(console=console, transient=True) as progress:
        elapsed = wait_for(lambda: service.counters.get("acked"), total, "ingest", progress)
    service.stop()
    return elapsed


def run(
    total: int = 60_000, rounds: int = 2, results_file: Path = RESULTS_FILE
) -> dict[str, float]:
    console = Console()
    raw_rates: list[float] = []
    ingest_rates: list[float] = []
    with tempfile.TemporaryDirectory(prefix="hgj-bench-") as tmp:
        work = Path(tmp)
        admin = admin_account(ROOT)
        raw_account = service_account(ROOT, "bench-raw")
        ingest_account = service_account(ROOT, "ingest-1")
        broker = Mosquitto(work / "mosquitto", [admin, raw_account, ingest_account])
        influx = InfluxDB(work / "influxdb")
        console.print("bench: starting Mosquitto and InfluxDB …")
        broker.start()
        influx.start()
        try:
            backlog = make_backlog(total)
            total = len(backlog.messages)
            for round_no in range(1, rounds + 1):
                raw_db, ingest_db = f"raw_r{round_no}", f"ingest_r{round_no}"
                influx.create_database(raw_db)
                influx.create_database(ingest_db)

                def make_raw(db: str = raw_db) -> RawPipe:
                    return RawPipe(
                        host=broker.host,
                        port=broker.port,
                        username=raw_account.username,
                        password=raw_account.password,
                        client_id="bench-raw",
                        topic_filter=TELEMETRY.subscription(root=ROOT),
                        influx_url=influx.url,
                        db=db,
                    )

                settings = IngestSettings(
                    root=ROOT,
                    instance="ingest-1",
                    mqtt_host=broker.host,
                    mqtt_port=broker.port,
                    mqtt_password=SecretStr(ingest_account.password),
                    influx_url=influx.url,
                    influx_db=ingest_db,
                    status_interval_s=60,
                )
                # Register both sessions, then leave so the broker queues the backlog for them.
                raw = make_raw()
                raw.start()
                raw.wait_subscribed(10)
                raw.stop()
                ingest = IngestService(settings)
                ingest.start()
                ingest.wait_ready(10)
                ingest.stop()

                console.print(f"round {round_no}: queueing {total:,} messages for each consumer …")
                publish_backlog(broker, admin, backlog)

                names = ["raw", "ingest"] if round_no % 2 else ["ingest", "raw"]
                for name in names:
                    if name == "raw":
                        elapsed = drain_raw(make_raw(), total, console)
                    else:
                        elapsed = drain_ingest(settings, total, console)
                    rate = total / elapsed
                    (raw_rates if name == "raw" else ingest_rates).append(rate)
                    console.print(f"  {name:7s} {rate:10,.0f} msg/s")
                for db in (raw_db, ingest_db):
                    stored = count_points(influx, db)
                    if stored != total:
                        raise RuntimeError(f"{db}: {stored} points stored, expected {total}")
        finally:
            broker.stop()
            influx.stop()

    raw_rate = statistics.median(raw_rates)
    ingest_rate = statistics.median(ingest_rates)
    figures = {
        "raw_pipe_qos1_msgs_per_s": round(raw_rate, 1),
        "ingest_qos1_msgs_per_s": round(ingest_rate, 1),
        "ingest_qos1_points_per_s": round(ingest_rate, 1),  # one point per telemetry message
        "ingest_qos1_ratio_to_raw": round(ingest_rate / raw_rate, 3),
        "ingest_bench_messages": float(total),
    }
    table = Table(title=f"ingest vs raw pipe, QoS 1, {total:,} messages, median of {rounds}")
    for column in ("figure", "value"):
        table.add_column(column)
    for key, value in figures.items():
        table.add_row(key, f"{value:,.3f}" if value < 10 else f"{value:,.0f}")
    console.print(table)
    write_results(results_file, figures)
    console.print(f"figures written to {results_file}")
    return figures


def count_points(influx: InfluxDB, db: str) -> int:
    answer = influx.query('SELECT count("seq") FROM "telemetry"', db=db)
    series = answer["results"][0].get("series", [])
    return int(series[0]["values"][0][1]) if series else 0


def write_results(path: Path, figures: dict[str, float]) -> None:
    existing: dict[str, float] = {}
    if path.exists():
        existing = json.loads(path.read_text(encoding="utf-8"))
    existing.update(figures)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(existing, indent=2, sort_keys=True) + "\n", encoding="utf-8")
