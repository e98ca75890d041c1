"""The outbox publisher's pump against a fake paho client the test drives by hand: the
in-flight window, PUBACK reason codes, paho refusing a publish, and what is sent after a
reconnect. The real broker is in tests/integration/test_edge_publisher.py."""

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from hgj_contracts import DEVICE_STATUS, TELEMETRY
from hgj_edge import publisher as publisher_module
from hgj_edge.outbox import Outbox
from hgj_edge.publisher import OutboxPublisher
from hgj_edge.settings import PublisherSettings
from tests.helpers import wait_until

IDS = {"root": "hgj", "community": "guangsha", "device": "th-0001"}
TELEMETRY_TOPIC = TELEMETRY.topic(**IDS)
STATUS_TOPIC = DEVICE_STATUS.topic(**IDS)


@dataclass(frozen=True)
class Sent:
    mid: int
    topic: str
    payload: bytes
    retain: bool


class FakeClient:
    """Stands in for paho: records publishes, and the test calls the callbacks paho would."""

    def __init__(self) -> None:
        self.sent: list[Sent] = []
        self.refuse: list[MQTTErrorCode] = []
        self._mid = 0
        self._lock = threading.Lock()
        self.on_connect: mqtt.CallbackOnConnect_v2 | None = None
        self.on_disconnect: mqtt.CallbackOnDisconnect_v2 | None = None
        self.on_publish: mqtt.CallbackOnPublish_v2 | None = None

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> mqtt.MQTTMessageInfo:
        with self._lock:
            self._mid += 1
            info = mqtt.MQTTMessageInfo(self._mid)
            if self.refuse:
                info.rc = self.refuse.pop(0)
            else:
                self.sent.append(Sent(self._mid, topic, payload, retain))
            return info

    def connect_async(self, *args: object, **kwargs: object) -> None:
        pass

    def loop_start(self) -> None:
        pass

    def disconnect(self) -> None:
        pass

    def loop_stop(self) -> None:
        pass

    def _reset_sockets(self) -> None:
        pass

    # what the broker does, through paho's callbacks

    def connack(self) -> None:
        assert self.on_connect is not None
        success = ReasonCode(PacketTypes.CONNACK, identifier=0)
        self.on_connect(self, None, mqtt.ConnectFlags(session_present=True), success, None)  # type: ignore[arg-type]

    def drop(self) -> None:
        assert self.on_disconnect is not None
        lost = ReasonCode(PacketTypes.DISCONNECT, identifier=0x80)
        flags = mqtt.DisconnectFlags(is_disconnect_packet_from_server=False)
        self.on_disconnect(self, None, flags, lost, None)  # type: ignore[arg-type]

    def puback(self, payload: bytes, code: int = 0) -> None:
        assert self.on_publish is not None
        mid = next(s.mid for s in reversed(self.sent) if s.payload == payload)
        reason = ReasonCode(PacketTypes.PUBACK, identifier=code)
        self.on_publish(self, None, mid, reason, None)  # type: ignore[arg-type]

    def payloads(self) -> list[bytes]:
        with self._lock:
            return [s.payload for s in self.sent]


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> FakeClient:
    fake = FakeClient()
    monkeypatch.setattr(publisher_module, "make_client", lambda settings, will: fake)
    return fake


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    with Outbox(tmp_path / "outbox.sqlite") as box:
        yield box


def start(outbox: Outbox, window: int) -> OutboxPublisher:
    settings = PublisherSettings(host="127.0.0.1", client_id="th-0001", inflight_window=window)
    publisher = OutboxPublisher(outbox, settings)
    publisher.start()
    return publisher


@pytest.fixture
def running(outbox: Outbox, client: FakeClient) -> Iterator[OutboxPublisher]:
    publisher = start(outbox, window=3)
    try:
        yield publisher
    finally:
        publisher.close()


def wait_sent(client: FakeClient, expected: list[bytes]) -> None:
    wait_until(lambda: client.payloads() == expected, message=f"sent {expected}")


