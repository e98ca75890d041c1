"""Absence rules: silence past a multiple of the interval, last wills, and coming back."""

from datetime import timedelta

from tests.unit.alerting_support import at, driver, kinds, status, telemetry

ABSENCE_RULES = """
    rules:
      - id: camera_offline
        severity: major
        absence: {multiple: 3, fallback_interval_s: 60}
        device_types: [camera, face_camera, elevator_camera]
        message: {zh: "摄像机离线（{reason}）：{device}", en: "Camera offline ({reason}): {device}"}
      - id: device_offline
        severity: minor
        absence:
          multiple: 3
          intervals_s: {temp_humidity: 300}
          fallback_interval_s: 600
        exclude_device_types: [camera, face_camera, elevator_camera]
        message:
          zh: "设备离线（{reason}，{silent_s:.0f} 秒）：{device}"
          en: "Device offline ({reason}, {silent_s:.0f} s): {device}"
"""
TH = "gs-b01-th"
CAM = "gs-b06-u1-elev-cam"


def test_silence_past_the_multiple_of_the_announced_interval_raises() -> None:
    d = driver(ABSENCE_RULES)
    d.send(TH, status(1, 0, device_type="temp_humidity", interval=100), received=at(0))
    assert d.tick(at(299)) == []
    raised = d.tick(at(301))
    assert kinds(raised) == [("raise", "device_offline")]
    assert raised[0].event_time == at(300)  # the deadline, whenever the tick came
    assert (
        raised[0].signal_id == "guangsha/gs-b01-th/silence/20261127T020500.000000Z/device_offline"
    )
    assert raised[0].message == (
        "设备离线（silence，300 秒）：gs-b01-th / Device offline (silence, 300 s): gs-b01-th"
    )
    assert d.tick(at(1000)) == []  # raised once per episode


def test_every_message_restarts_the_silence_timer() -> None:
    d = driver(ABSENCE_RULES)
    d.send(TH, status(1, 0, device_type="temp_humidity", interval=100), received=at(0))
    for seq in range(1, 10):
        d.send(TH, telemetry(seq, seq * 250), received=at(seq * 250))
        assert d.tick(at(seq * 250 + 299)) == []
    assert kinds(d.tick(at(9 * 250 + 300))) == [("raise", "device_offline")]


def test_the_interval_defaults_per_device_type_then_to_the_fallback() -> None:
    d = driver(ABSENCE_RULES)
    d.send(TH, status(1, 0, device_type="temp_humidity"), received=at(0))  # no interval given
    d.send("gs-b01-pump", telemetry(1, 0), received=at(0))  # type unknown: fallback 600 s
    assert d.tick(at(899)) == []
    assert [s.device for s in d.tick(at(900))] == [TH]
    assert d.tick(at(1799)) == []
    assert [s.device for s in d.tick(at(1800))] == ["gs-b01-pump"]


def test_silence_is_measured_by_arrival_so_a_skewed_device_clock_is_harmless() -> None:
    d = driver(ABSENCE_RULES)
    skewed = -4 * 60  # the device's clock is four minutes slow
    d.send(TH, status(1, skewed, device_type="temp_humidity", interval=100), received=at(0))
    assert d.tick(at(299)) == []


def test_a_last_will_raises_at_once_at_its_delivery_time() -> None:
    d = driver(ABSENCE_RULES)
    d.send(CAM, status(1, 0, device_type="elevator_camera", interval=10), received=at(0))
    d.send(CAM, telemetry(1, 5, frame_rate=12), received=at(5))
    # The will carries the connect time as ts (and the next seq); it is delivered at 17 s.
    will = status(2, -0.01, "offline", "connection_lost")
    raised = d.send(CAM, will, received=at(17))
    assert kinds(raised) == [("raise", "camera_offline")]
    assert raised[0].event_time == at(17)
    assert raised[0].message.startswith("摄像机离线（connection_lost）")
    assert d.tick(at(100)) == []  # already raised: silence adds nothing


def test_coming_back_online_clears_and_reporting_again_clears() -> None:
    d = driver(ABSENCE_RULES)
    d.send(CAM, status(1, 0, device_type="elevator_camera", interval=10), received=at(0))
    d.send(CAM, status(2, 0, "offline", "connection_lost"), received=at(20))
    cleared = d.send(CAM, status(3, 60, "online", "reconnect"), received=at(61))
    assert kinds(cleared) == [("clear", "camera_offline")]
    assert cleared[0].event_time == at(61)

    d.send(TH, status(1, 0, device_type="temp_humidity", interval=100), received=at(0))
    d.tick(at(400))
    back = d.send(TH, telemetry(1, 500), received=at(501))
    assert kinds(back) == [("clear", "device_offline")]
    assert back[0].event_time == at(501)


