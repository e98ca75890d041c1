"""Accounts changed while the broker runs, through the dynamic-security plugin's control
topic: what the API does when a device is registered, disabled or deleted."""

import pytest

from hgj_brokeradmin.control import BrokerControlError, DynsecControl
from hgj_contracts import TELEMETRY
from hgj_devstack.accounts import admin_account, device_account, service_account
from hgj_devstack.mqtt_probe import CONNACK_ACCEPTED, try_connect
from tests.helpers import MosquittoFactory, MqttTestClient, unique_id, wait_until

pytestmark = pytest.mark.integration

COMMUNITY = "guangsha"


def logs_in(host: str, port: int, username: str, password: str) -> bool:
    code = try_connect(host, port, username, password, client_id=unique_id("probe-"))
    return code == CONNACK_ACCEPTED


def test_a_device_added_at_runtime_logs_in_and_publishes_only_its_own_topics(
    mosquitto_factory: MosquittoFactory, topic_root: str
) -> None:
    watcher_account = admin_account(topic_root)
    broker = mosquitto_factory([watcher_account])
    gate = device_account(topic_root, COMMUNITY, "gate-new")
    assert not logs_in(broker.host, broker.port, gate.username, gate.password)

    with DynsecControl(broker.host, broker.port, broker.control) as control:
        control.add_account(gate)

    own = TELEMETRY.topic(root=topic_root, community=COMMUNITY, device="gate-new")
    other = TELEMETRY.topic(root=topic_root, community=COMMUNITY, device="gate-old")
    with MqttTestClient.connected(broker, watcher_account) as watcher:
        watcher.subscribe(f"{topic_root}/#")
        with MqttTestClient.connected(broker, gate) as device:
            device.publish(other, b"forged")
            device.publish(own, b"own")
        watcher.wait_for_topic(own)
        assert [m.topic for m in watcher.messages] == [own]


def test_deleting_an_account_cuts_its_connection_and_refuses_the_next_login(
    mosquitto_factory: MosquittoFactory, topic_root: str
) -> None:
    gate = device_account(topic_root, COMMUNITY, "gate-revoked")
    broker = mosquitto_factory([admin_account(topic_root), gate])
    with MqttTestClient.connected(broker, gate) as device:
        assert device.is_connected
        with DynsecControl(broker.host, broker.port, broker.control) as control:
            control.remove_account(gate.username)
            control.remove_account(gate.username)  # absent already: not an error
        wait_until(lambda: not device.is_connected, message="revoked device disconnected")
    assert not logs_in(broker.host, broker.port, gate.username, gate.password)


def test_disabling_keeps_the_account_and_enabling_restores_the_login(
    mosquitto_factory: MosquittoFactory, topic_root: str
) -> None:
    gate = device_account(topic_root, COMMUNITY, "gate-paused")
    broker = mosquitto_factory([admin_account(topic_root), gate])
    with DynsecControl(broker.host, broker.port, broker.control) as control:
        control.set_enabled(gate.username, False)
        assert not logs_in(broker.host, broker.port, gate.username, gate.password)
        control.set_enabled(gate.username, True)
        assert logs_in(broker.host, broker.port, gate.username, gate.password)
        control.set_password(gate.username, "rotated-secret-value")
    assert not logs_in(broker.host, broker.port, gate.username, gate.password)
    assert logs_in(broker.host, broker.port, gate.username, "rotated-secret-value")


def test_accounts_added_at_runtime_survive_a_restart(
    mosquitto_factory: MosquittoFactory, topic_root: str
) -> None:
    broker = mosquitto_factory([admin_account(topic_root)])
    gate = device_account(topic_root, COMMUNITY, "gate-kept")
    with DynsecControl(broker.host, broker.port, broker.control) as control:
        control.add_accounts([gate, service_account(topic_root, "api")])
    broker.restart()
    assert logs_in(broker.host, broker.port, gate.username, gate.password)


def test_a_refused_command_says_why(mosquitto_factory: MosquittoFactory, topic_root: str) -> None:
    gate = device_account(topic_root, COMMUNITY, "gate-twice")
    broker = mosquitto_factory([admin_account(topic_root), gate])
    with (
        DynsecControl(broker.host, broker.port, broker.control) as control,
        pytest.raises(BrokerControlError, match="already exists"),
    ):
        control.add_account(gate)


def test_an_account_without_control_rights_gets_no_control_session(
    mosquitto_factory: MosquittoFactory, topic_root: str
) -> None:
    admin = admin_account(topic_root)
    broker = mosquitto_factory([admin])
    with pytest.raises(BrokerControlError, match="no control session"):
        DynsecControl(broker.host, broker.port, admin, timeout_s=2)
