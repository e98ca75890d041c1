"""The loaded rules in the shape the engine asks questions of: per community, indexed by what
a message can trigger, with maintenance windows resolved to UTC.

Built once by the loader; immutable afterwards, so one instance can be shared by threads.
"""

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from hgj_ingest.alerting.rules import Rule


@dataclass(frozen=True, slots=True)
class Maintenance:
    """One maintenance window of a community (times aware, UTC)."""

    devices: tuple[str, ...]
    rules: frozenset[str] | None
    start: datetime
    end: datetime
    note: str | None = None

    def covers(self, device: str, rule: str, at: datetime) -> bool:
        return (
            self.start <= at < self.end
            and (self.rules is None or rule in self.rules)
            and any(fnmatch.fnmatchcase(device, g) for g in self.devices)
        )


@dataclass(frozen=True)
class CommunityRules:
    """The effective rules of one community (overrides applied) and its maintenance windows."""

    rules: tuple[Rule, ...]
    timezone: ZoneInfo
    maintenance: tuple[Maintenance, ...] = ()
    by_id: Mapping[str, Rule] = field(init=False)
    thresholds: Mapping[str, tuple[Rule, ...]] = field(init=False)
    """Enabled threshold rules by metric."""
    events: Mapping[str, tuple[Rule, ...]] = field(init=False)
    """Enabled event rules by event kind."""
    faces: tuple[Rule, ...] = field(init=False)
    absences: tuple[Rule, ...] = field(init=False)

    def __post_init__(self) -> None:
        enabled = [r for r in self.rules if r.enabled]
        thresholds: dict[str, list[Rule]] = {}
        events: dict[str, list[Rule]] = {}
        for rule in enabled:
            if rule.threshold is not None:
                thresholds.setdefault(rule.threshold.metric, []).append(rule)
            if rule.event is not None:
                events.setdefault(rule.event.kind, []).append(rule)
        object.__setattr__(self, "by_id", {r.id: r for r in enabled})
        object.__setattr__(self, "thresholds", {k: tuple(v) for k, v in thresholds.items()})
        object.__setattr__(self, "events", {k: tuple(v) for k, v in events.items()})
        object.__setattr__(self, "faces", tuple(r for r in enabled if r.face is not None))
        object.__setattr__(self, "absences", tuple(r for r in enabled if r.absence is not None))

    def rule(self, rule_id: str) -> Rule | None:
        """The enabled rule with this id, or None (unknown or disabled here)."""
        return self.by_id.get(rule_id)

    def muted_until(self, device: str, rule: str, at: datetime) -> datetime | None:
        """The end of the maintenance that covers this device and rule at ``at``, following
        windows that overlap or abut; None when nothing mutes it."""
        end: datetime | None = None
        moment = at
        while True:
            ends = [w.end for w in self.maintenance if w.covers(device, rule, moment)]
            if not ends:
                return end
            end = moment = max(ends)


@dataclass(frozen=True)
class RuleSet:
    """Every community's effective rules; communities the file does not name get the base."""

    base: CommunityRules
    communities: Mapping[str, CommunityRules] = field(default_factory=dict)

    def for_community(self, community: str) -> CommunityRules:
        return self.communities.get(community, self.base)
