"""ACLs derived from the contract, enforced by the real broker.

A denied publish is acknowledged (on MQTT 3.1.1 as success) and not logged, so each test
proves non-delivery with a sentinel: the forbidden message first, then an allowed one on the
same connection; once the allowed one has arrived, the forbidden one would have too.
"""

import pytest
from paho.mqtt.reasoncodes import ReasonCode

from hgj_contracts import ALERT, COMMAND, DEAD_LETTER, SERVICE_STATUS, TELEMETRY
from hgj_devstack.accounts import admin_account, device_account, service_account
from tests.helpers import MosquittoFactory, MqttTestClient, wait_until

pytestmark = pytest.mark.integration

COMMUNITY = "guangsha"


def test_device_cannot_publish_as_another_device(
    mosquitto_factory: MosquittoFactory, topic_root: str
) -> None:
    admin = admin_account(topic_root)
    device_a = device_account(topic_root, COMMUNITY, "gate-a")
    device_b = device_account(topic_root, COMMUNITY, "gate-b")
    broker = mosquitto_factory([admin, device_a, device_b])
    topic_a = TELEMETRY.topic(root=topic_root, community=COMMUNITY, device="gate-a")
    topic_b = TELEMETRY.topic(root=topic_root, community=COMMUNITY, device="gate-b")

    with MqttTestClient.connected(broker, admin) as watcher:
        watcher.subscribe(f"{topic_root}/#")
        with MqttTestClient.connected(broker, device_a) as gate_a:
            forged = gate_a.publish(topic_b, b"forged")
            gate_a.publish(topic_a, b"own")
        watcher.wait_for_topic(topic_a)
        assert [(m.topic, m.payload) for m in watcher.messages] == [(topic_a, b"own")]
    # MQTT 5 publishers do learn about the refusal, in the PUBACK reason code.
    assert forged == ReasonCode(4, "Not authorized")  # 4: PUBACK (paho's packet type id)


def test_device_cannot_read_another_devices_commands(
    mosquitto_factory: MosquittoFactory, topic_root: str
) -> None:
    admin = admin_account(topic_root)
    device_a = device_account(topic_root, COMMUNITY, "gate-a")
    broker = mosquitto_factory([admin, device_a])
    command_a = COMMAND.topic(root=topic_root, community=COMMUNITY, device="gate-a", action="open")
    command_b = COMMAND.topic(root=topic_root, community=COMMUNITY, device="gate-b", action="open")

    with MqttTestClient.connected(broker, device_a) as gate_a:
        # The dynamic-security plugin refuses a subscription no role allows, at SUBACK.
        (other,) = gate_a.subscribe(
            COMMAND.subscription(root=topic_root, community=COMMUNITY, device="gate-b")
        )
        (everything,) = gate_a.subscribe(f"{topic_root}/#")
        assert other.is_failure
        assert everything.is_failure
        (own,) = gate_a.subscribe(
            COMMAND.subscription(root=topic_root, community=COMMUNITY, device="gate-a")
        )
        assert not own.is_failure
        with MqttTestClient.connected(broker, admin) as api:
            api.publish(command_b, b"for b")
            api.publish(command_a, b"for a")
        gate_a.wait_for_topic(command_a)
        assert {(m.topic, m.payload) for m in gate_a.messages} == {(command_a, b"for a")}


def test_device_cannot_forge_commands_to_itself(
    mosquitto_factory: MosquittoFactory, topic_root: str
) -> None:
    admin = admin_account(topic_root)
    device_a = device_account(topic_root, COMMUNITY, "gate-a")
    broker = mosquitto_factory([admin, device_a])
    command = COMMAND.topic(root=topic_root, community=COMMUNITY, device="gate-a", action="open")
    telemetry = TELEMETRY.topic(root=topic_root, community=COMMUNITY, device="gate-a")

    with MqttTestClient.connected(broker, admin) as watcher:
        watcher.subscribe(f"{topic_root}/#")
        with MqttTestClient.connected(broker, device_a) as gate_a:
            gate_a.publish(command, b"open yourself")
            gate_a.publish(telemetry, b"sentinel")
        watcher.wait_for_topic(telemetry)
        assert [m.topic for m in watcher.messages] == [telemetry]


def test_service_publishes_its_own_channels_and_alerts_only(
    mosquitto_factory: MosquittoFactory, topic_root: str
) -> None:
    admin = admin_account(topic_root)
    ingest = service_account(topic_root, "ingest")
    broker = mosquitto_factory([admin, ingest])
    allowed = [
        ALERT.topic(root=topic_root, community=COMMUNITY, rule="smoke"),
        SERVICE_STATUS.topic(root=topic_root, service="ingest"),
        DEAD_LETTER.topic(root=topic_root, service="ingest"),
    ]
    forbidden = [
        TELEMETRY.topic(root=topic_root, community=COMMUNITY, device="gate-a"),
        COMMAND.topic(root=topic_root, community=COMMUNITY, device="gate-a", action="open"),
        SERVICE_STATUS.topic(root=topic_root, service="api"),
    ]

    with MqttTestClient.connected(broker, admin) as watcher:
        watcher.subscribe(f"{topic_root}/#")
        with MqttTestClient.connected(broker, ingest) as service:
            for topic in forbidden + allowed:
                service.publish(topic, b"{}")
        watcher.wait_for_topic(allowed[-1])
        assert [m.topic for m in watcher.messages] == allowed


def test_ingest_workers_share_a_subscription(
    mosquitto_factory: MosquittoFactory, topic_root: str
) -> None:
    """``$share/ingest/...`` is allowed by the service's read rule on ``{root}/#``: Mosquitto
    checks the filter without its ``$share/GROUP/`` prefix. Each message reaches one worker."""
    ingest = service_account(topic_root, "ingest")
    device = device_account(topic_root, COMMUNITY, "meter-7")
    broker = mosquitto_factory([ingest, device])
    shared = TELEMETRY.subscription(share_group="ingest", root=topic_root)
    topic = TELEMETRY.topic(root=topic_root, community=COMMUNITY, device="meter-7")
    sent = [str(i).encode() for i in range(20)]

    with (
        MqttTestClient.connected(broker, ingest) as worker_1,
        MqttTestClient.connected(broker, ingest) as worker_2,
    ):
        assert worker_1.subscribe(shared) == [ReasonCode(9, "Granted QoS 1")]
        assert worker_2.subscribe(shared) == [ReasonCode(9, "Granted QoS 1")]
        with MqttTestClient.connected(broker, device) as meter:
            meter.publish_many(topic, sent)
        wait_until(lambda: len(worker_1.messages) + len(worker_2.messages) >= len(sent))
        got_1 = [m.payload for m in worker_1.messages]
        got_2 = [m.payload for m in worker_2.messages]
    assert sorted(got_1 + got_2, key=int) == sent  # every message once, none twice
    assert got_1, "the load was split"
    assert got_2, "the load was split"
