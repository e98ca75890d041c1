"""Builders for the alert engine tests: rule files in a few lines, messages in one call, and a
driver that feeds the engine the way ingest will (channel name, decoded payload, arrival)."""

import textwrap
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from hgj_contracts import DeviceMessage, DeviceStatus, Reading, Telemetry
from hgj_contracts import events as ev
from hgj_contracts.metrics import METRICS
from hgj_ingest.alerting import InMemoryRuleState, RuleEngine, RuleSet, parse_rules
from hgj_statedb.signals import AlertSignal

T0 = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
"""10:00 in Suzhou District (UTC+8)."""
COMMUNITY = "guangsha"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def ruleset(yaml_text: str, name: str = "rules.yaml") -> RuleSet:
    return parse_rules(textwrap.dedent(yaml_text), name)


def telemetry(seq: int, ts: float, **values: float) -> Telemetry:
    """A reading at ``ts`` seconds after T0 (a battery level when no metric is given)."""
    values = values or {"battery": 90.0}
    metrics = {k: Reading(value=float(v), unit=METRICS[k].unit) for k, v in values.items()}
    return Telemetry(ts=at(ts), seq=seq, metrics=metrics)


def status(
    seq: int,
    ts: float,
    state: str = "online",
    reason: str | None = "startup",
    *,
    device_type: str | None = None,
    interval: float | None = None,
    location: str | None = None,
) -> DeviceStatus:
    return DeviceStatus.model_validate(
        {
            "ts": at(ts),
            "seq": seq,
            "state": state,
            "reason": reason,
            "device_type": device_type,
            "report_interval_s": interval,
            "location": location,
        },
        strict=False,
    )


def face(seq: int, ts: datetime | float, category: str, **extra: object) -> ev.FaceEvent:
    moment = ts if isinstance(ts, datetime) else at(ts)
    score = 0.0 if category == "stranger" else 0.9
    fields = {"track_id": f"t-{seq}", "category": category, "score": score, **extra}
    return ev.FaceEvent.model_validate({"ts": moment, "seq": seq, **fields}, strict=False)


CHANNEL_OF = {Telemetry: "telemetry", DeviceStatus: "device_status"}


@dataclass
class Driver:
    """Feeds one engine; ``received`` defaults to the event time plus one second."""

    engine: RuleEngine
    community: str = COMMUNITY
    log: list[AlertSignal] = field(default_factory=list)

    def send(
        self, device: str, payload: DeviceMessage, received: datetime | None = None
    ) -> list[AlertSignal]:
        channel = CHANNEL_OF.get(type(payload), "event")
        arrival = received if received is not None else payload.ts + timedelta(seconds=1)
        out = self.engine.on_message(self.community, device, channel, payload, arrival)
        self.log += out
        return out

    def tick(self, now: datetime | float) -> list[AlertSignal]:
        out = self.engine.on_tick(now if isinstance(now, datetime) else at(now))
        self.log += out
        return out


def driver(yaml_text: str, community: str = COMMUNITY) -> Driver:
    engine = RuleEngine(ruleset(yaml_text), InMemoryRuleState(roundtrip=True))
    return Driver(engine, community)


def kinds(signals: list[AlertSignal]) -> list[tuple[str, str]]:
    """(kind, rule) of each signal, the usual thing to assert."""
    return [(s.kind, s.rule) for s in signals]
