"""Remote commands (platform → device), their results (device → platform) and their progress
(platform → every API replica).

A command is discriminated by ``action`` (also the last topic segment) and carries a
``command_id`` that the device uses to drop duplicates (QoS 1 may deliver twice) and to tag its
results, the issue time ``ts`` and an ``expires_at`` after which the device must refuse it: a
gate must not open minutes late because a message sat in a queue.

The platform tracks each command through ``CommandState`` and announces every change as a
``CommandProgress``, so that each API replica can feed its own WebSocket clients from MQTT.
"""

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, TypeAdapter, field_validator, model_validator

from hgj_contracts.base import DeviceMessage, ShortText, WireModel
from hgj_contracts.ids import Identifier


class _Command(WireModel):
    command_id: Identifier
    expires_at: AwareDatetime
    issued_by: Identifier | None = Field(default=None, description="user or service id")
    reason: ShortText | None = None

    @field_validator("expires_at")
    @classmethod
    def _expiry_in_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    @model_validator(mode="after")
    def _expires_after_issue(self) -> "_Command":
        if self.expires_at <= self.ts:
            raise ValueError("expires_at must be later than ts")
        return self


class OpenGateCommand(_Command):
    action: Literal["open_gate"] = "open_gate"
    hold_open_s: Annotated[float, Field(gt=0, le=120)] = 5.0


class SetSwitchCommand(_Command):
    """Switch a load (street light, pump) on or off."""

    action: Literal["set_switch"] = "set_switch"
    on: bool
    channel: Annotated[int, Field(ge=0, le=15)] = 0


class SetReportIntervalCommand(_Command):
    action: Literal["set_report_interval"] = "set_report_interval"
    interval_s: Annotated[float, Field(ge=1, le=86400)]


class RebootCommand(_Command):
    action: Literal["reboot"] = "reboot"


class PingCommand(_Command):
    action: Literal["ping"] = "ping"


DeviceCommand = Annotated[
    OpenGateCommand | SetSwitchCommand | SetReportIntervalCommand | RebootCommand | PingCommand,
    Field(discriminator="action"),
]
DEVICE_COMMAND_ADAPTER: TypeAdapter[DeviceCommand] = TypeAdapter(DeviceCommand)
COMMAND_ACTIONS: tuple[str, ...] = (
    "open_gate",
    "set_switch",
    "set_report_interval",
    "reboot",
    "ping",
)

ResultStatus = Literal["accepted", "succeeded", "failed", "rejected", "expired"]


class CommandResult(DeviceMessage):
    """A device's answer to a command, in the ``{status, data, error}`` shape."""

    command_id: Identifier
    action: Identifier
    status: ResultStatus
    data: dict[str, str | int | float | bool | None] | None = None
    error_code: Identifier | None = None
    error: ShortText | None = None

    @model_validator(mode="after")
    def _errors_explain_failures(self) -> "CommandResult":
        if self.status in ("failed", "rejected", "expired") and self.error_code is None:
            raise ValueError(f"a {self.status} result needs an error_code")
        return self


class DeviceState(DeviceMessage):
    """The device's reported state after a change (retained), e.g. {"gate": "closed"}."""

    state: Annotated[dict[Identifier, str | int | float | bool | None], Field(max_length=64)]
    command_id: Identifier | None = Field(default=None, description="the command that caused it")


CommandState = Literal[
    "queued", "sent", "delivered", "succeeded", "failed", "timeout", "expired", "refused"
]
"""Where a command is in its lifecycle (the platform's view, kept in the state database).

``timeout`` is not final: the device has not answered within the acknowledgement timeout but may
still do so until ``expires_at``. ``succeeded``, ``failed``, ``expired`` and ``refused`` (an
interlock said no; the command was never sent) are final."""
COMMAND_STATES: tuple[CommandState, ...] = (
    "queued",
    "sent",
    "delivered",
    "succeeded",
    "failed",
    "timeout",
    "expired",
    "refused",
)


class CommandProgress(WireModel):
    """One change of a command's state, published by the API replica that made it; ``ts`` is
    when the change happened. Consumers order and deduplicate by ``event_id``: the outbox may
    announce a change twice, and changes from different replicas may cross on the way."""

    event_id: Annotated[int, Field(ge=1)] = Field(description="the change's timeline entry")
    command_id: Identifier
    device: Identifier
    action: Identifier
    state: CommandState
    previous_state: CommandState | None = Field(default=None, description="None at creation")
    requested_by: Identifier | None = None
    created_at: AwareDatetime
    expires_at: AwareDatetime
    sent_at: AwareDatetime | None = None
    delivered_at: AwareDatetime | None = None
    finished_at: AwareDatetime | None = Field(default=None, description="set once final")
    error_code: Identifier | None = None
    error: ShortText | None = None
