"""Broker accounts: exact ACLs derived from the contract registry, and their rendering for
Mosquitto's dynamic-security plugin (config file and runtime commands)."""

import base64
import hashlib

import pytest

from hgj_brokeradmin.dynsec import (
    add_account_commands,
    merge_config,
    remove_account_commands,
    render_config,
    role_entry,
)
from hgj_devstack.accounts import (
    AclRule,
    MqttAccount,
    admin_account,
    api_account,
    control_account,
    device_account,
    service_account,
)


def test_device_account_publishes_its_channels_and_reads_its_commands() -> None:
    account = device_account("hgj", "guangsha", "gs-b01-smoke-f05", password="pw")
    assert account.username == "guangsha.gs-b01-smoke-f05"
    base = "hgj/guangsha/dev/gs-b01-smoke-f05"
    assert account.rules == (
        AclRule("write", f"{base}/status"),
        AclRule("write", f"{base}/telemetry"),
        AclRule("write", f"{base}/event/+"),
        AclRule("write", f"{base}/state"),
        AclRule("read", f"{base}/cmd/+"),
        AclRule("write", f"{base}/cmd_result/+"),
    )


def test_service_account_reads_everything_and_writes_its_own_channels() -> None:
    account = service_account("hgj", "ingest", password="pw")
    assert account.username == "svc.ingest"
    assert account.rules == (
        AclRule("read", "hgj/#"),
        AclRule("write", "hgj/_svc/ingest/status"),
        AclRule("write", "hgj/_svc/ingest/deadletter"),
        AclRule("write", "hgj/+/alert/+"),
    )


def test_api_account_adds_commands_and_progress_for_every_device() -> None:
    account = api_account("hgj", "api-2", password="pw")
    assert account.username == "svc.api-2"
    assert account.rules == (
        AclRule("read", "hgj/#"),
        AclRule("write", "hgj/_svc/api-2/status"),
        AclRule("write", "hgj/_svc/api-2/deadletter"),
        AclRule("write", "hgj/+/alert/+"),
        AclRule("write", "hgj/+/dev/+/cmd/+"),
        AclRule("write", "hgj/+/cmd_progress/+"),
    )
    # Nothing a device publishes: the API must not be able to speak as a device.
    assert not any(
        rule.topic.endswith(("/status", "/telemetry")) and "dev" in rule.topic
        for rule in account.rules
        if rule.access != "read"
    )


def test_the_api_role_subscribes_shared_and_publishes_commands() -> None:
    role = role_entry(api_account("hgj", "api-1", password="pw"))
    acls = {(a["acltype"], a["topic"]) for a in role["acls"]}
    assert ("subscribePattern", "$share/+/hgj/#") in acls
    assert ("publishClientSend", "hgj/+/dev/+/cmd/+") in acls
    assert ("publishClientSend", "hgj/+/dev/+/cmd_result/+") not in acls


def test_admin_account_reads_and_writes_the_whole_root() -> None:
    account = admin_account("hgj", password="pw")
    assert account.username == "admin"
    assert account.rules == (AclRule("readwrite", "hgj/#"),)


def test_a_role_per_account_allows_shared_subscriptions_for_reads() -> None:
    role = role_entry(service_account("hgj", "ingest", password="pw"))
    assert role["rolename"] == "svc.ingest"
    acls = {(a["acltype"], a["topic"]) for a in role["acls"]}
    assert ("subscribePattern", "hgj/#") in acls
    assert ("subscribePattern", "$share/+/hgj/#") in acls
    assert ("publishClientSend", "hgj/+/alert/+") in acls
    assert ("publishClientSend", "hgj/#") not in acls
    assert all(a["allow"] is True for a in role["acls"])


def test_control_account_manages_accounts_and_touches_no_device_topic() -> None:
    role = role_entry(control_account("pw"))
    topics = {a["topic"] for a in role["acls"]}
    assert topics == {"$CONTROL/dynamic-security/#"}


def test_config_hashes_passwords_as_the_plugin_checks_them() -> None:
    config = render_config([device_account("hgj", "guangsha", "gate-1", password="s3cret")])
    (client,) = config["clients"]
    salt = base64.b64decode(client["salt"])
    expected = hashlib.pbkdf2_hmac("sha512", b"s3cret", salt, client["iterations"], 64)
    assert base64.b64decode(client["password"]) == expected
    assert "s3cret" not in str(config)
    assert client["roles"] == [{"rolename": "guangsha.gate-1"}]
    assert config["defaultACLAccess"]["publishClientSend"] is False
    assert config["defaultACLAccess"]["subscribe"] is False


def test_merge_keeps_accounts_the_broker_added_and_replaces_same_names() -> None:
    first = render_config([admin_account("hgj", "a"), device_account("hgj", "gs", "d1", "b")])
    merged = merge_config(first, [admin_account("hgj", "new")])
    names = [c["username"] for c in merged["clients"]]
    assert sorted(names) == ["admin", "gs.d1"]
    admin = next(c for c in merged["clients"] if c["username"] == "admin")
    assert admin != next(c for c in first["clients"] if c["username"] == "admin")
    assert [r["rolename"] for r in merged["roles"]].count("admin") == 1


def test_runtime_commands_create_and_delete_a_role_with_its_client() -> None:
    account = device_account("hgj", "guangsha", "gate-1", password="pw")
    create = add_account_commands(account)
    assert [c["command"] for c in create] == ["createRole", "createClient"]
    assert create[1]["roles"] == [{"rolename": "guangsha.gate-1"}]
    delete = remove_account_commands("guangsha.gate-1")
    assert [c["command"] for c in delete] == ["deleteClient", "deleteRole"]


def test_generated_passwords_are_random_and_kept_out_of_repr() -> None:
    first, second = admin_account("hgj"), admin_account("hgj")
    assert first.password != second.password
    assert len(first.password) >= 24
    assert first.password not in repr(first)


@pytest.mark.parametrize("bad", ["Guangsha", "_svc", "a.b", "+", "#", ""])
def test_ids_are_validated(bad: str) -> None:
    with pytest.raises(ValueError, match="not an id"):
        device_account("hgj", bad, "d1")
    with pytest.raises(ValueError, match="not an id"):
        service_account(bad, "ingest")


def test_duplicate_usernames_are_refused() -> None:
    with pytest.raises(ValueError, match="given twice"):
        render_config([admin_account("hgj"), admin_account("hgj")])


@pytest.mark.parametrize("name", ["a\nb", "a b", "a/b", "", "a+b"])
def test_odd_usernames_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="not a valid broker account name"):
        render_config([MqttAccount(name, "pw", ())])
