"""Per-community overrides (severity, settings, disabling) and maintenance windows."""

from hgj_contracts import events as ev
from tests.unit.alerting_support import at, driver, kinds, telemetry

RULES = """
    rules:
      - id: temp_high
        severity: critical
        threshold: {metric: temperature, above: 60, for_s: 0, clear_at: 50}
        message: {zh: "温度过高 {value}", en: "too hot {value}"}
      - id: smoke
        severity: critical
        event: {kind: smoke}
        message: {zh: "烟雾 {device}", en: "smoke {device}"}
      - id: door_forced
        severity: major
        event: {kind: door_forced}
        message: {zh: "强行开门", en: "door forced"}
      - id: device_offline
        severity: minor
        absence: {multiple: 3, fallback_interval_s: 100}
        devices: ["gs-b02-th", "gs-b03-th"]
        message: {zh: "离线 {device}", en: "offline {device}"}
    communities:
      guanbeigou:
        rules:
          temp_high: {severity: major, threshold: {above: 55}}
          smoke: {enabled: false}
      guangsha:
        maintenance:
          - devices: ["gs-b03-*"]
            start: 2026-11-27 10:10:00   # local time (UTC+8): 02:10 UTC
            end: 2026-11-27 10:20:00
            note: 3号楼更换烟感
          - devices: ["gs-b04-th"]
            rules: [temp_high]
            start: 2026-11-27T02:10:00Z
            end: 2026-11-27T02:20:00Z
"""
MUTED_SMOKE = "gs-b03-u1-smoke-f01"  # in maintenance from at(600) to at(1200)


def test_severity_and_settings_overridden_per_community() -> None:
    gbg = driver(RULES, community="guanbeigou")
    raised = gbg.send("gbg-b01-th", telemetry(1, 0, temperature=57))
    assert kinds(raised) == [("raise", "temp_high")]
    assert raised[0].severity == "major"
    assert raised[0].community == "guanbeigou"
    gs = driver(RULES, community="guangsha")
    assert gs.send("gs-b01-th", telemetry(1, 0, temperature=57)) == []
    assert gs.send("gs-b01-th", telemetry(2, 1, temperature=61))[0].severity == "critical"


def test_a_community_not_in_the_file_gets_the_base_rules() -> None:
    other = driver(RULES, community="xinhua")
    assert other.send("xh-b01-th", telemetry(1, 0, temperature=61))[0].severity == "critical"


def test_a_rule_disabled_in_one_community_only() -> None:
    gbg = driver(RULES, community="guanbeigou")
    assert gbg.send("gbg-b01-smoke-f01", ev.SmokeEvent(ts=at(0), seq=1, active=True)) == []
    gs = driver(RULES, community="guangsha")
    on = ev.SmokeEvent(ts=at(0), seq=1, active=True)
    assert kinds(gs.send("gs-b01-u1-smoke-f01", on)) == [("raise", "smoke")]


def test_maintenance_suppresses_raises_by_event_time() -> None:
    d = driver(RULES)
    # Event time inside the window, arrival after it: still muted (event time decides).
    assert d.send(MUTED_SMOKE, ev.DoorForcedEvent(ts=at(700), seq=1), received=at(1300)) == []
    # Event time before the window, arrival inside it: not muted.
    raised = d.send("gs-b03-u1-door", ev.DoorForcedEvent(ts=at(590), seq=1), received=at(700))
    assert kinds(raised) == [("raise", "door_forced")]
    # Other devices are not affected.
    assert kinds(d.send("gs-b02-u1-door", ev.DoorForcedEvent(ts=at(700), seq=1))) == [
        ("raise", "door_forced")
    ]


def test_maintenance_does_not_suppress_clears() -> None:
    d = driver(RULES)
    assert kinds(d.send(MUTED_SMOKE, ev.SmokeEvent(ts=at(500), seq=1, active=True))) == [
        ("raise", "smoke")
    ]
    cleared = d.send(MUTED_SMOKE, ev.SmokeEvent(ts=at(700), seq=2, active=False))
    assert kinds(cleared) == [("clear", "smoke")]


def test_a_condition_muted_by_maintenance_is_announced_when_the_window_ends() -> None:
    """A fire that starts during a detector swap and is still burning afterwards is reported."""
    d = driver(RULES)
    assert d.send(MUTED_SMOKE, ev.SmokeEvent(ts=at(700), seq=1, active=True)) == []
    assert d.send(MUTED_SMOKE, ev.SmokeEvent(ts=at(800), seq=2, active=True)) == []  # repeat
    assert d.tick(at(1199)) == []
    late = d.tick(at(1205))
    assert kinds(late) == [("raise", "smoke")]
    assert late[0].event_time == at(1200)
    assert late[0].signal_id == "guangsha/gs-b03-u1-smoke-f01/resume/20261127T022000.000000Z/smoke"
    assert d.tick(at(1300)) == []
    assert kinds(d.send(MUTED_SMOKE, ev.SmokeEvent(ts=at(1400), seq=3, active=False))) == [
        ("clear", "smoke")
    ]


def test_a_condition_that_ends_within_the_window_is_never_announced() -> None:
    d = driver(RULES)
    assert d.send(MUTED_SMOKE, ev.SmokeEvent(ts=at(700), seq=1, active=True)) == []
    assert d.send(MUTED_SMOKE, ev.SmokeEvent(ts=at(800), seq=2, active=False)) == []
    assert d.tick(at(1300)) == []


def test_maintenance_limited_to_some_rules() -> None:
    d = driver(RULES)
    assert d.send("gs-b04-th", telemetry(1, 700, temperature=70)) == []
    assert kinds(d.send("gs-b04-th", ev.DoorForcedEvent(ts=at(700), seq=1))) == [
        ("raise", "door_forced")
    ]
    assert kinds(d.tick(at(1200))) == [("raise", "temp_high")]


def test_silence_during_maintenance_is_announced_after_it_if_the_device_is_still_silent() -> None:
    d = driver(RULES)
    d.send("gs-b03-th", telemetry(1, 400), received=at(400))  # deadline at 700: in the window
    assert d.tick(at(800)) == []
    late = d.tick(at(1200))
    assert kinds(late) == [("raise", "device_offline")]
    assert late[0].event_time == at(1200)


def test_a_device_back_before_the_window_ends_is_never_announced() -> None:
    d = driver(RULES)
    d.send("gs-b03-th", telemetry(1, 400), received=at(400))
    assert d.tick(at(800)) == []
    assert d.send("gs-b03-th", telemetry(2, 900), received=at(900)) == []
    assert d.tick(at(1199)) == []  # its next deadline is 1200


def test_the_maintenance_windows_own_device_is_muted_but_its_neighbours_are_not() -> None:
    d = driver(RULES)
    d.send("gs-b03-th", telemetry(1, 400), received=at(400))
    d.send("gs-b02-th", telemetry(1, 400), received=at(400))
    assert [s.device for s in d.tick(at(701))] == ["gs-b02-th"]
