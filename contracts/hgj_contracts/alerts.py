"""Alerts, published on every change: raised, repeated, cleared and escalated by the rule
engine (ingest), acknowledged, assigned, noted or resolved by people (the API).

Each change is announced from an outbox in the state database until the broker confirms it,
so a change can arrive twice (a publisher died between the broker's PUBACK and recording it)
or after a later change of the same alert (the outbox sweep re-sends a change that the live
path lost). ``event_id`` lets consumers absorb both: it is the change's number in the state
database and grows with every change of one alert, so a consumer keeps the highest it applied
per ``alert_id`` and drops anything not above it. Each payload is the whole current picture of
the alert, so nothing is missed by dropping an older one.
"""

from typing import Annotated, Literal

from pydantic import AwareDatetime, Field

from hgj_contracts.base import ShortText, WireModel
from hgj_contracts.ids import Identifier

Severity = Literal["critical", "major", "minor", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("critical", "major", "minor", "warning", "info")


class Alert(WireModel):
    """The current picture of one alert; ``ts`` is the time of the change being announced."""

    alert_id: Identifier
    rule: Identifier
    device: Identifier | None = None
    severity: Severity
    state: Literal["active", "cleared"]
    acknowledged: bool = False
    count: Annotated[int, Field(ge=1)] = Field(default=1, description="repeats while active")
    raised_at: AwareDatetime
    cleared_at: AwareDatetime | None = None
    acknowledged_by: Identifier | None = None
    assignee: Identifier | None = Field(default=None, description="the user handling it")
    message: ShortText
    change: Literal["raised", "repeated", "acknowledged", "cleared", "escalated", "updated"]
    event_id: Annotated[int, Field(ge=1)] | None = Field(
        default=None,
        description="the change's number, growing with each change of the alert: keep the "
        "highest applied per alert_id and drop repeats and older changes",
    )
