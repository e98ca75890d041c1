"""Hongguanjia's MQTT contract: topic grammar, payload models and the channel registry."""

from hgj_contracts.alerts import Alert, Severity
from hgj_contracts.base import CONTRACT_VERSION, DeviceMessage, WireModel, utc_now
from hgj_contracts.channel import MAX_PAYLOAD_BYTES, Channel, Publisher, TopicMatch
from hgj_contracts.commands import (
    COMMAND_STATES,
    CommandProgress,
    CommandResult,
    CommandState,
    DeviceCommand,
    DeviceState,
)
from hgj_contracts.errors import ContractError
from hgj_contracts.events import DeviceEvent
from hgj_contracts.metrics import METRICS, MetricSpec
from hgj_contracts.registry import (
    ALERT,
    CHANNELS,
    CHANNELS_BY_NAME,
    COMMAND,
    COMMAND_PROGRESS,
    COMMAND_RESULT,
    DEAD_LETTER,
    DEVICE_STATE,
    DEVICE_STATUS,
    EVENT,
    SERVICE_STATUS,
    TELEMETRY,
    device_channels,
    device_tree_subscription,
    match_topic,
)
from hgj_contracts.service import DeadLetter, RejectReason, ServiceStatus
from hgj_contracts.status import DeviceStatus, DeviceType, StatusReason, StatusState
from hgj_contracts.telemetry import Reading, Telemetry

__all__ = [
    "ALERT",
    "CHANNELS",
    "CHANNELS_BY_NAME",
    "COMMAND",
    "COMMAND_PROGRESS",
    "COMMAND_RESULT",
    "COMMAND_STATES",
    "CONTRACT_VERSION",
    "DEAD_LETTER",
    "DEVICE_STATE",
    "DEVICE_STATUS",
    "EVENT",
    "MAX_PAYLOAD_BYTES",
    "METRICS",
    "SERVICE_STATUS",
    "TELEMETRY",
    "Alert",
    "Channel",
    "CommandProgress",
    "CommandResult",
    "CommandState",
    "ContractError",
    "DeadLetter",
    "DeviceCommand",
    "DeviceEvent",
    "DeviceMessage",
    "DeviceState",
    "DeviceStatus",
    "DeviceType",
    "MetricSpec",
    "Publisher",
    "Reading",
    "RejectReason",
    "ServiceStatus",
    "Severity",
    "StatusReason",
    "StatusState",
    "Telemetry",
    "TopicMatch",
    "WireModel",
    "device_channels",
    "device_tree_subscription",
    "match_topic",
    "utc_now",
]
