"""Alerts raised by the platform (ingest's rule engine), published on every change."""

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
    message: ShortText
    change: Literal["raised", "repeated", "acknowledged", "cleared", "escalated", "updated"]
