"""The engine's edges: its inputs, its state store, the device directory, the shipped rules."""

from datetime import datetime, timedelta

import pytest

from hgj_contracts import commands as cmd
from hgj_contracts import events as ev
from hgj_ingest.alerting import (
    DeviceInfo,
    InMemoryRuleState,
    RuleEngine,
    StateKey,
    dump_state,
    load_default_rules,
    load_state,
)
from hgj_ingest.alerting.state import (
    AbsenceState,
    DeviceProfile,
    EventState,
    Latch,
    Mark,
    ThresholdState,
)
from tests.unit.alerting_support import T0, Driver, at, face, kinds, ruleset, status, telemetry

CHARGING = """
    rules:
      - id: charging_overcurrent
        severity: major
        threshold: {metric: current, above: 8, clear_at: 6}
        device_types: [charging_monitor]
        message: {zh: "电流 {value} A", en: "current {value} A at {location}"}
"""


def test_naive_times_are_refused() -> None:
    engine = RuleEngine(ruleset(CHARGING))
    with pytest.raises(ValueError, match="timezone-aware"):
        engine.on_message(
            "guangsha", "gs-chg-01", "telemetry", telemetry(1, 0), datetime(2026, 1, 1)
        )
    with pytest.raises(ValueError, match="timezone-aware"):
        engine.on_tick(datetime(2026, 1, 1))


def test_unknown_channels_are_refused_and_commands_ignored() -> None:
    engine = RuleEngine(ruleset(CHARGING))
    with pytest.raises(ValueError, match="unknown channel"):
        engine.on_message("guangsha", "gs-chg-01", "telemtry", telemetry(1, 0), at(1))
    # A command is published by the API, not the device: it says nothing about the device.
    command = cmd.PingCommand(ts=T0, command_id="c-1", expires_at=T0 + timedelta(seconds=30))
    assert engine.on_message("guangsha", "gs-gate-n", "command", command, at(1)) == []  # type: ignore[arg-type]


class Directory:
    def lookup(self, community: str, device: str) -> DeviceInfo | None:
        if device == "gs-chg-01":
            return DeviceInfo(device_type="charging_monitor", location="east charging shed")
        return None


def test_a_directory_supplies_device_facts_before_the_device_states_them() -> None:
    without = Driver(RuleEngine(ruleset(CHARGING)))
    assert without.send("gs-chg-01", telemetry(1, 0, current=9)) == []
    with_directory = Driver(RuleEngine(ruleset(CHARGING), directory=Directory()))
    raised = with_directory.send("gs-chg-01", telemetry(1, 0, current=9))
    assert kinds(raised) == [("raise", "charging_overcurrent")]
    assert raised[0].message.endswith("at east charging shed")


def test_the_devices_own_status_wins_over_the_directory() -> None:
    d = Driver(RuleEngine(ruleset(CHARGING), directory=Directory()))
    d.send("gs-chg-01", status(1, -5, device_type="gateway", location="relay box"))
    assert d.send("gs-chg-01", telemetry(1, 0, current=9)) == []


@pytest.mark.parametrize(
    "value",
    [
        DeviceProfile(
            device_type="camera",
            report_interval_s=10.0,
            location="5F",
            status=Mark(T0, 3),
            status_reason="reconnect",
            online=True,
        ),
        ThresholdState(Mark(T0, 7), pending_since=T0, latch=Latch()),
        ThresholdState(
            Mark(T0, 7),
            latch=Latch(active=True, since=T0, value=61.5, resume_at=T0 + timedelta(minutes=5)),
        ),
        EventState(Mark(T0, 2), Latch(active=True, announced=True, since=T0), auto_clear_at=T0),
        AbsenceState(T0, T0, T0 + timedelta(seconds=900), Latch(), reason="silence"),
    ],
)
def test_state_values_round_trip_through_json(
    value: DeviceProfile | ThresholdState | EventState | AbsenceState,
) -> None:
    text = dump_state(value)
    assert load_state(text) == value
    assert '"kind"' in text


