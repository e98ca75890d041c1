"""Bad input sent with a real MQTT client is refused with its reason, counted, dead-lettered,
and recorded, while ingest keeps storing good messages and InfluxDB never sees a type conflict."""

import base64
import json
from datetime import timedelta

import pytest

from hgj_contracts import DEAD_LETTER, TELEMETRY, utc_now
from hgj_devstack.influx import InfluxDB
from tests.helpers import MosquittoFactory, MqttTestClient, wait_until
from tests.ingest_stack import ingest_slice, pick_devices

pytestmark = pytest.mark.integration


def good_payload(seq: int, temperature: float = 21.5) -> bytes:
    ts = (utc_now() - timedelta(seconds=60 - seq)).isoformat()
    return json.dumps(
        {
            "v": 1,
            "ts": ts,
            "seq": seq,
            "metrics": {"temperature": {"value": temperature, "unit": "Cel"}},
        }
    ).encode()


def test_bad_input_is_rejected_counted_and_dead_lettered(
    mosquitto_factory: MosquittoFactory, influxdb: InfluxDB, influx_db: str, topic_root: str
) -> None:
    devices = pick_devices("guangsha", "temp_humidity", 1)
    with ingest_slice(mosquitto_factory, influxdb, influx_db, topic_root, devices) as stack:
        device = devices[0].id
        topic = TELEMETRY.topic(root=topic_root, community="guangsha", device=device)
        good = good_payload(1)
        bad = {
            "malformed_json": (topic, b'{"v":1,"ts":'),
            "invalid_utf8": (topic, b'{"v":1,"note":"\xff\xfe"}'),
            "schema": (topic, good_payload(2).replace(b"21.5", b'"21.5"')),
            "non_finite": (topic, good_payload(3).replace(b"21.5", b"NaN")),
            "oversize": (topic, b"{" + b" " * 70_000 + b"}"),
            "unknown_topic": (f"{topic_root}/guangsha/dev/{device}/firmware", good),
            "ts_future": (topic, good.replace(str(utc_now().year).encode(), b"2099", 1)),
            "ts_too_old": (topic, good.replace(str(utc_now().year).encode(), b"1999", 1)),
        }
        missing = json.loads(good_payload(4))
        del missing["seq"]
        bad["schema_missing_field"] = (topic, json.dumps(missing).encode())

        service = stack.ingest()
        try:
            with MqttTestClient.connected(stack.broker, stack.admin) as watcher:
                dead_topic = DEAD_LETTER.topic(root=topic_root, service=stack.settings.instance)
                watcher.subscribe(dead_topic)
                for bad_topic, payload in bad.values():
                    watcher.publish(bad_topic, payload)
                watcher.publish(topic, good)  # after all the bad ones: ingest must still work

                letters = [json.loads(m.payload) for m in watcher.wait_for_messages(len(bad))]
            wait_until(lambda: service.counters.get("acked") == len(bad) + 1, message="all acked")

            reasons = sorted(letter["reason"] for letter in letters)
            assert reasons == sorted(r.removesuffix("_missing_field") for r in bad)
            sent = {(t, p[:4096], len(p)) for t, p in bad.values()}
            for letter in letters:
                sample = base64.b64decode(letter["payload_b64"])
                assert (letter["topic"], sample, letter["payload_size"]) in sent
                assert letter["detail"]
            counters = service.counters.snapshot()
            assert counters["rejected_schema"] == 2
            for reason in (
                "malformed_json",
                "invalid_utf8",
                "non_finite",
                "oversize",
                "unknown_topic",
                "ts_future",
                "ts_too_old",
            ):
                assert counters[f"rejected_{reason}"] == 1, reason
        finally:
            service.stop()

        # The good message is stored, the refusals are recorded, and every telemetry field has
        # the one type the contract gives it.
        seqs = influxdb.query('SELECT "seq" FROM "telemetry"', db=influx_db)
        assert [row[1] for row in seqs["results"][0]["series"][0]["values"]] == [1]
        rejects = influxdb.query(
            'SELECT count("payload_size") FROM "ingest_reject" GROUP BY "reason"', db=influx_db
        )
        by_reason = {
            s["tags"]["reason"]: s["values"][0][1] for s in rejects["results"][0]["series"]
        }
        assert by_reason == {
            "malformed_json": 1,
            "invalid_utf8": 1,
            "schema": 2,
            "non_finite": 1,
            "oversize": 1,
            "unknown_topic": 1,
            "ts_future": 1,
            "ts_too_old": 1,
        }
        skewed = influxdb.query(
            'SELECT "skew_s" FROM "device_clock_skew" GROUP BY "device"', db=influx_db
        )
        (flag,) = skewed["results"][0]["series"]
        assert flag["tags"] == {"device": device}
        assert flag["values"][0][1] > 300  # the device's clock is years ahead
        fields = influxdb.query('SHOW FIELD KEYS FROM "telemetry"', db=influx_db)
        types = dict(fields["results"][0]["series"][0]["values"])
        assert types == {"temperature": "float", "seq": "integer"}
