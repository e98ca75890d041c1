"""The rule file: what loads, and errors that name the file, the line and the path."""

import textwrap
from datetime import UTC, datetime, time
from pathlib import Path

import pytest

from hgj_ingest.alerting import RuleFileError, load_default_rules, load_rules, parse_rules
from hgj_ingest.alerting.templates import template_problems

GOOD = """\
rules:
  - id: temp_high
    severity: critical
    threshold:
      metric: temperature
      above: 60
      for_s: 30
      clear_at: 50
    message: {zh: "温度过高 {value}", en: "too hot {value}"}
  - id: smoke
    severity: critical
    event: {kind: smoke}
    message: {zh: "烟雾", en: "smoke"}
"""


def problems(text: str) -> list[str]:
    with pytest.raises(RuleFileError) as caught:
        parse_rules(textwrap.dedent(text), "rules.yaml")
    return caught.value.problems


def test_the_good_file_loads() -> None:
    rules = parse_rules(GOOD, "rules.yaml")
    assert [r.id for r in rules.base.rules] == ["temp_high", "smoke"]
    assert rules.base.thresholds["temperature"][0].threshold is not None
    assert rules.base.timezone.key == "Asia/Shanghai"


def test_unknown_key_names_its_line() -> None:
    text = GOOD.replace("      for_s: 30\n", "      for_s: 30\n      clear_after: 5\n")
    assert problems(text) == [
        "rules.yaml:8: rules[0].threshold.clear_after: Extra inputs are not permitted"
    ]


def test_wrong_type_names_its_line() -> None:
    text = GOOD.replace("above: 60", "above: hot")
    assert problems(text) == [
        "rules.yaml:6: rules[0].threshold.above: "
        "Input should be a valid number, unable to parse string as a number"
    ]


def test_unknown_metric_names_its_line() -> None:
    text = GOOD.replace("metric: temperature", "metric: temprature")
    [problem] = problems(text)
    assert problem.startswith(
        "rules.yaml:5: rules[0].threshold.metric: unknown metric 'temprature'"
    )


def test_clear_at_on_the_wrong_side_names_its_line() -> None:
    text = GOOD.replace("clear_at: 50", "clear_at: 65")
    assert problems(text) == [
        "rules.yaml:8: rules[0].threshold.clear_at: clear_at 65 must not be above the limit (60)"
    ]
    below = GOOD.replace("above: 60", "below: 10").replace("clear_at: 50", "clear_at: 5")
    assert problems(below) == [
        "rules.yaml:8: rules[0].threshold.clear_at: clear_at 5 must not be below the limit (10)"
    ]


def test_bad_placeholder_names_its_line() -> None:
    text = GOOD.replace('en: "too hot {value}"', 'en: "too hot {valeu}"')
    [problem] = problems(text)
    assert problem.startswith("rules.yaml:9: rules[0].message: en: unknown placeholder {valeu}")
    assert "{value}" in problem  # the error lists what is offered


def test_placeholders_are_per_kind() -> None:
    text = GOOD.replace('{zh: "烟雾", en: "smoke"}', '{zh: "烟雾 {value}", en: "smoke"}')
    [problem] = problems(text)
    assert problem.startswith("rules.yaml:13: rules[1].message: zh: unknown placeholder {value}")


@pytest.mark.parametrize(
    ("template", "fragment"),
    [
        ("{device", "expected '}'"),
        ("{}", "positional placeholder"),
        ("{0}", "positional placeholder"),
        ("{device:.1f}", "cannot format"),
        ("{device.upper}", "unknown placeholder"),
    ],
)
def test_template_checks(template: str, fragment: str) -> None:
    [problem] = template_problems(template, "threshold")
    assert fragment in problem


def test_well_formed_templates_pass() -> None:
    assert (
        template_problems("{value:.1f} {unit} > {limit:g} at {device} ({location})", "threshold")
        == []
    )
    assert template_problems("literal {{braces}}", "event") == []


