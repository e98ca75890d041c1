"""MQTT accounts and their ACLs, derived from the contract registry.

Every rule is built from a channel of ``hgj_contracts`` (``Channel.topic``/``subscription``),
so an ACL can never drift from the topics the code really uses. The broker enforces least
privilege per device: a compromised camera can publish only as itself and read only its own
commands. Mosquitto acknowledges a denied publish as a success on MQTT 3.1.1 (on MQTT 5 the
PUBACK says "not authorized"), so these rules are tested by asserting non-delivery
(tests/integration/test_mosquitto_acl.py).
"""

import secrets
from dataclasses import dataclass, field
from typing import Final, Literal

from hgj_contracts import ALERT, CHANNELS, DEAD_LETTER, SERVICE_STATUS, Publisher, device_channels
from hgj_contracts.ids import check_identifier

Access = Literal["read", "write", "readwrite"]

ADMIN_USERNAME: Final = "admin"
CONTROL_USERNAME: Final = "broker-control"
SERVICE_PREFIX: Final = "svc"
CONTROL_TOPICS: Final = "$CONTROL/dynamic-security/#"
"""Mosquitto's dynamic-security plugin takes commands and answers under this prefix."""


@dataclass(frozen=True)
class AclRule:
    """What an account may do on the topics a filter matches."""

    access: Access
    topic: str


@dataclass(frozen=True)
class MqttAccount:
    """A broker login and what it may do. The password is kept out of repr (test output)."""

    username: str
    password: str = field(repr=False)
    rules: tuple[AclRule, ...]


def new_password() -> str:
    """A random 192-bit secret. Broker passwords are never chosen by people, which is why the
    broker's cheap password hash (see dynsec) is enough: nothing here can be guessed."""
    return secrets.token_urlsafe(24)


def device_username(community: str, device: str) -> str:
    """Community and device joined with a dot; ids cannot contain dots, so the name is
    unambiguous and the broker log says which device a connection belongs to."""
    return f"{check_identifier(community, 'community')}.{check_identifier(device, 'device')}"


def device_account(
    root: str, community: str, device: str, password: str | None = None
) -> MqttAccount:
    """The account of one device: publish its own channels, read its own commands."""
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
        username=device_username(community, device),
        password=password if password is not None else new_password(),
        rules=tuple(rules),
    )


def gateway_account(
    root: str, community: str, gateway: str, password: str | None = None
) -> MqttAccount:
    """The account of a gateway: one connection that speaks for many devices of one community
    (a LoRa or NB-IoT concentrator, or the simulator's load mode). It may publish every device
    channel and read the commands of any device of its community, and nothing outside it.

    Wider than a device account by necessity: the devices behind a gateway change without the
    broker being told. Its username is a device username (the gateway is a device too).
    """
    rules = []
    for channel in device_channels():
        # The device id left as '+': any device of this community, no other community.
        topic = channel.subscription(root=root, community=community)
        if channel.publisher is Publisher.DEVICE:
            rules.append(AclRule("write", topic))
        elif channel.publisher is Publisher.API:
            rules.append(AclRule("read", topic))
    return MqttAccount(
        username=device_username(community, gateway),
        password=password if password is not None else new_password(),
        rules=tuple(rules),
    )


def service_account(root: str, service: str, password: str | None = None) -> MqttAccount:
    """The account of a platform service (ingest, api, ...).

    Services read the whole tree (ingest consumes everything devices send, the API follows
    alerts), also through shared subscriptions (``$share/GROUP/{root}/...``), publish their
    own presence and dead letters, and publish alerts for any community.
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


def api_account(root: str, instance: str, password: str | None = None) -> MqttAccount:
    """The account of one API replica (``svc.<instance>``): a service account that may also
    publish what the contract says the API publishes, for any community and device (commands
    to devices, command progress), besides alerts (changes people make), its own presence and
    dead letters. Reading covers the whole root, shared subscriptions included (command results
    on ``$share/api/...``, device presence on ``$share/api-presence/...``)."""
    base = service_account(root, instance, password)
    published = tuple(
        AclRule("write", channel.subscription(root=root))
        for channel in CHANNELS
        if channel.publisher is Publisher.API
    )
    return MqttAccount(base.username, base.password, base.rules + published)


def admin_account(root: str, password: str | None = None) -> MqttAccount:
    """Read and write anything under the root: operator tools, and tests that inject bad input
    on arbitrary topics (which no contract channel would let them build)."""
    return MqttAccount(
        username=ADMIN_USERNAME,
        password=password if password is not None else new_password(),
        rules=(AclRule("readwrite", root_filter(root)),),
    )


def control_account(password: str | None = None) -> MqttAccount:
    """The account that manages the broker's accounts at runtime, and nothing else: it can
    neither read nor write device topics."""
    return MqttAccount(
        username=CONTROL_USERNAME,
        password=password if password is not None else new_password(),
        rules=(AclRule("readwrite", CONTROL_TOPICS),),
    )


def root_filter(root: str) -> str:
    """``{root}/#``: everything of one deployment. Not a channel, so it is built here, once."""
    return f"{check_identifier(root, 'root')}/#"
