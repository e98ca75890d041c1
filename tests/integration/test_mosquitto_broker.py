"""The real broker as the harness starts it: logins, reloads, durability, queues and limits."""

import pytest

from hgj_contracts import TELEMETRY
from hgj_devstack.accounts import MqttAccount, admin_account, device_account, service_account
from hgj_devstack.mosquitto import Mosquitto
from tests.helpers import ConnectRefusedError, MosquittoFactory, MqttTestClient, wait_until

pytestmark = pytest.mark.integration


def test_only_known_logins_are_accepted(
    mosquitto_factory: MosquittoFactory, topic_root: str
) -> None:
    admin = admin_account(topic_root)
    broker = mosquitto_factory([admin])

    with pytest.raises(ConnectRefusedError):
        MqttTestClient(broker.host, broker.port, None).connect()
    with pytest.raises(ConnectRefusedError):
        MqttTestClient(broker.host, broker.port, MqttAccount("admin", "wrong", ())).connect()
    with pytest.raises(ConnectRefusedError):
        MqttTestClient(
            broker.host, broker.port, MqttAccount("nobody", admin.password, ())
        ).connect()
    with MqttTestClient.connected(broker, admin):
        pass


def test_accounts_added_at_runtime_work_without_a_restart(
    mosquitto_factory: MosquittoFactory, topic_root: str
) -> None:
    admin = admin_account(topic_root)
    broker = mosquitto_factory([admin])
    device = device_account(topic_root, "guangsha", "gate-1")
    topic = TELEMETRY.topic(root=topic_root, community="guangsha", device="gate-1")

    with MqttTestClient.connected(broker, admin) as watcher:
        watcher.subscribe(f"{topic_root}/#")
        broker.add_accounts([device])
        # The watcher's connection survived the reload, and the new ACL applies at once.
        with MqttTestClient.connected(broker, device) as gate:
            gate.publish(topic, b"{}")
        assert watcher.wait_for_topic(topic).payload == b"{}"


def test_queued_message_survives_kill_and_restart(
    mosquitto_factory: MosquittoFactory, topic_root: str
) -> None:
    """A QoS1 message queued for an offline persistent session outlives ``kill -9``."""
    ingest = service_account(topic_root, "ingest")
    device = device_account(topic_root, "guangsha", "meter-7")
    broker = mosquitto_factory([ingest, device])
    session = {"client_id": "ingest-0", "clean_start": False, "session_expiry": 3600}
    topic = TELEMETRY.topic(root=topic_root, community="guangsha", device="meter-7")

    with MqttTestClient.connected(broker, ingest, **session) as subscriber:
        subscriber.subscribe(TELEMETRY.subscription(root=topic_root))
    with MqttTestClient.connected(broker, device) as meter:
        meter.publish(topic, b'{"seq": 1}')
    broker.wait_for_snapshot()  # saved every ~2 s, not per message: see deploy/mosquitto
    broker.kill()
    broker.start()

    with MqttTestClient.connected(broker, ingest, **session) as subscriber:
        assert subscriber.session_present
        [message] = subscriber.wait_for_messages(1)
    assert (message.topic, message.payload, message.qos) == (topic, b'{"seq": 1}', 1)


def test_restart_keeps_the_port_and_the_sessions(
    mosquitto_factory: MosquittoFactory, topic_root: str
) -> None:
    admin = admin_account(topic_root)
    broker = mosquitto_factory([admin])
    port = broker.port
    session = {"client_id": "watcher", "clean_start": False, "session_expiry": 3600}
    with MqttTestClient.connected(broker, admin, **session) as watcher:
        watcher.subscribe(f"{topic_root}/#")

    broker.restart()  # SIGTERM: the broker saves on the way out, no snapshot wait needed

    assert broker.port == port
    with MqttTestClient.connected(broker, admin) as publisher:
        publisher.publish(f"{topic_root}/x", b"after restart")
    with MqttTestClient.connected(broker, admin, **session) as watcher:
        assert watcher.session_present
        assert watcher.wait_for_messages(1)[0].payload == b"after restart"


def test_subscriber_acking_after_a_batch_is_not_throttled_to_20(
    mosquitto_factory: MosquittoFactory, topic_root: str
) -> None:
    """With manual acks and no Receive Maximum of its own (paho's default), a subscriber gets
    a whole 5,000-message batch before acknowledging any: max_inflight_messages is the window.
    """
    ingest = service_account(topic_root, "ingest")
    device = device_account(topic_root, "guangsha", "meter-7")
    broker = mosquitto_factory([ingest, device])
    topic = TELEMETRY.topic(root=topic_root, community="guangsha", device="meter-7")
    batch = 5_100

    with MqttTestClient.connected(broker, ingest, manual_ack=True) as subscriber:
        subscriber.subscribe(TELEMETRY.subscription(root=topic_root))
        with MqttTestClient.connected(broker, device) as meter:
            meter.publish_many(topic, [str(i).encode() for i in range(batch)])
        received = subscriber.wait_for_messages(batch)
        assert [int(m.payload) for m in received] == list(range(batch))
        for message in received:
            subscriber.ack(message)


def test_payload_over_the_contract_cap_still_reaches_ingest(
    mosquitto_factory: MosquittoFactory, topic_root: str
) -> None:
    """16 KiB is the contract's cap, not the broker's: ingest must see it to dead-letter it."""
    ingest = service_account(topic_root, "ingest")
    device = device_account(topic_root, "guangsha", "meter-7")
    broker = mosquitto_factory([ingest, device])
    topic = TELEMETRY.topic(root=topic_root, community="guangsha", device="meter-7")
    oversize = b"x" * (64 * 1024)

    with MqttTestClient.connected(broker, ingest) as subscriber:
        subscriber.subscribe(TELEMETRY.subscription(share_group="ingest", root=topic_root))
        with MqttTestClient.connected(broker, device) as meter:
            meter.publish(topic, oversize)
        assert subscriber.wait_for_messages(1)[0].payload == oversize


def test_packet_over_the_broker_limit_disconnects_only_its_sender(
    mosquitto_factory: MosquittoFactory, topic_root: str
) -> None:
    admin = admin_account(topic_root)
    broker: Mosquitto = mosquitto_factory([admin])

    with MqttTestClient.connected(broker, admin) as watcher:
        watcher.subscribe(f"{topic_root}/#")
        with MqttTestClient.connected(broker, admin) as sender:
            with pytest.raises(ConnectionError, match="connection lost"):
                sender.publish(f"{topic_root}/huge", b"x" * (300 * 1024))
            # The broker says "packet too large" in a DISCONNECT, but paho may fail its write
            # first and report only the lost connection, so the reason is not asserted.
            wait_until(lambda: not sender.is_connected, message="sender disconnected")
        with MqttTestClient.connected(broker, admin) as other:
            other.publish(f"{topic_root}/small", b"ok")
        assert [m.topic for m in watcher.wait_for_messages(1)] == [f"{topic_root}/small"]
