"""`make bench`, simulator part: load mode's publish rate as a ratio to a bare paho publisher on
the same broker in the same run.

The baseline is the least a publisher can do: one paho client with its network thread,
publishing one pre-encoded telemetry payload over and over at QoS 1 with the same in-flight
window and backlog bound as load mode. Load mode builds a contract-valid reading per message
(its own ``seq`` and time per device) and publishes it, gateway style (2,000 devices over four
connections, its default) and one connection per device (500 devices). Rates are medians over
rounds that alternate the order, ratios the median of each round's ratio; each rate counts
messages acknowledged by the broker per second, from the first publish to the last PUBACK.
Nobody subscribes, so the broker's work per message is the same for both.
"""

import statistics
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from rich.console import Console
from rich.table import Table

from hgj_devstack.accounts import MqttAccount, admin_account, device_account, gateway_account
from hgj_devstack.bench import RESULTS_FILE, write_results
from hgj_devstack.mosquitto import Mosquitto
from hgj_sim.load.engine import LoadEngine, LoadPlan, credentials_from
from hgj_sim.load.fleet import gateway_ids, load_fleet
from hgj_sim.load.payloads import TimestampText, telemetry_bytes

ROOT = "bench"
COMMUNITY = "load"
GATEWAY_DEVICES = 2000
GATEWAYS = 4
PER_DEVICE_DEVICES = 500
WINDOW = 100
BACKLOG = 10_000
FIGURE_KEYS = (
    "sim_raw_publisher_qos1_msgs_per_s",
    "sim_load_gateway_qos1_msgs_per_s",
    "sim_load_gateway_ratio_to_raw",
    "sim_load_per_device_qos1_msgs_per_s",
    "sim_load_per_device_ratio_to_raw",
    "sim_load_bench_messages",
)


def bare_publisher(broker: Mosquitto, account: MqttAccount, total: int) -> float:
    """Messages per second a bare paho client gets acknowledged."""
    acked = 0
    done = threading.Event()

    def on_publish(*_: object) -> None:
        nonlocal acked  # only paho's network thread writes it
        acked += 1
        if acked >= total:
            done.set()

    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id="bench-bare-publisher",
        protocol=mqtt.MQTTv5,
    )
    client.username_pw_set(account.username, account.password)
    client.max_inflight_messages_set(WINDOW)
    client.on_publish = on_publish
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        topics = [d.topic for d in load_fleet(ROOT, COMMUNITY, "raw", GATEWAY_DEVICES)]
        payload = telemetry_bytes("temp_humidity", 0, 1, TimestampText().at(time.time_ns()))
        started = time.perf_counter()
        for sent in range(total):
            while sent - acked >= BACKLOG:  # the same bound load mode keeps
                time.sleep(0.0005)
            client.publish(topics[sent % len(topics)], payload, qos=1)
        if not done.wait(300):
            raise RuntimeError(f"bare publisher: {acked}/{total} acknowledged after 300 s")
        return total / (time.perf_counter() - started)
    finally:
        client.disconnect()
        client.loop_stop()


def load_mode(
    broker: Mosquitto, passwords: dict[str, str], total: int, *, per_device: bool
) -> float:
    plan = LoadPlan(
        host=broker.host,
        port=broker.port,
        root=ROOT,
        community=COMMUNITY,
        devices=PER_DEVICE_DEVICES if per_device else GATEWAY_DEVICES,
        rate=0,
        messages=total,
        connections=None if per_device else GATEWAYS,
        window=WINDOW,
        backlog=BACKLOG,
    )
    engine = LoadEngine(plan, credentials_from(passwords, COMMUNITY))
    engine.connect()
    try:
        summary = engine.run()
    finally:
        engine.close()
    counters = summary.counters
    if counters.errors or counters.acked != total:
        raise RuntimeError(
            f"load mode: {counters.acked}/{total} acknowledged, {counters.errors} errors"
        )
    return summary.rate


def _paired_ratio(load: list[float], raw: list[float]) -> float:
    """The median of each round's ratio. The machines here share their cores with other work,
    whose load drifts over minutes; a round's two rates, measured seconds apart, see the same
    conditions, so their ratio is steadier than a ratio of medians taken minutes apart."""
    return round(statistics.median(a / b for a, b in zip(load, raw, strict=True)), 3)


def run(
    total: int = 60_000, rounds: int = 5, results_file: Path = RESULTS_FILE
) -> dict[str, float]:
    console = Console()
    admin = admin_account(ROOT)
    gateways = [gateway_account(ROOT, COMMUNITY, g) for g in gateway_ids("ld", GATEWAYS)]
    fleet = load_fleet(ROOT, COMMUNITY, "ld", PER_DEVICE_DEVICES)
    devices = [device_account(ROOT, COMMUNITY, d.id) for d in fleet]
    passwords = {a.username: a.password for a in [*gateways, *devices]}
    rates: dict[str, list[float]] = {"raw": [], "gateway": [], "per_device": []}
    with tempfile.TemporaryDirectory(prefix="hgj-bench-sim-") as tmp:
        broker = Mosquitto(Path(tmp) / "mosquitto", [admin, *gateways, *devices])
        console.print("bench (simulator load mode): starting Mosquitto …")
        broker.start()
        try:
            for round_no in range(1, rounds + 1):
                order = ["raw", "gateway", "per_device"]
                for name in order if round_no % 2 else order[::-1]:
                    if name == "raw":
                        rate = bare_publisher(broker, admin, total)
                    else:
                        rate = load_mode(broker, passwords, total, per_device=name == "per_device")
                    rates[name].append(rate)
                    console.print(f"  round {round_no} {name:10s} {rate:10,.0f} msg/s")
        finally:
            broker.stop()
    figures = {
        "sim_raw_publisher_qos1_msgs_per_s": round(statistics.median(rates["raw"]), 1),
        "sim_load_gateway_qos1_msgs_per_s": round(statistics.median(rates["gateway"]), 1),
        "sim_load_gateway_ratio_to_raw": _paired_ratio(rates["gateway"], rates["raw"]),
        "sim_load_per_device_qos1_msgs_per_s": round(statistics.median(rates["per_device"]), 1),
        "sim_load_per_device_ratio_to_raw": _paired_ratio(rates["per_device"], rates["raw"]),
        "sim_load_bench_messages": float(total),
    }
    table = Table(
        title=f"load mode vs a bare paho publisher, {total:,} messages, median of {rounds}"
    )
    for column in ("figure", "value"):
        table.add_column(column)
    for key, value in figures.items():
        table.add_row(key, f"{value:,.3f}" if value < 10 else f"{value:,.0f}")
    console.print(table)
    write_results(results_file, figures)
    console.print(f"figures written to {results_file}")
    return figures
