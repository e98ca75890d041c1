"""While the store is down, ingest holds a bounded number of messages: QoS 1 is held back by
the broker at ingest's Receive Maximum (and delivered later), QoS 0 beyond the buffer limit is
dropped and counted."""

import json
from datetime import timedelta

import pytest

from hgj_contracts import TELEMETRY, utc_now
from hgj_devstack.influx import InfluxDB
from hgj_devstack.ports import free_port
from tests.helpers import MosquittoFactory, MqttTestClient, wait_until
from tests.ingest_stack import ingest_slice, pick_devices

pytestmark = pytest.mark.integration


def payloads(count: int) -> list[bytes]:
    start = utc_now() - timedelta(seconds=count + 10)
    return [
        json.dumps(
            {
                "v": 1,
                "ts": (start + timedelta(seconds=i)).isoformat(),
                "seq": i + 1,
                "metrics": {"temperature": {"value": 20.0, "unit": "Cel"}},
            }
        ).encode()
        for i in range(count)
    ]


@pytest.mark.parametrize(("qos", "limit"), [(1, "receive_maximum"), (0, "max_buffered")])
def test_memory_is_bounded_while_the_store_is_down(
    mosquitto_factory: MosquittoFactory,
    influxdb: InfluxDB,
    influx_db: str,
    topic_root: str,
    qos: int,
    limit: str,
) -> None:
    devices = pick_devices("guangsha", "temp_humidity", 1)
    with ingest_slice(mosquitto_factory, influxdb, influx_db, topic_root, devices) as stack:
        stack.settings = stack.settings.model_copy(
            update={"influx_url": f"http://127.0.0.1:{free_port()}", limit: 100}
        )
        service = stack.ingest()
        try:
            topic = TELEMETRY.topic(root=topic_root, community="guangsha", device=devices[0].id)
            with MqttTestClient.connected(stack.broker, stack.admin) as client:
                for payload in payloads(1000):
                    client.publish(topic, payload, qos=qos)
                # A sentinel after the flood: once ingest has it (or, at QoS 1, once the
                # broker's window is full) every earlier message has reached ingest.
                if qos == 0:
                    wait_until(lambda: service.counters.get("received") == 1000, message="flood in")
                else:
                    wait_until(lambda: service.counters.get("received") >= 100, message="window")
            held = service.metrics.registry.get_sample_value("hgj_ingest_buffered_messages")
            received = service.counters.get("received")
            dropped = service.counters.get("dropped_backpressure")
        finally:
            service.stop()
    assert held is not None
    assert held <= 100
    if qos == 1:
        assert received == 100  # the broker keeps the other 900 for later
        assert dropped == 0
    else:
        assert dropped == 900