def test_due_returns_what_needs_the_clock_earliest_first() -> None:
    state = InMemoryRuleState(roundtrip=True)
    late = AbsenceState(T0, T0, deadline=T0 + timedelta(seconds=20))
    early = AbsenceState(T0, T0, deadline=T0 + timedelta(seconds=10))
    state.set(StateKey("c", "d1", "r"), late)
    state.set(StateKey("c", "d2", "r"), early)
    state.set(StateKey("c", "d3", "_device"), DeviceProfile())
    assert state.due(T0 + timedelta(seconds=5)) == []
    assert [k.device for k, _ in state.due(T0 + timedelta(seconds=30))] == ["d2", "d1"]
    state.set(StateKey("c", "d1", "r"), None)
    assert len(state) == 2


def test_state_of_a_rule_removed_since_is_forgotten_at_the_next_tick() -> None:
    state = InMemoryRuleState()
    key = StateKey("guangsha", "gs-b01-th", "gone")
    state.set(key, AbsenceState(T0, T0, deadline=T0))
    assert RuleEngine(ruleset(CHARGING), state).on_tick(at(10)) == []
    assert state.get(key) is None


def test_a_pilot_evening_with_the_shipped_rules() -> None:
    """The default rules end to end: both pilot communities, one evening's incidents."""
    rules = load_default_rules()
    gs = Driver(RuleEngine(rules, InMemoryRuleState(roundtrip=True)), "guangsha")
    gbg = Driver(RuleEngine(rules, InMemoryRuleState(roundtrip=True)), "guanbeigou")

    smoke = "gs-b03-u2-smoke-f05"
    gs.send(
        smoke, status(1, 0, device_type="smoke_detector", interval=600, location="3号楼2单元5F")
    )
    fire = gs.send(smoke, ev.SmokeEvent(ts=at(60), seq=1, active=True))
    assert [(s.rule, s.severity) for s in fire] == [("smoke", "critical")]
    assert fire[0].message == (
        "烟雾报警：3号楼2单元5F（gs-b03-u2-smoke-f05） / "
        "Smoke alarm at 3号楼2单元5F (gs-b03-u2-smoke-f05)"
    )

    # The sump threshold is stricter and critical in Guanbeigou (secondary water supply).
    leak = "gbg-b01-leak-b1"
    gbg.send(leak, status(1, 0, device_type="water_leak", interval=600))
    gbg.send(leak, telemetry(1, 100, water_level=6))
    high = gbg.send(leak, telemetry(2, 200, water_level=7))
    assert [(s.rule, s.severity) for s in high] == [("sump_water_high", "critical")]
    gs.send("gs-b01-leak-b1", telemetry(1, 100, water_level=7))
    assert gs.send("gs-b01-leak-b1", telemetry(2, 200, water_level=7)) == []

    # Cameras: gone silent (camera_offline), sensors: device_offline.
    cam = "gs-b06-u1-elev-cam"
    gs.send(cam, status(1, 0, device_type="elevator_camera", interval=10))
    assert [
        (s.rule, s.severity) for s in gs.send(cam, status(2, 0, "offline", "connection_lost"))
    ] == [("camera_offline", "major")]
    gs.send("gs-b01-th", status(1, 0, device_type="temp_humidity"))
    silent = gs.tick(at(901))
    assert [(s.device, s.rule, s.severity) for s in silent] == [
        ("gs-b01-th", "device_offline", "minor")
    ]

    # Flying-wire charging by current is disabled in Guangsha, enabled in Guanbeigou.
    socket = "-b02-u1-socket-f03"
    gs.send("gs" + socket, status(1, 0, device_type="charging_monitor"))
    gbg.send("gbg" + socket, status(1, 0, device_type="charging_monitor"))
    for seq, t in enumerate((1000, 1200, 1301), start=1):
        gs_out = gs.send("gs" + socket, telemetry(seq, t, current=2.2))
        gbg_out = gbg.send("gbg" + socket, telemetry(seq, t, current=2.2))
    assert gs_out == []
    assert [s.rule for s in gbg_out] == ["corridor_socket_charging"]

    # A stranger at the north gate at 23:30 local time.
    night = T0.replace(hour=15, minute=30)
    out = gs.send("gs-gate-north-cam1", face(1, night, "stranger"))
    assert [(s.rule, s.severity) for s in out] == [("night_stranger_gate", "warning")]
