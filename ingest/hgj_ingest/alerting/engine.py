"""The rule engine: decoded device messages and clock ticks in, alert signals out.

Pure: no I/O and no wall clock. Time comes in as arguments (each message's own event time,
its arrival time, the tick's ``now``), and everything remembered lives behind ``RuleState``,
so the same inputs always give the same signals, and a database-backed state lets several
workers share one device's rules.

What each channel feeds:

- ``telemetry``: threshold rules on the metrics it carries;
- ``event``: event rules by kind, face rules for ``face``;
- ``device_status``: the device profile (type, interval, location) and absence rules
  (offline raises, online clears);
- every channel a device publishes on: absence rules (the device was heard).
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from hgj_contracts import CHANNELS_BY_NAME, DeviceMessage, DeviceStatus, DeviceType, Publisher
from hgj_contracts import Telemetry as TelemetryMessage
from hgj_contracts.events import FaceEvent
from hgj_ingest.alerting import absence, event_rules, face, threshold
from hgj_ingest.alerting.latch import Announcement, Muter, message_cause, stamp
from hgj_ingest.alerting.profile import apply_status, is_newer_status
from hgj_ingest.alerting.rendering import Subject, to_signal
from hgj_ingest.alerting.rules import Rule
from hgj_ingest.alerting.ruleset import CommunityRules, RuleSet
from hgj_ingest.alerting.state import (
    PROFILE,
    AbsenceState,
    DeviceProfile,
    EventState,
    InMemoryRuleState,
    Mark,
    RuleState,
    StateKey,
    StateValue,
    ThresholdState,
)
from hgj_statedb.signals import AlertSignal


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """What the platform knows about a device independently of its messages."""

    device_type: DeviceType | None = None
    report_interval_s: float | None = None
    location: str | None = None


class DeviceDirectory(Protocol):
    """Where device facts come from before the device has said them itself (for example the
    device registry): without it, a rule filtered by device type cannot match a device until
    its status has been seen."""

    def lookup(self, community: str, device: str) -> DeviceInfo | None: ...


@dataclass(frozen=True, slots=True)
class _Device:
    """One device as the rules see it while a message or tick is handled."""

    community: str
    device: str
    rules: CommunityRules
    device_type: DeviceType | None
    report_interval_s: float | None
    location: str | None

    def subject(self, location: str | None = None) -> Subject:
        return Subject(self.community, self.device, location or self.location)

    def muter(self, rule: Rule) -> Muter:
        rules, device = self.rules, self.device
        return lambda at: rules.muted_until(device, rule.id, at)

    def key(self, rule: Rule) -> StateKey:
        return StateKey(self.community, self.device, rule.id)


class RuleEngine:
    def __init__(
        self,
        ruleset: RuleSet,
        state: RuleState | None = None,
        directory: DeviceDirectory | None = None,
    ) -> None:
        self._ruleset = ruleset
        self._state: RuleState = state if state is not None else InMemoryRuleState()
        self._directory = directory

    def on_message(
        self,
        community: str,
        device: str,
        channel: str,
        payload: DeviceMessage,
        received_at: datetime,
    ) -> list[AlertSignal]:
        """The signals one decoded device message causes (often none).

        ``channel`` is the contract's channel name; ``payload`` the decoded model;
        ``received_at`` when ingest received it (aware), used for silence and for a will.
        Messages on channels devices do not publish (commands) are ignored.
        """
        _require_aware(received_at, "received_at")
        spec = CHANNELS_BY_NAME.get(channel)
        if spec is None:
            raise ValueError(f"unknown channel {channel!r}")
        if spec.publisher is not Publisher.DEVICE:
            return []
        rules = self._ruleset.for_community(community)
        cause = message_cause(channel, payload.ts, payload.seq)
        signals: list[AlertSignal] = []
        if isinstance(payload, DeviceStatus):
            target = self._apply_status(community, device, rules, payload)
            if target is None:
                return []  # a redelivered or superseded status says nothing new
            signals += self._presence(target, payload, received_at, cause)
            return signals
        target = self._device(community, device, rules)
        signals += self._presence(target, payload, received_at, cause)
        if isinstance(payload, TelemetryMessage):
            signals += self._thresholds(target, payload, cause)
        elif isinstance(payload, FaceEvent):
            signals += self._faces(target, payload, cause)
        elif channel == "event":
            signals += self._events(target, payload, cause)
        return signals

    def on_tick(self, now: datetime) -> list[AlertSignal]:
        """Signals that time alone causes: silence past its deadline, auto-clears, and raises
        held back by maintenance whose window has ended. Call it every second or so."""
        _require_aware(now, "now")
        signals: list[AlertSignal] = []
        for key, value in list(self._state.due(now)):
            rules = self._ruleset.for_community(key.community)
            rule = rules.rule(key.rule)
            if rule is None:  # the rule was removed or disabled since: forget its state
                self._state.set(key, None)
                continue
            target = self._device(key.community, key.device, rules)
            if isinstance(value, DeviceProfile):
                continue
            if not rule.applies_to(key.device, target.device_type):
                signals += self._let_go(target, rule, now, f"not_applicable/{stamp(now)}")
                continue
            muted = target.muter(rule)
            new: StateValue
            if isinstance(value, ThresholdState):
                new, out = threshold.on_tick(value, now, muted)
            elif isinstance(value, EventState):
                new, out = event_rules.on_tick(value, now, muted)
            else:
                new, out = absence.on_tick(value, now, muted)
            self._state.set(key, new)
            signals += [to_signal(rule, target.subject(), a) for a in out]
        return signals

    # device facts ------------------------------------------------------------------------------

    def _device(self, community: str, device: str, rules: CommunityRules) -> _Device:
        value = self._state.get(StateKey(community, device, PROFILE))
        profile = value if isinstance(value, DeviceProfile) else None
        return self._describe(community, device, rules, profile)

    def _describe(
        self, community: str, device: str, rules: CommunityRules, profile: DeviceProfile | None
    ) -> _Device:
        known = self._directory.lookup(community, device) if self._directory else None
        known = known or DeviceInfo()
        profile = profile or DeviceProfile()
        return _Device(
            community,
            device,
            rules,
            profile.device_type or known.device_type,
            profile.report_interval_s or known.report_interval_s,
            profile.location or known.location,
        )

    def _apply_status(
        self, community: str, device: str, rules: CommunityRules, status: DeviceStatus
    ) -> _Device | None:
        key = StateKey(community, device, PROFILE)
        value = self._state.get(key)
        profile = value if isinstance(value, DeviceProfile) else None
        if not is_newer_status(profile, status):
            return None
        profile = apply_status(profile, status)
        self._state.set(key, profile)
        return self._describe(community, device, rules, profile)

    # rule kinds --------------------------------------------------------------------------------

    def _presence(
        self, target: _Device, payload: DeviceMessage, received_at: datetime, cause: str
    ) -> list[AlertSignal]:
        signals = []
        for rule in target.rules.absences:
            assert rule.absence is not None
            if not rule.applies_to(target.device, target.device_type):
                if isinstance(payload, DeviceStatus):  # its type may just have become known
                    signals += self._let_go(target, rule, received_at, cause)
                continue
            key = target.key(rule)
            value = self._state.get(key)
            state = value if isinstance(value, AbsenceState) else None
            interval = absence.interval_s(
                rule.absence, target.report_interval_s, target.device_type
            )
            if isinstance(payload, DeviceStatus) and payload.state == "offline":
                new, out = absence.on_offline(
                    rule.absence, state, payload, received_at, interval, cause, target.muter(rule)
                )
            else:
                new, out = absence.on_heard(
                    rule.absence, state, payload.ts, received_at, interval, cause
                )
            signals += self._commit(key, state, new, rule, target, out)
        return signals

    def _let_go(self, target: _Device, rule: Rule, at: datetime, cause: str) -> list[AlertSignal]:
        """Forget a rule's state for a device the rule turns out not to apply to (a camera
        that device_offline watched until its status named its type), withdrawing an alert
        already announced: nothing else would ever clear it."""
        key = target.key(rule)
        value = self._state.get(key)
        if value is None or isinstance(value, DeviceProfile):
            return []
        self._state.set(key, None)
        if not (value.latch.active and value.latch.announced):
            return []
        at = max(at, value.latch.since or at)  # never before the raise it withdraws
        return [to_signal(rule, target.subject(), Announcement("clear", at, cause))]

    def _thresholds(
        self, target: _Device, payload: TelemetryMessage, cause: str
    ) -> list[AlertSignal]:
        signals = []
        mark = Mark(payload.ts, payload.seq)
        for metric, reading in payload.metrics.items():
            for rule in target.rules.thresholds.get(metric, ()):
                assert rule.threshold is not None
                if not rule.applies_to(target.device, target.device_type):
                    continue
                key = target.key(rule)
                value = self._state.get(key)
                state = value if isinstance(value, ThresholdState) else None
                new, out = threshold.on_sample(
                    rule.threshold, state, mark, reading.value, cause, target.muter(rule)
                )
                signals += self._commit(key, state, new, rule, target, out)
        return signals

    def _events(self, target: _Device, payload: DeviceMessage, cause: str) -> list[AlertSignal]:
        # The contract's hazard events share ``active`` and ``location`` without a public base
        # class; an event without ``active`` (door_forced) is an occurrence.
        kind = getattr(payload, "kind", None)
        active = getattr(payload, "active", None)
        location = getattr(payload, "location", None)
        signals = []
        mark = Mark(payload.ts, payload.seq)
        for rule in target.rules.events.get(str(kind), ()):
            assert rule.event is not None
            if not rule.applies_to(target.device, target.device_type):
                continue
            key = target.key(rule)
            value = self._state.get(key)
            state = value if isinstance(value, EventState) else None
            muted, auto_clear_s = target.muter(rule), rule.event.auto_clear_s
            if isinstance(active, bool):
                new, out = event_rules.on_condition(state, mark, active, cause, muted, auto_clear_s)
            else:
                new, out = event_rules.on_occurrence(state, mark, cause, muted, auto_clear_s)
            signals += self._commit(key, state, new, rule, target, out, location)
        return signals

    def _faces(self, target: _Device, payload: FaceEvent, cause: str) -> list[AlertSignal]:
        signals = []
        mark = Mark(payload.ts, payload.seq)
        for rule in target.rules.faces:
            assert rule.face is not None
            if not rule.applies_to(target.device, target.device_type):
                continue
            if not face.is_alert(rule.face, payload, target.rules.timezone):
                continue
            key = target.key(rule)
            value = self._state.get(key)
            state = value if isinstance(value, EventState) else None
            new, out = event_rules.on_occurrence(
                state,
                mark,
                cause,
                target.muter(rule),
                rule.face.auto_clear_s,
                face.details(payload),
            )
            signals += self._commit(key, state, new, rule, target, out)
        return signals

    def _commit(
        self,
        key: StateKey,
        old: StateValue | None,
        new: StateValue,
        rule: Rule,
        target: _Device,
        out: list[Announcement],
        location: str | None = None,
    ) -> list[AlertSignal]:
        if new is not old:  # unchanged state (a duplicate) costs no write
            self._state.set(key, new)
        return [to_signal(rule, target.subject(location), a) for a in out]


def _require_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {moment!r}")
