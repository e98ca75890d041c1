"""Scale-out: two storage workers share the load through an MQTT 5 shared subscription while
one alert worker sees every message, so each device's rule state lives in one place.

The count oracle holds (every reading stored exactly once between the two storage workers)
and a smoke alarm raised and cleared is announced exactly once each, although the raise and
the clear may reach different storage workers."""

import json
import shutil
import tempfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from hgj_contracts import ALERT, EVENT, TELEMETRY, utc_now
from hgj_contracts.events import SmokeEvent
from hgj_devstack.accounts import admin_account, device_account, service_account
from hgj_devstack.influx import InfluxDB
from hgj_ingest.service import IngestService
from hgj_ingest.settings import IngestSettings
from hgj_sim.behaviour import DeviceBehaviour
from tests.helpers import MosquittoFactory, MqttTestClient, wait_until
from tests.ingest_stack import pick_devices

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

PER_DEVICE = 100


@pytest.fixture
def state_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="hgj-topology-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_storage_workers_share_load_and_one_alert_worker_announces_once(
    mosquitto_factory: MosquittoFactory,
    influxdb: InfluxDB,
    influx_db: str,
    topic_root: str,
    state_dir: Path,
) -> None:
    sensors = pick_devices("guangsha", "temp_humidity", 3)
    detector = pick_devices("guangsha", "smoke_detector", 1)[0]
    devices = {
        d.id: (d, device_account(topic_root, "guangsha", d.id)) for d in [*sensors, detector]
    }
    workers = {
        "store-1": "store",
        "store-2": "store",
        "alerts-1": "alerts",
    }
    services = {name: service_account(topic_root, name) for name in workers}
    admin = admin_account(topic_root)
    broker = mosquitto_factory(
        [admin, *services.values(), *(account for _, account in devices.values())]
    )

    def settings(name: str) -> IngestSettings:
        return IngestSettings(
            root=topic_root,
            instance=name,
            role=workers[name],  # type: ignore[arg-type]
            share_group="ingest" if workers[name] == "store" else None,
            mqtt_host=broker.host,
            mqtt_port=broker.port,
            mqtt_password=SecretStr(services[name].password),
            influx_url=influxdb.url,
            influx_db=influx_db,
            state_db_url=f"sqlite:///{state_dir / 'state.sqlite'}",
            batch_size=50,
            flush_interval_s=0.1,
        )

    running = {name: IngestService(settings(name)) for name in workers}
    for service in running.values():
        service.start()
    try:
        for name, service in running.items():
            assert service.wait_ready(10), name
        with MqttTestClient.connected(broker, admin) as watcher:
            watcher.subscribe(ALERT.subscription(root=topic_root))
            start = utc_now() - timedelta(seconds=PER_DEVICE + 10)
            for sensor in sensors:
                behaviour = DeviceBehaviour(sensor, seed=3)
                topic = TELEMETRY.topic(root=topic_root, community="guangsha", device=sensor.id)
                with MqttTestClient.connected(broker, devices[sensor.id][1]) as client:
                    for i in range(PER_DEVICE):
                        reading = behaviour.next_telemetry(start + timedelta(seconds=i))
                        client.publish(topic, TELEMETRY.encode(reading))
            smoke_topic = EVENT.topic(
                root=topic_root, community="guangsha", device=detector.id, kind="smoke"
            )
            with MqttTestClient.connected(broker, devices[detector.id][1]) as client:
                for seq, active in ((1, True), (2, False)):
                    event = SmokeEvent(ts=start + timedelta(seconds=seq), seq=seq, active=active)
                    client.publish(smoke_topic, EVENT.encode(event))

            total = len(sensors) * PER_DEVICE + 2
            wait_until(
                lambda: (
                    sum(running[n].counters.get("acked") for n in ("store-1", "store-2")) == total
                ),
                timeout=30,
                message="storage workers acked everything",
            )
            wait_until(
                lambda: running["alerts-1"].counters.get("acked") == total,
                timeout=30,
                message="alert worker saw everything",
            )
            wait_until(lambda: len(watcher.messages) >= 2, message="raise and clear announced")
            changes = [json.loads(m.payload)["change"] for m in watcher.messages]
    finally:
        for service in running.values():
            service.stop()

    assert changes == ["raised", "cleared"]
    assert all(running[n].counters.get("received") > 0 for n in ("store-1", "store-2"))
    for sensor in sensors:
        answer = influxdb.query(
            'SELECT "seq" FROM "telemetry" WHERE "device" = $device',
            db=influx_db,
            params={"device": sensor.id},
        )
        seqs = sorted(int(row[1]) for row in answer["results"][0]["series"][0]["values"])
        assert seqs == list(range(1, PER_DEVICE + 1)), sensor.id


def test_an_alert_worker_on_a_share_group_is_refused() -> None:
    with pytest.raises(ValueError, match="share_group"):
        IngestSettings(role="alerts", share_group="ingest")
