"""Event rules (hazards a device reports) and face rules (watchlist hits, strangers)."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from hgj_contracts import events as ev
from tests.unit.alerting_support import at, driver, face, kinds, status

EVENT_RULES = """
    rules:
      - id: smoke
        severity: critical
        event: {kind: smoke}
        message: {zh: "烟雾报警：{location}（{device}）", en: "Smoke ({kind}) at {location}"}
      - id: door_forced
        severity: major
        event: {kind: door_forced}
        message: {zh: "门被强行打开：{device}", en: "Door forced at {device}"}
      - id: door_forced_timed
        severity: minor
        event: {kind: door_forced, auto_clear_s: 600}
        message: {zh: "门被强行打开：{device}", en: "Door forced at {device}"}
      - id: ebike_charging
        severity: major
        event: {kind: ebike_charging}
        message: {zh: "飞线充电：{device}", en: "Flying-wire charging at {device}"}
"""
SMOKE = "gs-b03-u2-smoke-f05"
DOOR = "gs-b02-u1-door"


def test_smoke_raises_on_active_and_clears_on_inactive() -> None:
    d = driver(EVENT_RULES)
    raised = d.send(SMOKE, ev.SmokeEvent(ts=at(0), seq=1, active=True, location="5F stairwell"))
    assert kinds(raised) == [("raise", "smoke")]
    assert raised[0].severity == "critical"
    assert (
        raised[0].message
        == "烟雾报警：5F stairwell（gs-b03-u2-smoke-f05） / Smoke (smoke) at 5F stairwell"
    )
    assert (
        raised[0].signal_id == "guangsha/gs-b03-u2-smoke-f05/event/20261127T020000.000000Z-1/smoke"
    )
    cleared = d.send(SMOKE, ev.SmokeEvent(ts=at(40), seq=2, active=False))
    assert kinds(cleared) == [("clear", "smoke")]
    assert cleared[0].event_time == at(40)


def test_an_inactive_event_without_an_alert_clears_nothing() -> None:
    d = driver(EVENT_RULES)
    assert d.send(SMOKE, ev.SmokeEvent(ts=at(0), seq=1, active=False)) == []


def test_a_repeated_active_event_is_a_repeat_for_the_store_to_count() -> None:
    d = driver(EVENT_RULES)
    d.send(SMOKE, ev.SmokeEvent(ts=at(0), seq=1, active=True))
    again = d.send(SMOKE, ev.SmokeEvent(ts=at(30), seq=2, active=True))
    assert kinds(again) == [("raise", "smoke")]
    assert again[0].signal_id.endswith("Z-2/smoke")


def test_duplicate_and_late_events_change_nothing() -> None:
    d = driver(EVENT_RULES)
    on = ev.SmokeEvent(ts=at(0), seq=1, active=True)
    off = ev.SmokeEvent(ts=at(40), seq=2, active=False)
    assert kinds(d.send(SMOKE, on)) == [("raise", "smoke")]
    assert d.send(SMOKE, on) == []
    assert kinds(d.send(SMOKE, off)) == [("clear", "smoke")]
    assert d.send(SMOKE, off) == []
    assert d.send(SMOKE, on) == []  # redelivered long after: older than the clear


def test_the_location_falls_back_to_the_devices_status() -> None:
    d = driver(EVENT_RULES)
    d.send(SMOKE, status(1, -60, device_type="smoke_detector", location="bldg 3 unit 2 5F"))
    raised = d.send(SMOKE, ev.SmokeEvent(ts=at(0), seq=1, active=True))
    assert "bldg 3 unit 2 5F" in raised[0].message


def test_instant_events_raise_every_time_and_never_clear_by_themselves() -> None:
    d = driver(EVENT_RULES)
    first = d.send(DOOR, ev.DoorForcedEvent(ts=at(0), seq=1))
    second = d.send(DOOR, ev.DoorForcedEvent(ts=at(5), seq=2))
    assert kinds(first) == [("raise", "door_forced"), ("raise", "door_forced_timed")]
    assert kinds(second) == kinds(first)
    assert kinds(d.tick(at(86400))) == [("clear", "door_forced_timed")]


def test_an_instant_events_auto_clear_counts_from_the_latest_occurrence() -> None:
    d = driver(EVENT_RULES)
    d.send(DOOR, ev.DoorForcedEvent(ts=at(0), seq=1))
    d.send(DOOR, ev.DoorForcedEvent(ts=at(300), seq=2))
    assert d.tick(at(899)) == []
    cleared = d.tick(at(900))
    assert kinds(cleared) == [("clear", "door_forced_timed")]
    assert cleared[0].event_time == at(900)
    assert cleared[0].signal_id == (
        "guangsha/gs-b02-u1-door/auto_clear/20261127T021500.000000Z/door_forced_timed"
    )
    assert d.tick(at(2000)) == []


def test_only_the_kind_the_rule_names_is_watched() -> None:
    d = driver(EVENT_RULES)
    assert d.send(SMOKE, ev.TamperEvent(ts=at(0), seq=1, active=True)) == []
    assert kinds(d.send(SMOKE, ev.EbikeChargingEvent(ts=at(1), seq=2, active=True))) == [
        ("raise", "ebike_charging")
    ]


# --- faces ----------------------------------------------------------------------------------

FACE_RULES = """
    rules:
      - id: watchlist_face
        severity: critical
        face: {category: watchlist, min_score: 0.8}
        message:
          zh: "布控人员 {person}（{watchlist}，{score:.2f}）：{device}"
          en: "Watchlist {watchlist} hit: {person} ({score:.2f}) at {device}"
      - id: wanted_only
        severity: major
        face: {category: watchlist, watchlists: [wanted]}
        message: {zh: "通缉 {person}", en: "wanted {person}"}
      - id: night_stranger_gate
        severity: warning
        face:
          category: stranger
          hours: [{start: 23:00, end: "06:00"}]
        devices: ["*-gate-*"]
        message: {zh: "夜间陌生人：{device}", en: "Stranger at night at {device}"}
      - id: stranger_restricted_zone
        severity: major
        face: {category: stranger}
        devices: ["*-pumproom-*"]
        message: {zh: "陌生人进入限制区域：{device}", en: "Stranger in restricted area at {device}"}
