"""What the alert store hands back: frozen snapshots, detached from any database session.

``AlertChange`` is what ingest publishes: ``to_payload()`` gives the contract's ``Alert`` and
``topic_params`` the ids of ``{root}/{community}/alert/{rule}``.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

from hgj_contracts import Alert, Severity
from hgj_statedb.models import NO_DEVICE, AlertEventRow, AlertRow, AlertState, EventKind

PayloadChange = Literal["raised", "repeated", "acknowledged", "cleared", "escalated", "updated"]
"""The contract's ``Alert.change``; timeline kinds it has no word for map to the nearest."""

PAYLOAD_CHANGE: Final[dict[EventKind, PayloadChange]] = {
    "raised": "raised",
    "repeated": "repeated",
    "cleared": "cleared",
    "acknowledged": "acknowledged",
    "assigned": "updated",
    "noted": "updated",
    "escalated": "escalated",
    "reminded": "escalated",
}

MESSAGE_LIMIT: Final = 500
"""The contract's ShortText limit; longer messages are stored whole and shortened on the wire."""


@dataclass(frozen=True, slots=True)
class AlertView:
    """One alert as stored. ``device`` is None for community-wide alerts."""

    alert_id: str
    community: str
    device: str | None
    rule: str
    severity: Severity
    state: AlertState
    acknowledged: bool
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    assignee: str | None
    count: int
    raised_at: datetime
    last_raised_at: datetime
    cleared_at: datetime | None
    last_event_time: datetime
    message: str
    escalation_level: int
    next_escalation_at: datetime | None
    updated_at: datetime

    @classmethod
    def of(cls, row: AlertRow) -> "AlertView":
        return cls(
            alert_id=row.id,
            community=row.community,
            device=None if row.device == NO_DEVICE else row.device,
            rule=row.rule,
            severity=row.severity,
            state=row.state,
            acknowledged=row.acknowledged,
            acknowledged_by=row.acknowledged_by,
            acknowledged_at=row.acknowledged_at,
            assignee=row.assignee,
            count=row.count,
            raised_at=row.raised_at,
            last_raised_at=row.last_raised_at,
            cleared_at=row.cleared_at,
            last_event_time=row.last_event_time,
            message=row.message,
            escalation_level=row.escalation_level,
            next_escalation_at=row.next_escalation_at,
            updated_at=row.updated_at,
        )


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    event_id: int
    alert_id: str
    kind: EventKind
    at: datetime
    recorded_at: datetime
    actor: str | None
    note: str | None
    signal_id: str | None

    @classmethod
    def of(cls, row: AlertEventRow) -> "TimelineEntry":
        return cls(
            event_id=row.id,
            alert_id=row.alert_id,
            kind=row.kind,
            at=row.at,
            recorded_at=row.recorded_at,
            actor=row.actor,
            note=row.note,
            signal_id=row.signal_id,
        )


def alert_payload(
    alert: AlertView, kind: EventKind, at: datetime, event_id: int | None = None
) -> Alert:
    """The contract's payload announcing ``alert`` after a change of ``kind`` at ``at``.

    ``event_id`` is None only in the copy stored in the outbox, which is written before the
    database numbers the event; whoever sends it adds the number (``OutboxEntry``)."""
    return Alert(
        ts=at,
        alert_id=alert.alert_id,
        rule=alert.rule,
        device=alert.device,
        severity=alert.severity,
        state=alert.state,
        acknowledged=alert.acknowledged,
        count=alert.count,
        raised_at=alert.raised_at,
        cleared_at=alert.cleared_at,
        acknowledged_by=alert.acknowledged_by,
        assignee=alert.assignee,
        message=alert.message[:MESSAGE_LIMIT],
        change=PAYLOAD_CHANGE[kind],
        event_id=event_id,
    )


@dataclass(frozen=True, slots=True)
class AlertChange:
    """One change of one alert: the alert after the change and the timeline entry recording it.

    ``event.event_id`` is the change's outbox id (see ``AlertStore.mark_delivered``).
    """

    alert: AlertView
    event: TimelineEntry

    @property
    def change(self) -> PayloadChange:
        return PAYLOAD_CHANGE[self.event.kind]

    @property
    def responder(self) -> str | None:
        """For escalations, the role now responsible. The contract's payload has no field for
        it: it travels in-process and on the timeline (as the event's actor)."""
        return self.event.actor if self.event.kind in ("escalated", "reminded") else None

    @property
    def topic_params(self) -> dict[str, str]:
        """Ids for ``ALERT.topic(root=..., **change.topic_params)``."""
        return {"community": self.alert.community, "rule": self.alert.rule}

    def to_payload(self) -> Alert:
        """The contract's alert payload; ``ts`` is the time of this change, ``event_id`` its
        number (consumers drop repeats and older changes by it)."""
        return alert_payload(self.alert, self.event.kind, self.event.at, self.event.event_id)


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """A change not yet delivered to a sink, with the payload exactly as it was announced."""

    event_id: int
    community: str
    payload: Alert

    @property
    def topic_params(self) -> dict[str, str]:
        return {"community": self.community, "rule": self.payload.rule}
