"""Alert rules: a validated YAML rule file and a pure engine that turns decoded device messages
and clock ticks into :class:`hgj_statedb.signals.AlertSignal` values for the alert store."""

from hgj_ingest.alerting.engine import DeviceDirectory, DeviceInfo, RuleEngine
from hgj_ingest.alerting.loader import (
    RuleFileError,
    load_default_rules,
    load_rules,
    parse_rules,
)
from hgj_ingest.alerting.rules import Rule, RuleFile
from hgj_ingest.alerting.ruleset import CommunityRules, Maintenance, RuleSet
from hgj_ingest.alerting.state import (
    InMemoryRuleState,
    RuleState,
    StateKey,
    StateValue,
    dump_state,
    load_state,
)

__all__ = [
    "CommunityRules",
    "DeviceDirectory",
    "DeviceInfo",
    "InMemoryRuleState",
    "Maintenance",
    "Rule",
    "RuleEngine",
    "RuleFile",
    "RuleFileError",
    "RuleSet",
    "RuleState",
    "StateKey",
    "StateValue",
    "dump_state",
    "load_default_rules",
    "load_rules",
    "load_state",
    "parse_rules",
]
