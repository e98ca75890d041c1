"""What the alert endpoints take and give (pydantic models for the OpenAPI description)."""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from hgj_contracts import Severity
from hgj_contracts.ids import Identifier
from hgj_statedb.models import AlertState, EventKind
from hgj_statedb.views import AlertView, TimelineEntry

NOTE_MAX: int = 2000
NoteText = Annotated[str, Field(min_length=1, max_length=NOTE_MAX)]


class AlertOut(BaseModel):
    alert_id: str
    community: str
    device: str | None = Field(description="None for an alert about a whole community")
    rule: str
    severity: Severity
    state: AlertState
    acknowledged: bool
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    assignee: str | None
    count: int = Field(description="raises counted while active")
    raised_at: datetime = Field(description="event time of the earliest raise counted")
    last_raised_at: datetime
    cleared_at: datetime | None
    message: str
    escalation_level: int
    next_escalation_at: datetime | None
    updated_at: datetime

    @classmethod
    def of(cls, view: AlertView) -> "AlertOut":
        return cls(
            alert_id=view.alert_id,
            community=view.community,
            device=view.device,
            rule=view.rule,
            severity=view.severity,
            state=view.state,
            acknowledged=view.acknowledged,
            acknowledged_by=view.acknowledged_by,
            acknowledged_at=view.acknowledged_at,
            assignee=view.assignee,
            count=view.count,
            raised_at=view.raised_at,
            last_raised_at=view.last_raised_at,
            cleared_at=view.cleared_at,
            message=view.message,
            escalation_level=view.escalation_level,
            next_escalation_at=view.next_escalation_at,
            updated_at=view.updated_at,
        )


class TimelineOut(BaseModel):
    event_id: int
    kind: EventKind
    at: datetime = Field(description="event time (the device's, or the person's action)")
    recorded_at: datetime
    actor: str | None = Field(description="user id, or the escalation's responder role")
    note: str | None = Field(description="the note, or for assignments the new assignee")

    @classmethod
    def of(cls, entry: TimelineEntry) -> "TimelineOut":
        return cls(
            event_id=entry.event_id,
            kind=entry.kind,
            at=entry.at,
            recorded_at=entry.recorded_at,
            actor=entry.actor,
            note=entry.note,
        )


class AlertDetail(BaseModel):
    alert: AlertOut
    timeline: list[TimelineOut] = Field(description="in event-time order")


class AlertPage(BaseModel):
    items: list[AlertOut]
    next_cursor: str | None = Field(
        description="pass as cursor for the next (older) page; null on the last page"
    )


class AcknowledgeBody(BaseModel):
    note: NoteText | None = None


class AssignBody(BaseModel):
    assignee: Identifier | None = Field(
        description="the user id to hand the alert to, or null to unassign"
    )


class NoteBody(BaseModel):
    text: NoteText


class ResolveBody(BaseModel):
    note: NoteText | None = Field(default=None, description="why: a false alarm, handled, ...")


class TodayFigures(BaseModel):
    since: datetime = Field(description="local midnight (HGJ_API_LOCAL_TIMEZONE), in UTC")
    acknowledged: int = Field(description="alerts acknowledged since then")
    mean_time_to_ack_s: float | None = Field(
        description="their mean time from raise to acknowledgement; null when none"
    )


class AlertSummary(BaseModel):
    communities: list[str] | None = Field(
        description="the communities counted; null: every community (a platform-wide user)"
    )
    open_by_severity: dict[Severity, int] = Field(description="active alerts, every severity")
    open_total: int
    open_unacknowledged: int
    today: TodayFigures