def test_a_rule_needs_exactly_one_kind() -> None:
    text = GOOD.replace("    event: {kind: smoke}\n", "")
    assert problems(text) == [
        "rules.yaml:10: rules[1]: a rule needs exactly one of threshold, event, absence, face "
        "(found none)"
    ]
    both = GOOD.replace(
        "    event: {kind: smoke}\n", "    event: {kind: smoke}\n    face: {category: stranger}\n"
    )
    assert "found event, face" in problems(both)[0]


def test_threshold_needs_one_direction() -> None:
    text = GOOD.replace("      above: 60\n", "")
    assert problems(text) == [
        "rules.yaml:4: rules[0].threshold: give exactly one of 'above' or 'below'"
    ]


def test_bad_severity_and_event_kind() -> None:
    text = GOOD.replace("severity: critical\n    event", "severity: urgent\n    event").replace(
        "kind: smoke", "kind: fire"
    )
    found = problems(text)
    assert found[0].startswith("rules.yaml:11: rules[1].severity: Input should be 'critical'")
    assert found[1].startswith("rules.yaml:12: rules[1].event.kind: Input should be 'smoke'")


def test_duplicate_rule_ids() -> None:
    text = GOOD.replace("id: smoke", "id: temp_high")
    assert problems(text) == ["rules.yaml:10: rules[1].id: rule id 'temp_high' is used twice"]


def test_duplicate_yaml_keys_are_errors_not_last_one_wins() -> None:
    text = GOOD.replace("      for_s: 30\n", "      for_s: 30\n      above: 70\n")
    assert problems(text) == ["rules.yaml:8: duplicate key 'above'"]


def test_invalid_yaml_names_its_line() -> None:
    [problem] = problems(GOOD.replace("    event: {kind: smoke}", "    event: {kind: smoke"))
    assert problem.startswith("rules.yaml:13: not valid YAML")


def test_empty_file() -> None:
    assert problems("") == ["rules.yaml:1: the file is empty"]


def test_unquoted_clock_times_are_read_as_times_not_base_60_numbers() -> None:
    rules = parse_rules(
        """
        rules:
          - id: night
            severity: warning
            face: {category: stranger, hours: [{start: 23:00, end: 6:30}]}
            message: {zh: "陌生人", en: "stranger"}
        """.replace("\n        ", "\n")
    )
    spec = rules.base.faces[0].face
    assert spec is not None
    assert spec.hours is not None
    assert (spec.hours[0].start, spec.hours[0].end) == (time(23, 0), time(6, 30))


def test_bad_clock_time() -> None:
    text = """
        rules:
          - id: night
            severity: warning
            face: {category: stranger, hours: [{start: "25:00", end: "06:00"}]}
            message: {zh: "陌生人", en: "stranger"}
    """
    assert problems(text) == [
        "rules.yaml:5: rules[0].face.hours[0].start: expected a local time as 'HH:MM', e.g. '23:00'"
    ]


OVERRIDES = (
    GOOD
    + """\
communities:
  guanbeigou:
    rules:
      temp_high:
        severity: major
        threshold: {above: 55}
      smoke: {enabled: false}
    maintenance:
      - devices: ["gbg-b03-*"]
        rules: [smoke]
        start: 2026-12-01 09:00:00
        end: 2026-12-01T17:00:00
        note: 3号楼更换烟感
"""
)


def test_community_overrides_merge_into_the_base_rule() -> None:
    rules = parse_rules(OVERRIDES)
    gbg = rules.for_community("guanbeigou")
    temp = gbg.rule("temp_high")
    assert temp is not None
    assert temp.threshold is not None
    assert temp.severity == "major"
    assert (temp.threshold.above, temp.threshold.clear_at, temp.threshold.for_s) == (55, 50, 30)
    assert gbg.rule("smoke") is None  # disabled here
    assert rules.for_community("guangsha").rule("smoke") is not None


