"""Threshold rules: duration by event time, hysteresis, clear, duplicates and late samples."""

import pytest

from tests.unit.alerting_support import at, driver, kinds, status, telemetry

TEMP_RULES = """
    rules:
      - id: temp_high
        severity: critical
        threshold: {metric: temperature, above: 60, for_s: 30, clear_at: 50}
        message:
          zh: "温度过高 {value:.1f} °C（限值 {limit:g}）：{device}"
          en: "Temperature {value:.1f} {unit} above {limit:g} at {device}"
"""
TH = "gs-b01-th"


def test_raises_only_once_the_condition_has_held_for_for_s() -> None:
    d = driver(TEMP_RULES)
    assert d.send(TH, telemetry(1, 0, temperature=65)) == []
    assert d.send(TH, telemetry(2, 20, temperature=66)) == []
    raised = d.send(TH, telemetry(3, 30, temperature=67))
    assert kinds(raised) == [("raise", "temp_high")]
    signal = raised[0]
    assert signal.severity == "critical"
    assert signal.event_time == at(30)
    assert signal.value == 67.0
    assert signal.device == TH
    assert signal.community == "guangsha"
    assert signal.message == (
        "温度过高 67.0 °C（限值 60）：gs-b01-th / Temperature 67.0 Cel above 60 at gs-b01-th"
    )
    assert signal.signal_id == "guangsha/gs-b01-th/telemetry/20261127T020030.000000Z-3/temp_high"


def test_a_dip_below_the_limit_restarts_the_duration() -> None:
    d = driver(TEMP_RULES)
    d.send(TH, telemetry(1, 0, temperature=65))
    d.send(TH, telemetry(2, 20, temperature=55))  # in the hysteresis band, but not offending
    assert d.send(TH, telemetry(3, 35, temperature=65)) == []
    assert d.send(TH, telemetry(4, 50, temperature=65)) == []
    assert kinds(d.send(TH, telemetry(5, 65, temperature=65))) == [("raise", "temp_high")]


def test_duration_is_event_time_not_arrival_time() -> None:
    """A backlog replayed in one burst is judged by when the readings were taken."""
    d = driver(TEMP_RULES)
    burst = at(600)
    assert d.send(TH, telemetry(1, 0, temperature=65), received=burst) == []
    assert d.send(TH, telemetry(2, 10, temperature=65), received=burst) == []
    assert d.send(TH, telemetry(3, 20, temperature=65), received=burst) == []
    assert kinds(d.send(TH, telemetry(4, 30, temperature=65), received=burst)) == [
        ("raise", "temp_high")
    ]


def test_zero_for_s_raises_on_the_first_offending_sample() -> None:
    d = driver(TEMP_RULES.replace("for_s: 30", "for_s: 0"))
    assert kinds(d.send(TH, telemetry(1, 0, temperature=61))) == [("raise", "temp_high")]


def test_hysteresis_keeps_an_alert_raised_between_clear_at_and_the_limit() -> None:
    d = driver(TEMP_RULES)
    d.send(TH, telemetry(1, 0, temperature=65))
    d.send(TH, telemetry(2, 30, temperature=65))
    # Hovering around the limit: no flapping, no repeated raises.
    for seq, value in enumerate([59, 61, 55, 62, 50.5, 60], start=3):
        assert d.send(TH, telemetry(seq, 30 + seq * 10, temperature=value)) == []
    cleared = d.send(TH, telemetry(20, 300, temperature=49.9))
    assert kinds(cleared) == [("clear", "temp_high")]
    assert cleared[0].event_time == at(300)
    assert cleared[0].value == 49.9
    assert cleared[0].message.startswith("已恢复：温度过高 49.9")
    assert " / Cleared: Temperature 49.9" in cleared[0].message


def test_after_a_clear_a_new_episode_needs_the_full_duration_again() -> None:
    d = driver(TEMP_RULES)
    d.send(TH, telemetry(1, 0, temperature=65))
    d.send(TH, telemetry(2, 30, temperature=65))
    d.send(TH, telemetry(3, 40, temperature=20))
    assert d.send(TH, telemetry(4, 50, temperature=65)) == []
    assert kinds(d.send(TH, telemetry(5, 80, temperature=65))) == [("raise", "temp_high")]


