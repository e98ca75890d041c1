"""What the commands REST API accepts and answers (``hgj_api.routers.commands``)."""

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from hgj_contracts.commands import COMMAND_ACTIONS, CommandState
from hgj_contracts.ids import Identifier
from hgj_statedb.command_views import CommandEvent, CommandView, JsonScalar


class CommandIn(BaseModel):
    """A command for one device. The idempotency key travels as the ``Idempotency-Key``
    header: a retry with the same key and body gets the first command back."""

    model_config = ConfigDict(extra="forbid")

    community: Identifier
    device: Identifier
    action: Identifier = Field(description=f"one of {', '.join(COMMAND_ACTIONS)}")
    parameters: Annotated[dict[str, JsonScalar], Field(max_length=16)] = Field(
        default_factory=dict,
        description="the action's own fields (hold_open_s for open_gate, on and channel for "
        "set_switch, interval_s for set_report_interval, ...)",
    )
    reason: Annotated[str, Field(min_length=1, max_length=500)] = Field(
        description="why: kept with the command and in the audit log"
    )
    ttl_s: float | None = Field(
        default=None,
        gt=0,
        le=3600,
        description="seconds the command stays valid (default 30): a device never carries it "
        "out later",
    )


class CommandOut(BaseModel):
    id: str
    community: str
    device: str
    action: str
    parameters: dict[str, Any]
    reason: str | None
    requested_by: str
    state: CommandState
    state_since: datetime
    created_at: datetime
    expires_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    timed_out_at: datetime | None
    finished_at: datetime | None
    error_code: str | None = Field(description="interlock_*, publish_refused, the device's own")
    error: str | None
    result_data: dict[str, Any] | None

    @classmethod
    def of(cls, view: CommandView) -> "CommandOut":
        return cls(
            id=view.command_id,
            community=view.community,
            device=view.device,
            action=view.action,
            parameters=dict(view.parameters),
            reason=view.reason,
            requested_by=view.requested_by,
            state=view.state,
            state_since=view.state_since,
            created_at=view.created_at,
            expires_at=view.expires_at,
            sent_at=view.sent_at,
            delivered_at=view.delivered_at,
            timed_out_at=view.timed_out_at,
            finished_at=view.finished_at,
            error_code=view.error_code,
            error=view.error,
            result_data=None if view.result_data is None else dict(view.result_data),
        )


class CommandEventOut(BaseModel):
    event_id: int
    at: datetime
    kind: str = Field(description="transition, or late_result (changed nothing)")
    from_state: CommandState | None
    to_state: CommandState
    cause: str
    actor: str | None
    device_ts: datetime | None
    error_code: str | None
    error: str | None

    @classmethod
    def of(cls, event: CommandEvent) -> "CommandEventOut":
        return cls(
            event_id=event.event_id,
            at=event.at,
            kind=event.kind,
            from_state=event.from_state,
            to_state=event.to_state,
            cause=event.cause,
            actor=event.actor,
            device_ts=event.device_ts,
            error_code=event.error_code,
            error=event.error,
        )


class CommandDetail(CommandOut):
    timeline: list[CommandEventOut]


class CommandPage(BaseModel):
    items: list[CommandOut]
    next_offset: int | None = Field(description="pass as offset for the next page; null: last")
