"""With ``device_registry=enforce``, messages from devices that are not registered are
quarantined: refused as ``unknown_device``, counted, dead-lettered and recorded, and never stored
as telemetry; registering the device lets its next message through after one refresh."""

import base64
import json

import pytest

from hgj_contracts import DEAD_LETTER, TELEMETRY
from hgj_devstack.influx import InfluxDB
from hgj_statedb.device_registry import DeviceRegistry
from tests.helpers import MosquittoFactory, MqttTestClient, wait_until
from tests.ingest_stack import INSTANCE, ingest_slice, pick_devices
from tests.integration.test_ingest_bad_input import good_payload

pytestmark = pytest.mark.integration


def test_unregistered_devices_are_quarantined_until_registered(
    mosquitto_factory: MosquittoFactory, influxdb: InfluxDB, influx_db: str, topic_root: str
) -> None:
    known, stranger = pick_devices("guangsha", "temp_humidity", 2)
    with ingest_slice(
        mosquitto_factory, influxdb, influx_db, topic_root, [known, stranger]
    ) as stack:
        stack.settings = stack.settings.model_copy(
            update={"device_registry": "enforce", "registry_refresh_s": 0.2}
        )
        registry = DeviceRegistry.open(stack.settings.state_db_url)
        try:
            registry.register("guangsha", known.id, known.device_type)

            def topic(device: str) -> str:
                return TELEMETRY.topic(root=topic_root, community="guangsha", device=device)

            service = stack.ingest()
            try:
                with (
                    MqttTestClient.connected(stack.broker, stack.admin) as watcher,
                    MqttTestClient.connected(stack.broker, stack.devices[known.id][1]) as good,
                    MqttTestClient.connected(stack.broker, stack.devices[stranger.id][1]) as bad,
                ):
                    watcher.subscribe(DEAD_LETTER.topic(root=topic_root, service=INSTANCE))
                    quarantined = good_payload(1)
                    bad.publish(topic(stranger.id), quarantined)
                    good.publish(topic(known.id), good_payload(1))
                    (letter,) = [json.loads(m.payload) for m in watcher.wait_for_messages(1)]
                    wait_until(lambda: service.counters.get("acked") == 2, message="both acked")

                    assert letter["reason"] == "unknown_device"
                    assert letter["topic"] == topic(stranger.id)
                    assert base64.b64decode(letter["payload_b64"]) == quarantined
                    assert stranger.id in letter["detail"]
                    counters = service.counters.snapshot()
                    assert counters["rejected_unknown_device"] == 1
                    assert counters["dead_lettered"] == 1

                    registry.register("guangsha", stranger.id, stranger.device_type)
                    wait_until(
                        lambda: service.knows_device("guangsha", stranger.id),
                        message="the registry refreshed",
                    )
                    bad.publish(topic(stranger.id), good_payload(2))
                    wait_until(lambda: service.counters.get("acked") == 3, message="all acked")
                    assert service.counters.get("rejected_unknown_device") == 1
            finally:
                service.stop()
        finally:
            registry.close()

        stored = influxdb.query('SELECT "seq" FROM "telemetry" GROUP BY "device"', db=influx_db)
        by_device = {
            s["tags"]["device"]: [row[1] for row in s["values"]]
            for s in stored["results"][0]["series"]
        }
        # The quarantined seq 1 of the stranger is nowhere in the telemetry.
        assert by_device == {known.id: [1], stranger.id: [2]}
        rejects = influxdb.query(
            'SELECT count("payload_size") FROM "ingest_reject" GROUP BY "reason"', db=influx_db
        )
        (series,) = rejects["results"][0]["series"]
        assert (series["tags"]["reason"], series["values"][0][1]) == ("unknown_device", 1)
