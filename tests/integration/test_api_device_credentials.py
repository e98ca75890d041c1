"""Device credentials issued and revoked by the API on a real broker: the password the API
returns logs in and publishes the device's own topics; disabling cuts the connection and
refuses the next login; enabling again issues a password that works where the old one fails."""

from collections.abc import Iterator

import pytest

from hgj_api.broker_accounts import DynsecBrokerAccounts
from hgj_api.security.permissions import Role
from hgj_brokeradmin.acl import MqttAccount
from hgj_contracts import TELEMETRY
from hgj_devstack.accounts import admin_account
from hgj_devstack.mosquitto import Mosquitto
from hgj_devstack.mqtt_probe import CONNACK_ACCEPTED, try_connect
from tests.api_support import Api, api_settings, start_api
from tests.helpers import MosquittoFactory, MqttTestClient, unique_id, wait_until

pytestmark = pytest.mark.integration

GS = "guangsha"
DEVICE = "gs-gate-north"


@pytest.fixture
def admin(topic_root: str) -> MqttAccount:
    return admin_account(topic_root)


@pytest.fixture
def broker(mosquitto_factory: MosquittoFactory, admin: MqttAccount) -> Mosquitto:
    return mosquitto_factory([admin])


@pytest.fixture
def api(sqlite_state_db_url: str, broker: Mosquitto, topic_root: str) -> Iterator[Api]:
    accounts = DynsecBrokerAccounts(broker.host, broker.port, broker.control.password)
    settings = api_settings(sqlite_state_db_url, root=topic_root)
    try:
        yield from start_api(settings, broker_accounts=accounts)
    finally:
        accounts.close()


def logs_in(broker: Mosquitto, username: str, password: str) -> bool:
    code = try_connect(broker.host, broker.port, username, password, client_id=unique_id("p-"))
    return code == CONNACK_ACCEPTED


def test_issued_credentials_work_and_revocation_is_immediate(
    api: Api, broker: Mosquitto, admin: MqttAccount, topic_root: str
) -> None:
    api.seed_user("hq", [Role.ADMIN])
    hq = api.headers_for("hq")
    assert api.client.post(
        "/api/v1/communities", json={"id": GS, "name": "广厦小区"}, headers=hq
    ).is_success
    created = api.client.post(
        "/api/v1/devices", json={"community": GS, "id": DEVICE, "device_type": "gate"}, headers=hq
    )
    assert created.status_code == 201, created.text
    issued = created.json()["credentials"]
    device = MqttAccount(issued["username"], issued["password"], ())
    own = TELEMETRY.topic(root=topic_root, community=GS, device=DEVICE)
    with MqttTestClient.connected(broker, admin) as watcher:
        watcher.subscribe(f"{topic_root}/#")
        with MqttTestClient.connected(broker, device) as gate:
            assert gate.publish(own, b"hello") is not None
            watcher.wait_for_topic(own)
            disabled = api.client.post(f"/api/v1/devices/{GS}/{DEVICE}/disable", headers=hq)
            assert disabled.status_code == 200, disabled.text
            wait_until(lambda: not gate.is_connected, message="revoked gate disconnected")
    assert not logs_in(broker, device.username, device.password)

    enabled = api.client.post(f"/api/v1/devices/{GS}/{DEVICE}/enable", headers=hq).json()
    new_password = enabled["credentials"]["password"]
    assert logs_in(broker, device.username, new_password)
    assert not logs_in(broker, device.username, device.password)