def put_all(publisher: OutboxPublisher, *payloads: bytes) -> None:
    for payload in payloads:
        publisher.put(TELEMETRY_TOPIC, payload)


def test_nothing_is_sent_before_the_connection_and_then_at_most_the_window(
    running: OutboxPublisher, client: FakeClient
) -> None:
    put_all(running, b"1", b"2", b"3", b"4", b"5")
    assert not running.flush(timeout=0.1)
    assert client.payloads() == []
    client.connack()
    wait_sent(client, [b"1", b"2", b"3"])
    client.puback(b"2")  # out of order: still one slot
    wait_sent(client, [b"1", b"2", b"3", b"4"])
    for payload in (b"1", b"3", b"4"):
        client.puback(payload)
    wait_sent(client, [b"1", b"2", b"3", b"4", b"5"])
    client.puback(b"5")
    assert running.flush(timeout=5)
    assert running.stats().acked == 5
    assert running.outbox.stats().acked_kept == 5


def test_no_matching_subscribers_is_an_ack_and_a_refusal_is_rejected_not_retried(
    running: OutboxPublisher, client: FakeClient
) -> None:
    put_all(running, b"nobody listens", b"not mine", b"over quota")
    client.connack()
    wait_sent(client, [b"nobody listens", b"not mine", b"over quota"])
    client.puback(b"nobody listens", 0x10)
    client.puback(b"not mine", 0x87)
    client.puback(b"over quota", 0x97)
    assert running.flush(timeout=5)
    stats = running.stats()
    assert (stats.acked, stats.rejected, stats.publishes) == (1, 2, 3)
    reasons = {r.reason_code for r in running.outbox.rejected_messages()}
    assert reasons == {0x87, 0x97}
    assert running.outbox.stats().rejected == {"telemetry": 2}


def test_a_publish_paho_refuses_stays_in_the_outbox_and_is_offered_again(
    running: OutboxPublisher, client: FakeClient
) -> None:
    client.refuse.append(mqtt.MQTT_ERR_QUEUE_SIZE)
    client.connack()
    put_all(running, b"1", b"2")
    wait_sent(client, [b"1", b"2"])  # the refused first attempt left no gap and no reorder
    client.puback(b"1")
    client.puback(b"2")
    assert running.flush(timeout=5)
    assert running.stats().publish_refused == 1


def test_after_a_reconnect_paho_resends_its_own_then_the_unacked_go_then_the_replays(
    outbox: Outbox, client: FakeClient
) -> None:
    publisher = start(outbox, window=2)
    try:
        publisher.put(STATUS_TOPIC, b"online")
        put_all(publisher, b"t1", b"t2", b"t3")
        client.connack()
        wait_sent(client, [b"online", b"t1"])
        client.puback(b"online")
        client.puback(b"t1")
        wait_sent(client, [b"online", b"t1", b"t2", b"t3"])
        publisher.put(STATUS_TOPIC, b"busy")  # supersedes "online"
        put_all(publisher, b"t4")

        client.drop()
        wait_until(lambda: not publisher.connected, message="the drop seen")
        client.connack()  # paho itself re-sends t2 and t3, still in flight
        wait_until(lambda: publisher.stats().connects == 2, message="reconnected")
        client.puback(b"t2")
        client.puback(b"t3")
        sent_before = [b"online", b"t1", b"t2", b"t3"]
        wait_sent(client, [*sent_before, b"busy", b"t4"])  # never acknowledged: first
        client.puback(b"busy")
        client.puback(b"t4")
        wait_sent(client, [*sent_before, b"busy", b"t4", b"online", b"t1"])  # the window
        client.puback(b"online")
        client.puback(b"t1")
        assert publisher.flush(timeout=5)

        stats = publisher.stats()
        assert (stats.replayed, stats.resent_in_flight, stats.publishes) == (2, 2, 8)
        assert client.sent[4].retain  # "busy", the newest status
        replayed_online = client.sent[6]
        assert not replayed_online.retain  # must not overwrite "busy" in the retained slot
    finally:
        publisher.close()
