"""What an operator sees of ingest: Prometheus metrics, the retained status with counters and
its last will, and JSON log lines."""

import json
import logging
import os
import signal
import subprocess
import sys
from datetime import timedelta

import pytest
import urllib3

from hgj_contracts import SERVICE_STATUS, TELEMETRY, utc_now
from hgj_devstack.influx import InfluxDB
from hgj_devstack.ports import free_port
from hgj_ingest.logs import configure_logging
from tests.helpers import MosquittoFactory, MqttTestClient, wait_until
from tests.ingest_stack import Slice, ingest_slice, pick_devices

pytestmark = pytest.mark.integration


def reading(seq: int) -> bytes:
    ts = (utc_now() - timedelta(seconds=10)).isoformat()
    return json.dumps(
        {"v": 1, "ts": ts, "seq": seq, "metrics": {"humidity": {"value": 40, "unit": "%RH"}}}
    ).encode()


def scrape(port: int) -> dict[str, float]:
    text = urllib3.request("GET", f"http://127.0.0.1:{port}/metrics").data.decode()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


def test_prometheus_metrics_count_what_happened(
    mosquitto_factory: MosquittoFactory, influxdb: InfluxDB, influx_db: str, topic_root: str
) -> None:
    devices = pick_devices("guanbeigou", "temp_humidity", 1)
    with ingest_slice(
        mosquitto_factory, influxdb, influx_db, topic_root, devices, community="guanbeigou"
    ) as stack:
        port = free_port()
        stack.settings = stack.settings.model_copy(update={"metrics_port": port})
        service = stack.ingest()
        try:
            topic = TELEMETRY.topic(root=topic_root, community="guanbeigou", device=devices[0].id)
            with MqttTestClient.connected(stack.broker, stack.admin) as client:
                client.publish(topic, reading(1))
                client.publish(topic, b"not json")
            wait_until(lambda: service.counters.get("acked") == 2, message="both acked")
            samples = scrape(port)
        finally:
            service.stop()
    assert samples["hgj_ingest_received_total"] == 2
    assert samples["hgj_ingest_points_written_total"] == 2  # the reading and the reject record
    assert samples['hgj_ingest_rejected_total{reason="malformed_json"}'] == 1
    assert samples["hgj_ingest_batch_write_seconds_count"] >= 1
    assert samples["hgj_ingest_buffered_messages"] == 0


def status_of(stack: Slice, watcher: MqttTestClient) -> list[dict[str, object]]:
    topic = SERVICE_STATUS.topic(root=stack.root, service=stack.settings.instance)
    return [json.loads(m.payload) for m in watcher.messages if m.topic == topic]


def test_retained_status_has_counters_and_the_last_will_says_offline(
    mosquitto_factory: MosquittoFactory, influxdb: InfluxDB, influx_db: str, topic_root: str
) -> None:
    devices = pick_devices("guangsha", "temp_humidity", 1)
    with ingest_slice(mosquitto_factory, influxdb, influx_db, topic_root, devices) as stack:
        env = os.environ | {
            "HGJ_INGEST_ROOT": stack.root,
            "HGJ_INGEST_INSTANCE": stack.settings.instance,
            "HGJ_INGEST_MQTT_PORT": str(stack.broker.port),
            "HGJ_INGEST_MQTT_PASSWORD": stack.settings.mqtt_password.get_secret_value(),  # type: ignore[union-attr]
            "HGJ_INGEST_INFLUX_URL": influxdb.url,
            "HGJ_INGEST_INFLUX_DB": influx_db,
            "HGJ_INGEST_STATUS_INTERVAL_S": "0.2",
            "HGJ_INGEST_LOG_FORMAT": "json",
            "HGJ_INGEST_STATE_DB_URL": stack.settings.state_db_url,
        }
        worker = subprocess.Popen(
            [sys.executable, "-m", "hgj_ingest"], env=env, stderr=subprocess.PIPE
        )
        try:
            with MqttTestClient.connected(stack.broker, stack.admin) as watcher:
                watcher.subscribe(SERVICE_STATUS.subscription(root=stack.root))
                wait_until(
                    lambda: any(s["state"] == "online" for s in status_of(stack, watcher)),
                    message="online status",
                )
                worker.send_signal(signal.SIGKILL)
                worker.wait()
                wait_until(
                    lambda: status_of(stack, watcher)[-1]["state"] == "offline",
                    message="last will",
                )
                online = next(s for s in status_of(stack, watcher) if s["state"] == "online")
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
            assert worker.stderr is not None
            log_lines = worker.stderr.read().decode().splitlines()
            worker.stderr.close()
    assert isinstance(online["counters"], dict)
    records = [json.loads(line) for line in log_lines]  # every line is JSON
    ours = [r for r in records if r["logger"] == "hgj_ingest"]
    assert ours
    assert ours[0]["level"] == "INFO"


def test_json_log_lines_parse(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("json")
    try:
        logging.getLogger("hgj_ingest").warning("write failed: %s", "503")
    finally:
        logging.getLogger().handlers.clear()
    line = json.loads(capsys.readouterr().err.strip())
    assert line["message"] == "write failed: 503"
    assert line["level"] == "WARNING"
