"""Simulated devices → real Mosquitto → ingest → real InfluxDB: exactly N points for N messages.

The count oracle: devices publish telemetry with seq 1..n each; afterwards InfluxDB holds one
point per (device, seq), no more and no fewer, also when every message is delivered twice and
when ingest is stopped and restarted in the middle of the stream.
"""

import json
import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import urllib3

from hgj_contracts import SERVICE_STATUS, TELEMETRY, utc_now
from hgj_devstack.influx import InfluxDB
from hgj_devstack.ports import free_port
from hgj_ingest.settings import settings_to_env
from hgj_sim.behaviour import DeviceBehaviour
from hgj_sim.inventory import SimDevice
from tests.helpers import MosquittoFactory, MqttTestClient, wait_until
from tests.ingest_stack import Slice, ingest_slice, pick_devices

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

PER_DEVICE = 150


def publish_from_devices(stack: Slice, per_device: int, copies: int = 1) -> int:
    """Each device publishes ``per_device`` readings (seq 1..n) over its own account."""
    start = utc_now() - timedelta(seconds=per_device + 5)
    sent = 0
    for device, account in stack.devices.values():
        behaviour = DeviceBehaviour(device, seed=1)
        topic = TELEMETRY.topic(root=stack.root, community="guangsha", device=device.id)
        with MqttTestClient.connected(stack.broker, account) as client:
            for i in range(per_device):
                payload = TELEMETRY.encode(behaviour.next_telemetry(start + timedelta(seconds=i)))
                for _ in range(copies):
                    client.publish(topic, payload, qos=TELEMETRY.qos)
                    sent += 1
    return sent


def stored_seqs(influx: InfluxDB, db: str, device: str) -> list[int]:
    answer = influx.query(
        'SELECT "seq" FROM "telemetry" WHERE "device" = $device', db=db, params={"device": device}
    )
    series = answer["results"][0].get("series", [])
    return sorted(int(row[1]) for row in series[0]["values"]) if series else []


def total_points(influx: InfluxDB, db: str) -> int:
    answer = influx.query('SELECT count("seq") FROM "telemetry"', db=db)
    series = answer["results"][0].get("series", [])
    return int(series[0]["values"][0][1]) if series else 0


def metrics_answer(port: int) -> bool:
    try:
        return urllib3.request("GET", f"http://127.0.0.1:{port}/metrics", timeout=1.0).status == 200
    except urllib3.exceptions.HTTPError:
        return False


def wait_for_ingest_online(stack: Slice) -> None:
    """Ingest announces online (retained) only once its subscription stands."""
    topic = SERVICE_STATUS.topic(root=stack.root, service=stack.settings.instance)
    with MqttTestClient.connected(stack.broker, stack.admin) as watcher:
        watcher.subscribe(topic)
        wait_until(
            lambda: any(json.loads(m.payload)["state"] == "online" for m in watcher.messages),
            message="ingest online",
        )


def assert_exactly_once(stack: Slice, influx: InfluxDB, db: str) -> None:
    expected = len(stack.devices) * PER_DEVICE
    wait_until(lambda: total_points(influx, db) >= expected, timeout=60, message="all points")
    assert total_points(influx, db) == expected
    for device_id in stack.devices:
        assert stored_seqs(influx, db, device_id) == list(range(1, PER_DEVICE + 1)), device_id


@pytest.fixture
def devices() -> list[SimDevice]:
    return pick_devices("guangsha", "temp_humidity", 2) + pick_devices(
        "guangsha", "smoke_detector", 2
    )


def test_n_messages_make_n_points(
    mosquitto_factory: MosquittoFactory,
    influxdb: InfluxDB,
    influx_db: str,
    topic_root: str,
    devices: list[SimDevice],
) -> None:
    with ingest_slice(mosquitto_factory, influxdb, influx_db, topic_root, devices) as stack:
        service = stack.ingest()
        try:
            sent = publish_from_devices(stack, PER_DEVICE)
            assert_exactly_once(stack, influxdb, influx_db)
            wait_until(lambda: service.counters.get("acked") == sent, message="every message acked")
        finally:
            service.stop()
        assert service.counters.get("received") == sent


def test_every_message_delivered_twice_still_makes_n_points(
    mosquitto_factory: MosquittoFactory,
    influxdb: InfluxDB,
    influx_db: str,
    topic_root: str,
    devices: list[SimDevice],
) -> None:
    with ingest_slice(mosquitto_factory, influxdb, influx_db, topic_root, devices) as stack:
        service = stack.ingest()
        try:
            sent = publish_from_devices(stack, PER_DEVICE, copies=2)
            wait_until(lambda: service.counters.get("acked") == sent, message="every copy acked")
            assert_exactly_once(stack, influxdb, influx_db)
        finally:
            service.stop()


