"""Escalation policy: who is told, and when, about critical and major alerts nobody acknowledges.

The first responder of a severity's chain is told when the alert is raised (the alert topic).
If the alert is still active and unacknowledged ``ack_window`` after it was raised, it is
escalated: the next responder in the chain becomes responsible and the alert is announced
again. Every ``reminder_interval`` after that it escalates again, one step at a time, and once
the last responder is reached it keeps reminding at that level until someone acknowledges it
(or it clears). A tick that comes late (ingest was down) fires once, not once per missed
interval, and the next one is due a full interval later.

The policy is configuration (ingest's rule file), not stored; severities it does not name
never escalate.
"""

from datetime import timedelta
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from hgj_contracts import Severity
from hgj_contracts.ids import Identifier

PositiveDuration = Annotated[timedelta, Field(gt=timedelta(0))]


class SeverityEscalation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    ack_window: PositiveDuration
    """How long after the raise the first escalation waits for an acknowledgement."""
    reminder_interval: PositiveDuration
    """Time between further escalations and reminders."""
    responders: Annotated[tuple[Identifier, ...], Field(min_length=1)]
    """The chain, first responder first (for example the guard on duty)."""


class EscalationPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    severities: dict[Severity, SeverityEscalation]


DEFAULT_RESPONDERS: Final = ("guard_on_duty", "security_supervisor", "property_manager")
DEFAULT_POLICY: Final = EscalationPolicy(
    severities={
        "critical": SeverityEscalation(
            ack_window=timedelta(minutes=2),
            reminder_interval=timedelta(minutes=2),
            responders=DEFAULT_RESPONDERS,
        ),
        "major": SeverityEscalation(
            ack_window=timedelta(minutes=10),
            reminder_interval=timedelta(minutes=10),
            responders=DEFAULT_RESPONDERS,
        ),
    }
)


StepKind = Literal["escalated", "reminded"]


def next_step(level: int, chain: SeverityEscalation) -> tuple[int, StepKind]:
    """The level after one due escalation, and whether it stepped up or only reminded."""
    last = len(chain.responders) - 1
    if level < last:
        return level + 1, "escalated"
    return last, "reminded"
