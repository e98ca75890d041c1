"""Broker accounts: exact ACL and password-file text derived from the contract registry."""

import pytest

from hgj_devstack.accounts import (
    AclRule,
    MqttAccount,
    admin_account,
    device_account,
    render_acl,
    render_password_plaintext,
    service_account,
)


def test_device_account_publishes_its_channels_and_reads_its_commands() -> None:
    account = device_account("hgj", "guangsha", "gs-b01-smoke-f05", password="pw")
    assert account.username == "guangsha.gs-b01-smoke-f05"
    assert render_acl([account]) == (
        "user guangsha.gs-b01-smoke-f05\n"
        "topic write hgj/guangsha/dev/gs-b01-smoke-f05/status\n"
        "topic write hgj/guangsha/dev/gs-b01-smoke-f05/telemetry\n"
        "topic write hgj/guangsha/dev/gs-b01-smoke-f05/event/+\n"
        "topic write hgj/guangsha/dev/gs-b01-smoke-f05/state\n"
        "topic read hgj/guangsha/dev/gs-b01-smoke-f05/cmd/+\n"
        "topic write hgj/guangsha/dev/gs-b01-smoke-f05/cmd_result/+\n"
    )


def test_service_account_reads_everything_and_writes_its_own_channels() -> None:
    account = service_account("hgj", "ingest", password="pw")
    assert account.username == "svc.ingest"
    assert render_acl([account]) == (
        "user svc.ingest\n"
        "topic read hgj/#\n"
        "topic write hgj/_svc/ingest/status\n"
        "topic write hgj/_svc/ingest/deadletter\n"
        "topic write hgj/+/alert/+\n"
    )


def test_admin_account_reads_and_writes_the_whole_root() -> None:
    account = admin_account("hgj", password="pw")
    assert account.username == "admin"
    assert account.rules == (AclRule("readwrite", "hgj/#"),)


def test_acl_file_separates_users_with_a_blank_line() -> None:
    text = render_acl([admin_account("hgj", "a"), service_account("hgj", "api", "b")])
    assert text.startswith("user admin\ntopic readwrite hgj/#\n\nuser svc.api\n")


def test_password_plaintext_has_one_line_per_account() -> None:
    accounts = [
        device_account("hgj", "guangsha", "gate-1", password="s3cret"),
        service_account("hgj", "ingest", password="other"),
    ]
    assert render_password_plaintext(accounts) == "guangsha.gate-1:s3cret\nsvc.ingest:other\n"


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
        render_acl([admin_account("hgj"), admin_account("hgj")])


def test_line_breaks_cannot_smuggle_extra_accounts() -> None:
    sneaky = MqttAccount("admin", "pw\nroot:pw", ())
    with pytest.raises(ValueError, match="line break"):
        render_password_plaintext([sneaky])
    with pytest.raises(ValueError, match="cannot be written"):
        render_acl([MqttAccount("a\nuser b", "pw", ())])
