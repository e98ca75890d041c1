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
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Literal

import paho.mqtt.client as mqtt
import urllib3
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import SecretStr
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from hgj_contracts import SERVICE_STATUS, TELEMETRY, Reading, Telemetry, utc_now
from hgj_devstack.accounts import MqttAccount, admin_account, service_account
from hgj_devstack.bench_alerts import AlertBenchAccounts, AlertBenchParams, measure_alerts
from hgj_devstack.influx import InfluxDB
from hgj_devstack.mosquitto import Mosquitto
from hgj_devstack.mosquitto_config import DEFAULT_TEMPLATE
from hgj_devstack.ports import free_port
from hgj_devstack.raw_pipe import RawPipe
from hgj_ingest.service import IngestService
from hgj_ingest.settings import IngestSettings, settings_to_env

ROOT = "bench"
DEVICES = 200
RESULTS_FILE = Path(".bench/results.json")
# Outside the device tree, so neither consumer receives it.
SENTINEL_TOPIC = SERVICE_STATUS.topic(root=ROOT, service="bench-sentinel")


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


def publish_backlog(broker: Mosquitto, admin: MqttAccount, backlog: Backlog, qos: int) -> None:
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
        info = client.publish(topic, payload, qos=qos)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise RuntimeError(f"publish failed: {mqtt.error_string(info.rc)}")
        infos.append(info)
    for info in infos:
        info.wait_for_publish(timeout=120)
    if qos == 0:
        # QoS 0 has no acknowledgement: a QoS 1 sentinel on the same connection is
        # acknowledged only after the broker has handled everything before it.
        client.publish(SENTINEL_TOPIC, b"{}", qos=1).wait_for_publish(timeout=120)
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
        # stored_messages: stored and, at QoS 1, acknowledged (acks follow in the same step).
        elapsed = wait_for(
            lambda: service.counters.get("stored_messages"), total, "ingest", progress
        )
    service.stop()
    return elapsed


@dataclass
class BenchStack:
    broker: Mosquitto
    influx: InfluxDB
    admin: MqttAccount
    raw_account: MqttAccount
    ingest_account: MqttAccount
    store_account: MqttAccount
    work: Path

    def raw_pipe(self, db: str) -> RawPipe:
        return RawPipe(
            host=self.broker.host,
            port=self.broker.port,
            username=self.raw_account.username,
            password=self.raw_account.password,
            client_id="bench-raw",
            topic_filter=TELEMETRY.subscription(root=ROOT),
            influx_url=self.influx.url,
            db=db,
        )

    def ingest_settings(self, db: str, role: Literal["all", "store"] = "all") -> IngestSettings:
        """``all``: one worker storing and running the rules; ``store``: a scale-out storage
        worker (the rules then run on a separate alert worker)."""
        account = self.ingest_account if role == "all" else self.store_account
        return IngestSettings(
            root=ROOT,
            instance=account.username.removeprefix("svc."),
            role=role,
            mqtt_host=self.broker.host,
            mqtt_port=self.broker.port,
            mqtt_password=SecretStr(account.password),
            influx_url=self.influx.url,
            influx_db=db,
            status_interval_s=60,
            state_db_url=f"sqlite:///{self.work / 'state.sqlite'}",
        )

    def register_sessions(self, raw_db: str, ingest_db: str, store_db: str | None = None) -> None:
        """Connect the consumers once and leave, so the broker queues the backlog for them."""
        raw = self.raw_pipe(raw_db)
        raw.start()
        raw.wait_subscribed(10)
        raw.stop()
        workers = [self.ingest_settings(ingest_db)]
        if store_db is not None:
            workers.append(self.ingest_settings(store_db, "store"))
        for settings in workers:
            ingest = IngestService(settings)
            ingest.start()
            ingest.wait_ready(10)
            ingest.stop()


def run_round(
    stack: BenchStack, backlog: Backlog, qos: int, round_no: int, console: Console
) -> dict[str, float]:
    total = len(backlog.messages)
    dbs = {name: f"{name}_q{qos}_r{round_no}" for name in ("raw", "ingest", "store")}
    for db in dbs.values():
        stack.influx.create_database(db)
    stack.register_sessions(dbs["raw"], dbs["ingest"], dbs["store"])
    console.print(f"QoS {qos}, round {round_no}: queueing {total:,} messages for each consumer …")
    publish_backlog(stack.broker, stack.admin, backlog, qos)
    rates = {}
    order = ["raw", "ingest", "store"]
    for name in order if round_no % 2 else order[::-1]:
        if name == "raw":
            elapsed = drain_raw(stack.raw_pipe(dbs["raw"]), total, console)
        elif name == "ingest":
            elapsed = drain_ingest(stack.ingest_settings(dbs["ingest"]), total, console)
        else:
            elapsed = drain_ingest(stack.ingest_settings(dbs["store"], "store"), total, console)
        rates[name] = total / elapsed
        console.print(f"  {name:7s} {rates[name]:10,.0f} msg/s")
    for db in dbs.values():
        stored = count_points(stack.influx, db)
        if stored != total:
            raise RuntimeError(f"{db}: {stored} points stored, expected {total}")
    return rates