def test_below_rule_with_hysteresis() -> None:
    d = driver(
        """
        rules:
          - id: battery_low
            severity: warning
            threshold: {metric: battery, below: 15, clear_at: 25}
            message: {zh: "电量低 {value}", en: "battery {value}"}
        """
    )
    assert kinds(d.send(TH, telemetry(1, 0, battery=14))) == [("raise", "battery_low")]
    assert d.send(TH, telemetry(2, 10, battery=20)) == []
    assert kinds(d.send(TH, telemetry(3, 20, battery=26))) == [("clear", "battery_low")]


def test_a_duplicate_message_produces_nothing() -> None:
    d = driver(TEMP_RULES)
    d.send(TH, telemetry(1, 0, temperature=65))
    raised = d.send(TH, telemetry(2, 30, temperature=65))
    assert kinds(raised) == [("raise", "temp_high")]
    assert d.send(TH, telemetry(2, 30, temperature=65)) == []
    cleared = d.send(TH, telemetry(3, 40, temperature=10))
    assert kinds(cleared) == [("clear", "temp_high")]
    assert d.send(TH, telemetry(3, 40, temperature=10)) == []


def test_a_late_older_sample_does_not_change_state() -> None:
    d = driver(TEMP_RULES)
    d.send(TH, telemetry(1, 0, temperature=65))
    d.send(TH, telemetry(3, 30, temperature=65))  # raised
    # seq 2 arrives after seq 3: a low reading from before must not clear the alert...
    assert d.send(TH, telemetry(2, 15, temperature=10)) == []
    # ...and the alert is still raised: a high reading does not raise it again.
    assert d.send(TH, telemetry(4, 40, temperature=65)) == []
    assert kinds(d.send(TH, telemetry(5, 50, temperature=10))) == [("clear", "temp_high")]


def test_a_late_low_sample_does_not_break_a_pending_run() -> None:
    d = driver(TEMP_RULES)
    d.send(TH, telemetry(1, 0, temperature=65))
    d.send(TH, telemetry(3, 20, temperature=65))
    assert d.send(TH, telemetry(2, 10, temperature=10)) == []  # late: ignored for state
    assert kinds(d.send(TH, telemetry(4, 30, temperature=65))) == [("raise", "temp_high")]


def test_a_restarted_device_whose_seq_begins_again_is_not_taken_for_a_duplicate() -> None:
    d = driver(TEMP_RULES.replace("for_s: 30", "for_s: 0"))
    first = d.send(TH, telemetry(7, 0, temperature=65))
    d.send(TH, telemetry(8, 10, temperature=20))
    second = d.send(TH, telemetry(7, 100, temperature=65))  # same seq, after a reboot
    assert kinds(second) == [("raise", "temp_high")]
    assert second[0].signal_id != first[0].signal_id


def test_metrics_the_rule_does_not_watch_are_ignored() -> None:
    d = driver(TEMP_RULES)
    assert d.send(TH, telemetry(1, 0, humidity=99)) == []
    assert d.send(TH, telemetry(2, 40, humidity=99)) == []


@pytest.mark.parametrize(
    ("filters", "device_type", "expected"),
    [
        ("device_types: [charging_monitor]", "charging_monitor", True),
        ("device_types: [charging_monitor]", None, False),  # type not known yet
        ("device_types: [charging_monitor]", "gateway", False),
        ("exclude_device_types: [gateway]", None, True),
        ("exclude_device_types: [gateway]", "gateway", False),
        ('devices: ["*-chg-*"]', None, True),
        ('devices: ["*-socket-*"]', None, False),
        ('exclude_devices: ["gs-chg-0?"]', None, False),
    ],
)
def test_device_filters(filters: str, device_type: str | None, expected: bool) -> None:
    d = driver(
        f"""
        rules:
          - id: charging_overcurrent
            severity: major
            threshold: {{metric: current, above: 8, clear_at: 6}}
            {filters}
            message: {{zh: "电流 {{value}} A", en: "current {{value}} A"}}
        """
    )
    device = "gs-chg-01"
    if device_type is not None:
        d.send(device, status(1, -10, device_type=device_type))
    raised = d.send(device, telemetry(1, 0, current=9.5))
    assert bool(raised) is expected
