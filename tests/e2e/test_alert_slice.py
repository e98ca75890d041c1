"""A smoke detector of Guangsha reports smoke: the alert is raised, published for the console,
stored in the state database and exported to InfluxDB; smoke clearing clears it. The alert
goes out even while InfluxDB is unreachable."""

import json
from datetime import timedelta

import pytest

from hgj_contracts import ALERT, EVENT, utc_now
from hgj_contracts.events import SmokeEvent
from hgj_devstack.influx import InfluxDB
from hgj_devstack.ports import free_port
from hgj_statedb.alert_store import AlertStore
from tests.helpers import MosquittoFactory, MqttTestClient, wait_until
from tests.ingest_stack import Slice, ingest_slice, pick_devices

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


def smoke(stack: Slice, device: str, seq: int, active: bool, ago_s: float) -> None:
    _, account = stack.devices[device]
    event = SmokeEvent(
        ts=utc_now() - timedelta(seconds=ago_s), seq=seq, active=active, location="5F stairwell"
    )
    topic = EVENT.topic(root=stack.root, community="guangsha", device=device, kind="smoke")
    with MqttTestClient.connected(stack.broker, account) as client:
        client.publish(topic, EVENT.encode(event))


def alerts_seen(watcher: MqttTestClient) -> list[dict[str, object]]:
    return [json.loads(m.payload) for m in watcher.messages]


def test_smoke_raises_then_clears_an_alert(
    mosquitto_factory: MosquittoFactory, influxdb: InfluxDB, influx_db: str, topic_root: str
) -> None:
    detector = pick_devices("guangsha", "smoke_detector", 1)[0]
    with ingest_slice(mosquitto_factory, influxdb, influx_db, topic_root, [detector]) as stack:
        service = stack.ingest()
        try:
            with MqttTestClient.connected(stack.broker, stack.admin) as watcher:
                watcher.subscribe(ALERT.subscription(root=topic_root))
                smoke(stack, detector.id, 1, active=True, ago_s=5)
                wait_until(lambda: len(alerts_seen(watcher)) >= 1, message="alert raised")
                smoke(stack, detector.id, 2, active=False, ago_s=1)
                wait_until(lambda: len(alerts_seen(watcher)) >= 2, message="alert cleared")
                raised, cleared = alerts_seen(watcher)[:2]
                topics = {m.topic for m in watcher.messages}
        finally:
            service.stop()

        assert topics == {ALERT.topic(root=topic_root, community="guangsha", rule="smoke")}
        assert (raised["change"], raised["state"], raised["severity"]) == (
            "raised",
            "active",
            "critical",
        )
        assert raised["device"] == detector.id
        assert (cleared["change"], cleared["state"]) == ("cleared", "cleared")
        assert cleared["alert_id"] == raised["alert_id"]

        store = AlertStore.open(stack.settings.state_db_url)
        try:
            stored = store.get(str(raised["alert_id"]))
            assert stored is not None
            assert stored.state == "cleared"
            assert [e.kind for e in store.timeline(stored.alert_id)] == ["raised", "cleared"]
        finally:
            store.close()

        exported = influxdb.query(
            'SELECT "alert_id" FROM "alerts" GROUP BY "change"', db=influx_db
        )["results"][0]["series"]
        assert {s["tags"]["change"] for s in exported} == {"raised", "cleared"}


def test_alerts_go_out_while_influxdb_is_down(
    mosquitto_factory: MosquittoFactory, influxdb: InfluxDB, influx_db: str, topic_root: str
) -> None:
    detector = pick_devices("guangsha", "smoke_detector", 1)[0]
    with ingest_slice(mosquitto_factory, influxdb, influx_db, topic_root, [detector]) as stack:
        stack.settings = stack.settings.model_copy(
            update={"influx_url": f"http://127.0.0.1:{free_port()}"}
        )
        service = stack.ingest()
        try:
            with MqttTestClient.connected(stack.broker, stack.admin) as watcher:
                watcher.subscribe(ALERT.subscription(root=topic_root))
                smoke(stack, detector.id, 1, active=True, ago_s=1)
                wait_until(lambda: len(alerts_seen(watcher)) >= 1, message="alert raised")
            assert service.counters.get("acked") == 0  # the points still wait for InfluxDB
        finally:
            service.stop()
        assert alerts_seen(watcher)[0]["severity"] == "critical"
