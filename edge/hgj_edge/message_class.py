"""What kind of message a topic carries, as far as the outbox's drop policy is concerned.

The class is the contract channel's name, so it is derived from the topic and never chosen by
the caller: a message cannot be filed as telemetry (droppable) while carrying an alarm.
"""

from dataclasses import dataclass

from hgj_contracts import TELEMETRY, Publisher, match_topic

DROPPABLE_CHANNELS = frozenset({TELEMETRY.name})
"""Channels whose oldest messages may be dropped when the outbox is full. Telemetry is the
volume and the next reading supersedes the last; alarms (events), command results, status and
state are rare and each one matters, so they are never dropped to make room."""


@dataclass(frozen=True, slots=True)
class MessageClass:
    name: str
    """The contract channel's name (``telemetry``, ``event``, ``device_status``, ...)."""
    qos: int
    retain: bool
    droppable: bool
    """Oldest first, when the outbox is full."""


def classify(topic: str) -> MessageClass:
    """The class of a topic a device may publish; ContractError for a topic outside the
    contract, ValueError for a channel that devices do not publish (commands, alerts...)."""
    channel = match_topic(topic).channel
    if channel.publisher is not Publisher.DEVICE:
        raise ValueError(f"{topic!r} is a {channel.name} topic, which devices do not publish")
    return MessageClass(
        name=channel.name,
        qos=channel.qos,
        retain=channel.retain,
        droppable=channel.name in DROPPABLE_CHANNELS,
    )