def peak_memory_mb(stack: BenchStack, backlog: Backlog, console: Console) -> float:
    """Peak RSS of an ingest process (as deployed: `python -m hgj_ingest`) draining a backlog."""
    db = "ingest_memory"
    stack.influx.create_database(db)
    stack.register_sessions("raw_memory", db)
    publish_backlog(stack.broker, stack.admin, backlog, 1)
    settings = stack.ingest_settings(db)
    metrics_port = free_port()
    env = os.environ | settings_to_env(
        settings.model_copy(update={"metrics_port": metrics_port, "log_level": "WARNING"})
    )
    console.print("peak memory: a `python -m hgj_ingest` process drains the backlog …")
    process = subprocess.Popen([sys.executable, "-m", "hgj_ingest"], env=env)
    try:
        deadline = time.monotonic() + 300
        while _scrape(metrics_port, "hgj_ingest_stored_messages_total") < len(backlog.messages):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the ingest process did not drain the backlog")
            time.sleep(0.1)
        return _vm_hwm_kb(process.pid) / 1024
    finally:
        process.terminate()
        process.wait(timeout=30)


def _scrape(port: int, sample: str) -> float:
    try:
        text = urllib3.request("GET", f"http://127.0.0.1:{port}/metrics", timeout=2.0).data
    except urllib3.exceptions.HTTPError:
        return 0.0
    for line in text.decode().splitlines():
        if line.startswith(sample + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def _vm_hwm_kb(pid: int) -> float:
    """The kernel's record of the process's peak resident memory."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return float(line.split()[1])
    raise RuntimeError("no VmHWM in /proc (not Linux?)")


def _bench_template(work: Path) -> Path:
    """The shipped broker config plus QoS 0 queueing for offline sessions, which the QoS 0
    backlog needs; nothing else differs from production."""
    template = work / "mosquitto.conf.template"
    shipped = DEFAULT_TEMPLATE.read_text(encoding="utf-8")
    template.write_text(shipped + "\nqueue_qos0_messages true\n", encoding="utf-8")
    return template


def run(
    total: int = 60_000,
    rounds: int = 2,
    results_file: Path = RESULTS_FILE,
    alerts: AlertBenchParams | None = None,
) -> dict[str, float]:
    console = Console()
    alerts = alerts or AlertBenchParams()
    alert_figures: dict[str, float] = {}
    rates: dict[tuple[int, str], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="hgj-bench-") as tmp:
        work = Path(tmp)
        admin = admin_account(ROOT)
        raw_account = service_account(ROOT, "bench-raw")
        ingest_account = service_account(ROOT, "ingest-1")
        store_account = service_account(ROOT, "ingest-store")
        alert_accounts = AlertBenchAccounts.new()
        broker = Mosquitto(
            work / "mosquitto",
            [admin, raw_account, ingest_account, store_account, *alert_accounts.all()],
            template=_bench_template(work),
        )
        influx = InfluxDB(work / "influxdb")
        console.print("bench: starting Mosquitto and InfluxDB …")
        broker.start()
        influx.start()
        stack = BenchStack(broker, influx, admin, raw_account, ingest_account, store_account, work)
        try:
            backlog = make_backlog(total)
            total = len(backlog.messages)
            for qos in (1, 0):
                for round_no in range(1, rounds + 1):
                    for name, rate in run_round(stack, backlog, qos, round_no, console).items():
                        rates.setdefault((qos, name), []).append(rate)
            memory_mb = peak_memory_mb(stack, backlog, console)
            alert_figures = measure_alerts(
                broker, influx, alert_accounts, stack.ingest_settings("unused"), alerts, console
            )
        finally:
            broker.stop()
            influx.stop()

    figures: dict[str, float] = {}
    for qos in (1, 0):
        raw_rate = statistics.median(rates[(qos, "raw")])
        ingest_rate = statistics.median(rates[(qos, "ingest")])
        figures |= {
            f"raw_pipe_qos{qos}_msgs_per_s": round(raw_rate, 1),
            f"ingest_qos{qos}_msgs_per_s": round(ingest_rate, 1),
            # one point per telemetry message
            f"ingest_qos{qos}_points_per_s": round(ingest_rate, 1),
            f"ingest_qos{qos}_ratio_to_raw": round(ingest_rate / raw_rate, 3),
        }
        store_rate = statistics.median(rates[(qos, "store")])
        figures |= {
            f"ingest_store_qos{qos}_msgs_per_s": round(store_rate, 1),
            f"ingest_store_qos{qos}_ratio_to_raw": round(store_rate / raw_rate, 3),
        }
    figures["ingest_peak_memory_mb"] = round(memory_mb, 1)
    figures["ingest_bench_messages"] = float(total)
    figures |= alert_figures
    table = Table(title=f"ingest vs raw pipe, {total:,} messages, median of {rounds} rounds")
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