def test_messages_sent_while_ingest_is_down_are_stored_after_restart(
    mosquitto_factory: MosquittoFactory,
    influxdb: InfluxDB,
    influx_db: str,
    topic_root: str,
    devices: list[SimDevice],
) -> None:
    with ingest_slice(mosquitto_factory, influxdb, influx_db, topic_root, devices) as stack:
        stack.ingest().stop()  # registers the persistent session, then goes away
        publish_from_devices(stack, PER_DEVICE)
        service = stack.ingest()
        try:
            assert_exactly_once(stack, influxdb, influx_db)
        finally:
            service.stop()


def test_nothing_is_acknowledged_before_it_is_stored(
    mosquitto_factory: MosquittoFactory,
    influxdb: InfluxDB,
    influx_db: str,
    topic_root: str,
    devices: list[SimDevice],
) -> None:
    """With InfluxDB unreachable, ingest receives but acknowledges nothing; once it comes back
    (here: a restarted ingest pointed at the running InfluxDB) every message is stored."""
    with ingest_slice(mosquitto_factory, influxdb, influx_db, topic_root, devices) as stack:
        good_settings = stack.settings
        stack.settings = good_settings.model_copy(
            update={"influx_url": f"http://127.0.0.1:{free_port()}"}
        )
        blind = stack.ingest()
        try:
            sent = publish_from_devices(stack, PER_DEVICE)
            wait_until(lambda: blind.counters.get("received") >= sent, message="all received")
            wait_until(lambda: blind.counters.get("write_retries") >= 2, message="retrying")
            assert blind.counters.get("acked") == 0
        finally:
            blind.stop()
        assert total_points(influxdb, influx_db) == 0

        stack.settings = good_settings
        service = stack.ingest()
        try:
            assert_exactly_once(stack, influxdb, influx_db)
        finally:
            service.stop()


def test_ingest_killed_mid_stream_loses_nothing(
    tmp_path: Path,
    mosquitto_factory: MosquittoFactory,
    influxdb: InfluxDB,
    influx_db: str,
    topic_root: str,
    devices: list[SimDevice],
) -> None:
    """kill -9 of the ingest process while it works: what it had not acknowledged is
    redelivered to the restarted process, and rewriting stored points adds none."""
    with ingest_slice(
        mosquitto_factory, influxdb, influx_db, topic_root, devices, batch_size=50
    ) as stack:
        env = os.environ | settings_to_env(stack.settings)
        log_path = tmp_path / "ingest.log"
        log = log_path.open("wb")
        first = subprocess.Popen([sys.executable, "-m", "hgj_ingest"], env=env, stderr=log)
        try:
            wait_for_ingest_online(stack)
            publish_from_devices(stack, PER_DEVICE)
            wait_until(lambda: total_points(influxdb, influx_db) > 0, message="some points")
        finally:
            first.kill()
            first.wait()
        metrics_port = free_port()
        env["HGJ_INGEST_METRICS_PORT"] = str(metrics_port)
        second = subprocess.Popen([sys.executable, "-m", "hgj_ingest"], env=env, stderr=log)
        log.close()
        try:
            # The first worker may have stored everything before it died; still wait until the
            # second is up (its metrics answer after its signal handlers are installed), so
            # the SIGTERM below tests a clean shutdown rather than landing mid-import.
            wait_until(lambda: metrics_answer(metrics_port), message="second worker up")
            try:
                assert_exactly_once(stack, influxdb, influx_db)
            except AssertionError as err:
                raise AssertionError(f"{err}\n{log_path.read_text()[-3000:]}") from None
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=30) == 0, log_path.read_text()


def test_shuffled_and_repeated_messages_make_n_points(
    mosquitto_factory: MosquittoFactory,
    influxdb: InfluxDB,
    influx_db: str,
    topic_root: str,
    devices: list[SimDevice],
) -> None:
    """Out of order and repeated (as after an edge outbox replays its backlog): still exactly
    one point per reading."""
    with ingest_slice(mosquitto_factory, influxdb, influx_db, topic_root, devices) as stack:
        service = stack.ingest()
        try:
            start = utc_now() - timedelta(seconds=PER_DEVICE + 5)
            for device, account in stack.devices.values():
                behaviour = DeviceBehaviour(device, seed=2)
                readings = [
                    TELEMETRY.encode(behaviour.next_telemetry(start + timedelta(seconds=i)))
                    for i in range(PER_DEVICE)
                ]
                shuffled = readings[::-1] + readings[::3] + readings[1::2]
                topic = TELEMETRY.topic(root=stack.root, community="guangsha", device=device.id)
                with MqttTestClient.connected(stack.broker, account) as client:
                    for payload in shuffled:
                        client.publish(topic, payload)
            assert_exactly_once(stack, influxdb, influx_db)
        finally:
            service.stop()
