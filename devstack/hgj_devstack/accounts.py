"""MQTT accounts and their ACLs, derived from the contract registry.

Every rule is built from a channel of ``hgj_contracts`` (``Channel.topic``/``subscription``),
so an ACL can never drift from the topics the code really uses. The broker enforces least
privilege per device: a compromised camera can publish only as itself and read only its own
commands. Mosquitto acknowledges a denied publish as a success on MQTT 3.1.1 (on MQTT 5 the
PUBACK says "not authorized"), so these rules are tested by asserting non-delivery
(tests/integration/test_mosquitto_acl.py).
"""

import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from hgj_contracts import ALERT, DEAD_LETTER, SERVICE_STATUS, Publisher, device_channels
from hgj_contracts.ids import check_identifier

Access = Literal["read", "write", "readwrite"]

ADMIN_USERNAME = "admin"
SERVICE_PREFIX = "svc"


@dataclass(frozen=True)
class AclRule:
    """One ``topic ACCESS FILTER`` line of a Mosquitto acl_file."""

    access: Access
    topic: str


@dataclass(frozen=True)
class MqttAccount:
    """A broker login and what it may do. The password is kept out of repr (test output)."""

    username: str
    password: str = field(repr=False)
    rules: tuple[AclRule, ...]


def new_password() -> str:
    # token_urlsafe never yields ':' or whitespace, which the password file format reserves.
    return secrets.token_urlsafe(24)


def device_account(
    root: str, community: str, device: str, password: str | None = None
) -> MqttAccount:
    """The account of one device: publish its own channels, read its own commands.

    The username joins community and device with a dot; ids cannot contain dots, so the
    name is unambiguous and the broker log says which device a connection belongs to.
    """
    ids = {"root": root, "community": community, "device": device}
    rules = []
    for channel in device_channels():
        # Fixing root/community/device and leaving kind/action as '+' gives one rule per
        # channel that covers every event kind and command action of this device only.
        topic = channel.subscription(**ids)
        if channel.publisher is Publisher.DEVICE:
            rules.append(AclRule("write", topic))
        elif channel.publisher is Publisher.API:
            rules.append(AclRule("read", topic))
    return MqttAccount(
        username=f"{check_identifier(community, 'community')}.{check_identifier(device, 'device')}",
        password=password if password is not None else new_password(),
        rules=tuple(rules),
    )


def service_account(root: str, service: str, password: str | None = None) -> MqttAccount:
    """The account of a platform service (ingest, api, ...).

    Services read the whole tree (ingest consumes everything devices send, the API follows
    alerts), publish their own presence and dead letters, and publish alerts for any
    community. Read access on ``{root}/#`` also admits shared subscriptions
    (``$share/GROUP/{root}/...``): Mosquitto checks a shared subscription against the filter
    without its ``$share/GROUP/`` prefix, which the integration tests confirm.
    """
    rules = (
        AclRule("read", root_filter(root)),
        AclRule("write", SERVICE_STATUS.topic(root=root, service=service)),
        AclRule("write", DEAD_LETTER.topic(root=root, service=service)),
        AclRule("write", ALERT.subscription(root=root)),
    )
    return MqttAccount(
        username=f"{SERVICE_PREFIX}.{service}",
        password=password if password is not None else new_password(),
        rules=rules,
    )


def admin_account(root: str, password: str | None = None) -> MqttAccount:
    """Read and write anything under the root: operator tools, and tests that inject bad input
    on arbitrary topics (which no contract channel would let them build)."""
    return MqttAccount(
        username=ADMIN_USERNAME,
        password=password if password is not None else new_password(),
        rules=(AclRule("readwrite", root_filter(root)),),
    )


def root_filter(root: str) -> str:
    """``{root}/#``: everything of one deployment. Not a channel, so it is built here, once."""
    return f"{check_identifier(root, 'root')}/#"


def render_password_plaintext(accounts: Iterable[MqttAccount]) -> str:
    """``user:password`` lines, to be hashed in place by ``mosquitto_passwd -U``."""
    lines = []
    for account in _unique(accounts):
        if any(c in account.password for c in "\r\n"):
            raise ValueError(f"password of {account.username} contains a line break")
        lines.append(f"{account.username}:{account.password}\n")
    return "".join(lines)


def render_acl(accounts: Iterable[MqttAccount]) -> str:
    """A Mosquitto acl_file: a ``user NAME`` block per account, one ``topic`` line per rule.

    There are no lines before the first ``user``: such lines would apply to anonymous
    clients, and anonymous clients are refused anyway.
    """
    blocks = []
    for account in _unique(accounts):
        lines = [f"user {account.username}"]
        lines.extend(f"topic {rule.access} {rule.topic}" for rule in account.rules)
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def _unique(accounts: Iterable[MqttAccount]) -> list[MqttAccount]:
    """The accounts in order; a username given twice is a bug (the broker keeps only one)."""
    seen: set[str] = set()
    result = []
    for account in accounts:
        name = account.username
        if not name or any(c in name for c in ": \t\r\n"):
            raise ValueError(f"username {name!r} cannot be written to a password file")
        if name in seen:
            raise ValueError(f"account {name!r} given twice")
        seen.add(name)
        result.append(account)
    return result
