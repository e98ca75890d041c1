"""Turn an engine decision into the :class:`AlertSignal` handed to the alert store."""

from dataclasses import dataclass

from hgj_contracts import METRICS
from hgj_ingest.alerting.latch import Announcement
from hgj_ingest.alerting.rules import Rule
from hgj_ingest.alerting.templates import render
from hgj_statedb.signals import AlertSignal

MAX_MESSAGE = 500
"""The contract's ShortText limit for an alert message."""

CLEARED_ZH = "已恢复："
CLEARED_EN = "Cleared: "


@dataclass(frozen=True, slots=True)
class Subject:
    """The device a signal is about, as far as it is known."""

    community: str
    device: str
    location: str | None = None


def to_signal(rule: Rule, subject: Subject, announcement: Announcement) -> AlertSignal:
    values = {
        "device": subject.device,
        "community": subject.community,
        "location": subject.location,
        "rule": rule.id,
        **_rule_values(rule),
        "value": announcement.value,
        **announcement.details,
    }
    if announcement.kind == "raise":
        zh, en = render(rule.message.zh, values), render(rule.message.en, values)
    elif rule.clear_message is not None:
        zh, en = render(rule.clear_message.zh, values), render(rule.clear_message.en, values)
    else:
        zh = CLEARED_ZH + render(rule.message.zh, values)
        en = CLEARED_EN + render(rule.message.en, values)
    return AlertSignal(
        kind=announcement.kind,
        community=subject.community,
        device=subject.device,
        rule=rule.id,
        severity=rule.severity,
        event_time=announcement.at,
        message=f"{zh} / {en}"[:MAX_MESSAGE],
        signal_id=f"{subject.community}/{subject.device}/{announcement.cause}/{rule.id}",
        value=announcement.value,
    )


def _rule_values(rule: Rule) -> dict[str, object]:
    if rule.threshold is not None:
        spec = rule.threshold
        return {"metric": spec.metric, "unit": METRICS[spec.metric].unit, "limit": spec.limit}
    if rule.event is not None:
        return {"kind": rule.event.kind}
    if rule.face is not None:
        return {"category": rule.face.category}
    return {}
