"""The registry: every channel of the platform, listed once.

This is the single source of truth for topics. Edge agents, simulators, ingest and the API use
these objects to build topics, subscribe and encode/decode payloads; docs/mqtt-contract.md and
docs/schemas/ are generated from it.
"""

from collections.abc import Iterator
from typing import Any

from pydantic import TypeAdapter

from hgj_contracts.alerts import Alert
from hgj_contracts.channel import Channel, Publisher, TopicMatch
from hgj_contracts.commands import (
    DEVICE_COMMAND_ADAPTER,
    CommandProgress,
    CommandResult,
    DeviceState,
)
from hgj_contracts.errors import ContractError
from hgj_contracts.events import DEVICE_EVENT_ADAPTER
from hgj_contracts.ids import is_identifier
from hgj_contracts.service import DeadLetter, ServiceStatus
from hgj_contracts.status import DeviceStatus
from hgj_contracts.telemetry import Telemetry

_DEV = "{root}/{community}/dev/{device}"

DEVICE_STATUS = Channel(
    name="device_status",
    pattern=f"{_DEV}/status",
    adapter=TypeAdapter(DeviceStatus),
    qos=1,
    retain=True,
    publisher=Publisher.DEVICE,
    summary="Device presence; retained, and the device's last will (state offline).",
)
TELEMETRY = Channel(
    name="telemetry",
    pattern=f"{_DEV}/telemetry",
    adapter=TypeAdapter(Telemetry),
    qos=1,
    retain=False,
    publisher=Publisher.DEVICE,
    summary="Periodic readings: catalogue metrics with their units.",
)
EVENT = Channel(
    name="event",
    pattern=f"{_DEV}/event/{{kind}}",
    adapter=DEVICE_EVENT_ADAPTER,
    qos=1,
    retain=False,
    publisher=Publisher.DEVICE,
    summary="Something happened at the device; the payload's kind equals the topic's.",
    discriminator="kind",
)
DEVICE_STATE = Channel(
    name="device_state",
    pattern=f"{_DEV}/state",
    adapter=TypeAdapter(DeviceState),
    qos=1,
    retain=True,
    publisher=Publisher.DEVICE,
    summary="The device's current actuator state, republished after every change.",
)
COMMAND = Channel(
    name="command",
    pattern=f"{_DEV}/cmd/{{action}}",
    adapter=DEVICE_COMMAND_ADAPTER,
    qos=1,
    retain=False,
    publisher=Publisher.API,
    summary="A remote command; refused by the device once expired or already seen.",
    discriminator="action",
)
COMMAND_RESULT = Channel(
    name="command_result",
    pattern=f"{_DEV}/cmd_result/{{action}}",
    adapter=TypeAdapter(CommandResult),
    qos=1,
    retain=False,
    publisher=Publisher.DEVICE,
    summary="The device's answer to a command, tagged with its command_id.",
    discriminator="action",
)
COMMAND_PROGRESS = Channel(
    name="command_progress",
    # Outside the device tree on purpose: devices never read it (their ACL covers only their
    # own tree), and ingest's device-tree subscription does not receive it.
    pattern="{root}/{community}/cmd_progress/{device}",
    adapter=TypeAdapter(CommandProgress),
    qos=1,
    retain=False,
    publisher=Publisher.API,
    summary=(
        "Every state change of a remote command (queued, sent, delivered, succeeded, failed, "
        "timeout, expired, refused), so that every API replica can stream it to its clients."
    ),
    discriminator="device",
)
ALERT = Channel(
    name="alert",
    pattern="{root}/{community}/alert/{rule}",
    adapter=TypeAdapter(Alert),
    qos=1,
    retain=False,
    publisher=Publisher.INGEST,
    summary=(
        "Every change of an alert: raised, repeated, cleared and escalated by the rule engine "
        "(ingest); acknowledged, assigned, noted and resolved by people (published by the API "
        "that took the action, re-sent by ingest's outbox if that failed). A change may arrive "
        "twice: keep the highest event_id per alert."
    ),
    discriminator="rule",
)
SERVICE_STATUS = Channel(
    name="service_status",
    pattern="{root}/_svc/{service}/status",
    adapter=TypeAdapter(ServiceStatus),
    qos=1,
    retain=True,
    publisher=Publisher.SERVICE,
    summary="Platform service presence; retained, and the service's last will.",
)
DEAD_LETTER = Channel(
    name="dead_letter",
    pattern="{root}/_svc/{service}/deadletter",
    adapter=TypeAdapter(DeadLetter),
    qos=1,
    retain=False,
    publisher=Publisher.SERVICE,
    summary="Messages a service refused, with the reason, for inspection and replay.",
)

CHANNELS: tuple[Channel[Any], ...] = (
    DEVICE_STATUS,
    TELEMETRY,
    EVENT,
    DEVICE_STATE,
    COMMAND,
    COMMAND_RESULT,
    COMMAND_PROGRESS,
    ALERT,
    SERVICE_STATUS,
    DEAD_LETTER,
)
CHANNELS_BY_NAME = {c.name: c for c in CHANNELS}


def match_topic(topic: str) -> TopicMatch:
    """The channel and ids of a concrete topic; ContractError(unknown_topic) when none fits."""
    levels = topic.split("/")
    for channel in CHANNELS:
        params = channel.match(levels)
        if params is not None:
            for name, value in params.items():
                if not is_identifier(value):
                    raise ContractError("unknown_topic", f"{name} {value!r} is not an id")
            return TopicMatch(channel, params)
    raise ContractError("unknown_topic", f"no channel matches {topic!r}")


def device_tree_subscription(root: str, share_group: str | None = None) -> str:
    """A filter for everything under every device of every community, including topics no
    channel defines, so that a consumer can see (and dead-letter) an unknown topic family."""
    base = DEVICE_STATUS.subscription(share_group=share_group, root=root)
    return base.removesuffix("/status") + "/#"


def device_channels() -> Iterator[Channel[Any]]:
    """Channels whose topics sit under one device (used to derive per-device ACLs)."""
    return (c for c in CHANNELS if c.pattern.startswith(_DEV))