def test_zone_less_maintenance_times_are_the_communitys_local_time() -> None:
    window = parse_rules(OVERRIDES).for_community("guanbeigou").maintenance[0]
    assert window.start == datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
    assert window.end == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    assert window.rules == frozenset({"smoke"})


def test_an_override_that_breaks_the_merged_rule_is_reported_at_the_override() -> None:
    text = OVERRIDES.replace("threshold: {above: 55}", "threshold: {above: 45}")
    assert problems(text) == [
        "rules.yaml:19: communities.guanbeigou.rules.temp_high.threshold.clear_at: "
        "clear_at 50 must not be above the limit (45)"
    ]


def test_override_errors() -> None:
    text = OVERRIDES.replace("severity: major", "severity: extreme").replace(
        "smoke: {enabled: false}", "smokes: {enabled: false}"
    )
    assert problems(text) == [
        "rules.yaml:20: communities.guanbeigou.rules.smokes: no rule 'smokes' to change"
    ]
    text = OVERRIDES.replace("severity: major", "severity: extreme")
    assert problems(text) == [
        "rules.yaml:18: communities.guanbeigou.rules.temp_high.severity: Input should be "
        "'critical', 'major', 'minor', 'warning' or 'info'"
    ]
    text = OVERRIDES.replace("threshold: {above: 55}", "threshold: {abve: 55}")
    assert problems(text) == [
        "rules.yaml:19: communities.guanbeigou.rules.temp_high.threshold.abve: "
        "Extra inputs are not permitted"
    ]


def test_maintenance_errors() -> None:
    text = OVERRIDES.replace("rules: [smoke]", "rules: [smok]")
    assert problems(text) == [
        "rules.yaml:23: communities.guanbeigou.maintenance[0].rules[0]: no rule 'smok'"
    ]
    text = OVERRIDES.replace("end: 2026-12-01T17:00:00", "end: 2026-12-01T08:00:00")
    assert problems(text) == [
        "rules.yaml:25: communities.guanbeigou.maintenance[0].end: end must be after start"
    ]


def test_unknown_time_zone() -> None:
    text = OVERRIDES.replace("  guanbeigou:\n", "  guanbeigou:\n    timezone: Asia/Jiuquan\n")
    assert problems(text) == [
        "rules.yaml:16: communities.guanbeigou.timezone: "
        "unknown time zone 'Asia/Jiuquan' (e.g. 'Asia/Shanghai')"
    ]


def test_load_rules_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(GOOD.replace("above: 60", "above: hot"), encoding="utf-8")
    with pytest.raises(RuleFileError, match=rf"^{path}:6: rules\[0\]"):
        load_rules(path)
    with pytest.raises(RuleFileError, match="cannot read"):
        load_rules(tmp_path / "missing.yaml")


def test_the_shipped_default_rules_load() -> None:
    rules = load_default_rules()
    ids = {r.id for r in rules.base.rules}
    assert {
        "smoke",
        "water_leak",
        "door_forced",
        "door_held_open",
        "tamper",
        "ebike_in_elevator",
        "ebike_charging",
        "camera_offline",
        "device_offline",
        "temp_high",
        "watchlist_face",
        "night_stranger_gate",
    } <= ids
    assert set(rules.communities) == {"guangsha", "guanbeigou"}
    by_id = {r.id: r for r in rules.base.rules}
    assert by_id["smoke"].severity == "critical"
    assert by_id["water_leak"].severity == "major"
    assert by_id["door_held_open"].severity == "minor"
    assert by_id["temp_high"].severity == "critical"
    assert by_id["watchlist_face"].severity == "critical"
    assert by_id["device_offline"].severity in ("minor", "warning")


def test_the_shipped_file_is_also_valid_when_read_from_disk() -> None:
    path = Path(__file__).parents[2] / "ingest/hgj_ingest/alerting/default_rules.yaml"
    assert load_rules(path).base.rules == load_default_rules().base.rules
