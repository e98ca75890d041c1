"""The edge outbox publisher against a real Mosquitto with per-device accounts and ACLs.

Delivery is checked at a subscriber with a persistent session (QoS 1, fixed client id), which
is how ingest consumes: what the broker queued for it while it was away must reach it, and
what the broker forgot must come again from the outbox.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from pydantic import SecretStr

from hgj_contracts import DEVICE_STATUS, TELEMETRY, device_tree_subscription
from hgj_devstack.accounts import MqttAccount, admin_account, device_account
from hgj_devstack.mosquitto import Mosquitto
from hgj_edge.outbox import Outbox
from hgj_edge.publisher import OutboxPublisher
from hgj_edge.settings import PublisherSettings
from tests.helpers import MosquittoFactory, MqttTestClient, wait_until

pytestmark = pytest.mark.integration

COMMUNITY = "guangsha"
DEVICE = "th-0001"
SUBSCRIBER = {"client_id": "ingest-like", "clean_start": False, "session_expiry": 3600}


@contextmanager
def running_publisher(
    broker: Mosquitto, account: MqttAccount, path: Path, window: int = 50
) -> Iterator[OutboxPublisher]:
    settings = PublisherSettings(
        host=broker.host,
        port=broker.port,
        client_id=account.username,
        username=account.username,
        password=SecretStr(account.password),
        inflight_window=window,
        reconnect_min_s=1,
        reconnect_max_s=1,
    )
    with Outbox(path) as outbox:
        publisher = OutboxPublisher(outbox, settings)
        publisher.start()
        try:
            yield publisher
        finally:
            publisher.close()


@pytest.fixture
def accounts(topic_root: str) -> tuple[MqttAccount, MqttAccount]:
    return admin_account(topic_root), device_account(topic_root, COMMUNITY, DEVICE)


def test_messages_reach_a_subscriber_in_order_with_the_channel_retain_flag(
    mosquitto_factory: MosquittoFactory,
    topic_root: str,
    accounts: tuple[MqttAccount, MqttAccount],
    tmp_path: Path,
) -> None:
    admin, device = accounts
    broker = mosquitto_factory([admin, device])
    telemetry = TELEMETRY.topic(root=topic_root, community=COMMUNITY, device=DEVICE)
    status = DEVICE_STATUS.topic(root=topic_root, community=COMMUNITY, device=DEVICE)
    expected = [b"%04d" % i for i in range(300)]

    with MqttTestClient.connected(broker, admin) as subscriber:
        subscriber.subscribe(device_tree_subscription(topic_root))
        with running_publisher(broker, device, tmp_path / "outbox.sqlite") as publisher:
            for payload in expected:
                publisher.put(telemetry, payload)
            publisher.put(status, b"online")
            assert publisher.flush(timeout=20)
            stats = publisher.stats()
            outbox = publisher.outbox.stats()
        received = subscriber.wait_for_messages(len(expected) + 1)

    assert [m.payload for m in received if m.topic == telemetry] == expected
    assert all(m.qos == 1 for m in received)
    assert (stats.acked, stats.publishes, stats.rejected) == (301, 301, 0)
    assert (outbox.unacked, outbox.acked_kept) == (0, 301)  # kept for the replay window
    with MqttTestClient.connected(broker, admin) as late:
        late.subscribe(status)
        retained = late.wait_for_topic(status)
    assert (retained.payload, retained.retain) == (b"online", True)


@pytest.mark.parametrize("failure", ["stop", "kill"])
def test_broker_stopped_or_killed_mid_stream_loses_nothing(
    mosquitto_factory: MosquittoFactory,
    topic_root: str,
    accounts: tuple[MqttAccount, MqttAccount],
    tmp_path: Path,
    failure: str,
) -> None:
    """``stop`` (SIGTERM) saves everything; ``kill`` (SIGKILL) loses what the broker took
    since its last snapshot, which the outbox's replay window sends again."""
    admin, device = accounts
    broker = mosquitto_factory([admin, device])
    telemetry = TELEMETRY.topic(root=topic_root, community=COMMUNITY, device=DEVICE)
    expected = {b"%05d" % i for i in range(1000)}
    with MqttTestClient.connected(broker, admin, **SUBSCRIBER) as subscriber:
        subscriber.subscribe(telemetry)  # then offline: the broker queues for the session
    broker.wait_for_snapshot()  # the session itself must survive a kill

    with running_publisher(broker, device, tmp_path / "outbox.sqlite") as publisher:
        done = threading.Event()

        def feed() -> None:
            for payload in sorted(expected):
                publisher.put(telemetry, payload)
                done.wait(0.002)

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        wait_until(lambda: publisher.stats().acked >= 400, message="400 acknowledged")
        if failure == "kill":
            broker.kill()
        else:
            broker.stop()
        acked_before = publisher.stats().acked
        broker.start()
        feeder.join(timeout=30)
        assert publisher.flush(timeout=30)
        stats = publisher.stats()

    with MqttTestClient.connected(broker, admin, **SUBSCRIBER) as subscriber:
        assert subscriber.session_present
        wait_until(
            lambda: {m.payload for m in subscriber.messages} >= expected,
            timeout=30,
            message="every message at the subscriber",
        )
    assert 400 <= acked_before < len(expected)
    assert stats.connects == 2
    assert stats.replayed > 0  # acknowledged within the window before the drop: sent again


def test_a_publish_the_acl_denies_is_rejected_once_and_not_retried(
    mosquitto_factory: MosquittoFactory,
    topic_root: str,
    accounts: tuple[MqttAccount, MqttAccount],
    tmp_path: Path,
) -> None:
    admin, device = accounts
    broker = mosquitto_factory([admin, device])
    own = TELEMETRY.topic(root=topic_root, community=COMMUNITY, device=DEVICE)
    # A contract-valid topic of another device: the broker answers PUBACK 0x87.
    other = TELEMETRY.topic(root=topic_root, community=COMMUNITY, device="th-0002")

    with MqttTestClient.connected(broker, admin) as subscriber:
        subscriber.subscribe(device_tree_subscription(topic_root))
        with running_publisher(broker, device, tmp_path / "outbox.sqlite") as publisher:
            denied = publisher.put(other, b"not mine")
            publisher.put(own, b"sentinel")
            assert publisher.flush(timeout=10)
            subscriber.wait_for_topic(own)
            stats = publisher.stats()
            outbox = publisher.outbox
            [rejected] = outbox.rejected_messages()
            assert outbox.stats().rejected == {"telemetry": 1}
            assert [m.id for m in outbox.next_unsent(10)] == []

            broker.restart()  # a reconnect replays the window, but never the rejected message
            wait_until(lambda: publisher.stats().connects == 2, message="reconnected")
            assert publisher.flush(timeout=10)
            replay = publisher.last_replay
        assert [m.topic for m in subscriber.messages] == [own]

    assert (rejected.id, rejected.topic, rejected.reason_code) == (denied, other, 0x87)
    assert (stats.publishes, stats.acked, stats.rejected) == (2, 1, 1)
    assert replay is not None
    assert denied not in replay.replayed_ids