def test_a_redelivered_old_message_does_not_clear() -> None:
    d = driver(ABSENCE_RULES)
    d.send(TH, status(1, 0, device_type="temp_humidity", interval=100), received=at(0))
    old = telemetry(1, 50)
    d.send(TH, old, received=at(50))
    assert kinds(d.tick(at(400))) == [("raise", "device_offline")]
    assert d.send(TH, old, received=at(410)) == []  # the broker redelivered it
    assert kinds(d.send(TH, telemetry(2, 420), received=at(420))) == [("clear", "device_offline")]


def test_a_redelivered_retained_status_is_not_news() -> None:
    d = driver(ABSENCE_RULES)
    online = status(1, 0, device_type="elevator_camera", interval=10)
    d.send(CAM, online, received=at(0))
    d.send(CAM, status(2, 0, "offline", "connection_lost"), received=at(20))
    assert d.send(CAM, online, received=at(30)) == []  # the old online status, redelivered


def test_a_graceful_shutdown_waits_for_silence_and_maintenance_stops_the_timer() -> None:
    d = driver(ABSENCE_RULES)
    d.send(TH, status(1, 0, device_type="temp_humidity", interval=100), received=at(0))
    assert d.send(TH, status(2, 50, "offline", "shutdown"), received=at(50)) == []
    assert kinds(d.tick(at(350))) == [("raise", "device_offline")]

    d.send("gs-b02-th", status(1, 0, device_type="temp_humidity", interval=100), received=at(0))
    off = status(2, 50, "offline", "maintenance")
    assert d.send("gs-b02-th", off, received=at(50)) == []
    assert d.tick(at(100_000)) == []


def test_a_restarted_device_starts_a_new_run_of_status_numbers() -> None:
    d = driver(ABSENCE_RULES)
    d.send(CAM, status(1, 0, device_type="camera", interval=10), received=at(0))
    d.send(CAM, status(7, 0, "offline", "connection_lost"), received=at(20))
    back = d.send(CAM, status(1, 30, "online", "startup"), received=at(31))
    assert kinds(back) == [("clear", "camera_offline")]
    will = d.send(CAM, status(2, 29.99, "offline", "connection_lost"), received=at(90))
    assert kinds(will) == [("raise", "camera_offline")]


def test_an_old_runs_straggler_status_is_ignored() -> None:
    d = driver(ABSENCE_RULES)
    d.send(CAM, status(1, 600, device_type="camera", interval=10), received=at(600))
    straggler = status(9, 0, "offline", "connection_lost")  # from the run before the restart
    assert d.send(CAM, straggler, received=at(601)) == []


def test_devices_never_heard_from_are_not_watched() -> None:
    d = driver(ABSENCE_RULES)
    assert d.tick(at(0) + timedelta(days=30)) == []


def test_a_device_whose_type_turns_out_excluded_moves_to_the_right_rule() -> None:
    """Heard before its status: device_offline watches it (type unknown); then its status says
    it is a camera, so camera_offline takes over and device_offline lets go."""
    d = driver(ABSENCE_RULES)
    d.send(CAM, telemetry(1, 0, frame_rate=12), received=at(0))
    assert kinds(d.tick(at(1800))) == [("raise", "device_offline")]
    back = d.send(CAM, status(1, 1900, device_type="camera", interval=10), received=at(1900))
    assert kinds(back) == [("clear", "device_offline")]
    assert back[0].event_time == at(1900)
    assert kinds(d.tick(at(1931))) == [("raise", "camera_offline")]
    assert d.tick(at(100_000)) == []


def test_a_device_whose_type_turns_out_excluded_is_let_go_quietly_if_nothing_was_raised() -> None:
    d = driver(ABSENCE_RULES)
    d.send(CAM, telemetry(1, 0, frame_rate=12), received=at(0))
    d.send(CAM, status(1, 10, device_type="camera", interval=10), received=at(10))
    assert kinds(d.tick(at(100_000))) == [("raise", "camera_offline")]
