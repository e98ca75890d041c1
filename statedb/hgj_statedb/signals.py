"""The hand-over between the rule engine (ingest) and the alert store.

The rule engine decides, per message or per clock tick, that a rule's condition holds or no
longer holds for a device; the store turns that into the alert lifecycle (one active alert per
(device, rule), repeats counted, clears, acknowledgements, escalation). Keeping the decision a
plain value lets both sides be tested alone, and lets several ingest workers feed one store.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from hgj_contracts import Severity


@dataclass(frozen=True, slots=True)
class AlertSignal:
    kind: Literal["raise", "clear"]
    """raise: the condition holds (again); clear: it stopped holding."""
    community: str
    device: str | None
    """None for rules about a whole community rather than one device."""
    rule: str
    severity: Severity
    event_time: datetime
    """When the device observed it (UTC): transitions are ordered by this, not by arrival."""
    message: str
    """Human-readable, Chinese first where the rule gives a Chinese text."""
    signal_id: str
    """Stable for the message that caused it (e.g. ``{community}/{device}/{channel}/{seq}``),
    so a redelivered message is recognised and not counted as a repeat."""
    value: float | None = None
    """The measured value behind a threshold rule, if any."""
