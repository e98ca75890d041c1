"""The same stream gives the same alert history whether one worker does everything or the
load is split: two storage workers on a shared subscription and one alert worker."""

import shutil
import tempfile
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from pydantic import BaseModel, SecretStr

from hgj_contracts import EVENT, TELEMETRY, Reading, Telemetry, utc_now
from hgj_contracts.events import SmokeEvent, WaterLeakEvent
from hgj_devstack.accounts import admin_account, device_account, service_account
from hgj_devstack.influx import InfluxDB
from hgj_ingest.service import IngestService
from hgj_ingest.settings import IngestSettings
from hgj_statedb.alert_store import AlertStore
from tests.helpers import MosquittoFactory, MqttTestClient, unique_id, wait_until
from tests.ingest_stack import pick_devices

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

Topology = dict[str, str]  # worker instance → role
ONE_WORKER: Topology = {"all-1": "all"}
SPLIT: Topology = {"store-1": "store", "store-2": "store", "alerts-1": "alerts"}

History = list[tuple[str, str, int, str, list[str]]]


@pytest.fixture
def workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="hgj-history-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def stream(start: datetime) -> list[tuple[str, str, BaseModel]]:
    """(device kind, channel, payload): a fire-risk temperature with hysteresis, smoke that
    repeats then clears, and a leak that stays active."""
    temps = [20.0, 65.0, 66.0, 67.0, 55.0, 45.0, 70.0, 72.0, 71.0]
    out: list[tuple[str, str, BaseModel]] = []
    for i, value in enumerate(temps):
        reading = Reading(value=value, unit="Cel")
        out.append(
            (
                "th",
                "telemetry",
                Telemetry(
                    ts=start + timedelta(seconds=20 * i),
                    seq=i + 1,
                    metrics={"temperature": reading},
                ),
            )
        )
    for seq, active in enumerate((True, True, False, True), start=1):
        ts = start + timedelta(seconds=15 * seq)
        out.append(("smoke", "smoke", SmokeEvent(ts=ts, seq=seq, active=active)))
    out.append(
        ("leak", "water_leak", WaterLeakEvent(ts=start + timedelta(seconds=5), seq=1, active=True))
    )
    return out


def run_topology(
    factory: MosquittoFactory, influx: InfluxDB, db: str, workdir: Path, topology: Topology
) -> History:
    root = unique_id("h")
    devices = {
        "th": pick_devices("guangsha", "temp_humidity", 1)[0],
        "smoke": pick_devices("guangsha", "smoke_detector", 1)[0],
        "leak": pick_devices("guangsha", "water_leak", 1)[0],
    }
    accounts = {kind: device_account(root, "guangsha", d.id) for kind, d in devices.items()}
    services = {name: service_account(root, name) for name in topology}
    admin = admin_account(root)
    broker = factory([admin, *services.values(), *accounts.values()])
    state_url = f"sqlite:///{workdir / (root + '.sqlite')}"
    workers = {
        name: IngestService(
            IngestSettings(
                root=root,
                instance=name,
                role=role,  # type: ignore[arg-type]
                share_group="ingest" if role == "store" else None,
                mqtt_host=broker.host,
                mqtt_port=broker.port,
                mqtt_password=SecretStr(services[name].password),
                influx_url=influx.url,
                influx_db=db,
                state_db_url=state_url,
                batch_size=10,
                flush_interval_s=0.05,
            )
        )
        for name, role in topology.items()
    }
    for worker in workers.values():
        worker.start()
    messages = stream(utc_now() - timedelta(minutes=10))
    try:
        for worker in workers.values():
            assert worker.wait_ready(10)
        for kind, channel, payload in messages:
            device = devices[kind].id
            if channel == "telemetry":
                topic = TELEMETRY.topic(root=root, community="guangsha", device=device)
                data = TELEMETRY.encode(payload)  # type: ignore[arg-type]
            else:
                topic = EVENT.topic(root=root, community="guangsha", device=device, kind=channel)
                data = EVENT.encode(payload)  # type: ignore[arg-type]
            with MqttTestClient.connected(broker, accounts[kind]) as client:
                client.publish(topic, data)
        rules_worker = next(w for n, w in workers.items() if topology[n] in ("all", "alerts"))
        wait_until(
            lambda: rules_worker.counters.get("acked") >= len(messages),
            message="the rules saw every message",
        )
    finally:
        for worker in workers.values():
            worker.stop()
    store = AlertStore.open(state_url)
    try:
        history: History = []
        for alert in store.list_alerts(limit=100):
            # Escalations follow the wall clock, not the stream: leave them out.
            kinds: list[str] = [
                entry.kind
                for entry in store.timeline(alert.alert_id)
                if entry.kind not in ("escalated", "reminded")
            ]
            device_kind = next(k for k, d in devices.items() if d.id == alert.device)
            history.append((alert.rule, device_kind, alert.count, alert.state, kinds))
        return sorted(history)
    finally:
        store.close()


def test_one_worker_and_a_split_topology_give_the_same_history(
    mosquitto_factory: MosquittoFactory, influxdb: InfluxDB, influx_db: str, workdir: Path
) -> None:
    one = run_topology(mosquitto_factory, influxdb, influx_db, workdir, ONE_WORKER)
    split = run_topology(mosquitto_factory, influxdb, influx_db, workdir, SPLIT)

    assert one == split
    # And the history is the one the rules promise: two fire-risk episodes (hysteresis holds
    # the first through 55 °C), smoke raised, repeated, cleared and raised again, a leak.
    assert one == sorted(
        [
            ("temp_high", "th", 1, "cleared", ["raised", "cleared"]),
            ("temp_high", "th", 1, "active", ["raised"]),
            ("smoke", "smoke", 2, "cleared", ["raised", "repeated", "cleared"]),
            ("smoke", "smoke", 1, "active", ["raised"]),
            ("water_leak", "leak", 1, "active", ["raised"]),
        ]
    )