"""
GATE_CAM = "gs-gate-north-cam1"


def _shanghai(hour: int, minute: int = 0) -> datetime:
    """A moment on 27 November 2026 given in Suzhou District's local time, returned in UTC."""
    local = datetime(2026, 11, 27, hour, minute, tzinfo=ZoneInfo("Asia/Shanghai"))
    return local.astimezone(UTC)


def test_watchlist_hit_raises_with_ids_and_score() -> None:
    d = driver(FACE_RULES)
    hit = face(1, 0, "watchlist", person_id="p-77", watchlist="wanted", score=0.91)
    raised = d.send(GATE_CAM, hit)
    assert kinds(raised) == [("raise", "watchlist_face"), ("raise", "wanted_only")]
    assert raised[0].message == (
        "布控人员 p-77（wanted，0.91）：gs-gate-north-cam1 / "
        "Watchlist wanted hit: p-77 (0.91) at gs-gate-north-cam1"
    )


def test_watchlist_filters_by_list_and_score() -> None:
    d = driver(FACE_RULES)
    other_list = face(1, 0, "watchlist", person_id="p-1", watchlist="vip-banned", score=0.95)
    assert kinds(d.send(GATE_CAM, other_list)) == [("raise", "watchlist_face")]
    weak = face(2, 1, "watchlist", person_id="p-1", watchlist="vip-banned", score=0.5)
    assert d.send(GATE_CAM, weak) == []


def test_residents_are_never_alerts() -> None:
    d = driver(FACE_RULES)
    assert d.send(GATE_CAM, face(1, _shanghai(2), "resident", person_id="p-9")) == []


@pytest.mark.parametrize(
    ("local_hour", "local_minute", "expected"),
    [
        (22, 59, False),
        (23, 0, True),
        (23, 30, True),
        (0, 15, True),  # after midnight: the window crosses it
        (5, 59, True),
        (6, 0, False),
        (12, 0, False),
    ],
)
def test_stranger_at_the_gate_only_at_night_in_local_time(
    local_hour: int, local_minute: int, expected: bool
) -> None:
    d = driver(FACE_RULES)
    moment = _shanghai(local_hour, local_minute)
    raised = d.send(GATE_CAM, face(1, moment, "stranger"))
    assert kinds(raised) == ([("raise", "night_stranger_gate")] if expected else [])


def test_the_local_time_helper_is_asia_shanghai() -> None:
    assert _shanghai(0, 15) == datetime(2026, 11, 26, 16, 15, tzinfo=UTC)
    assert _shanghai(23) == datetime(2026, 11, 27, 15, 0, tzinfo=UTC)  # same UTC day


def test_stranger_in_a_restricted_zone_at_any_hour() -> None:
    d = driver(FACE_RULES)
    raised = d.send("gs-b03-pumproom-cam1", face(1, _shanghai(14), "stranger"))
    assert kinds(raised) == [("raise", "stranger_restricted_zone")]
    assert d.send("gs-b03-lobby-cam1", face(2, _shanghai(14), "stranger")) == []


def test_a_duplicate_face_event_raises_once() -> None:
    d = driver(FACE_RULES)
    hit = face(1, 0, "watchlist", person_id="p-77", watchlist="wanted", score=0.91)
    assert len(d.send(GATE_CAM, hit)) == 2
    assert d.send(GATE_CAM, hit) == []
