"""Behaviour v0: contract-valid, catalogue-only readings that are repeatable for a seed."""

import itertools
from datetime import UTC, datetime, timedelta
from statistics import mean

import pytest

from hgj_contracts import DEVICE_STATUS, METRICS, TELEMETRY, Telemetry
from hgj_sim.behaviour import BEIJING_TIME, DeviceBehaviour, solar_hour
from hgj_sim.inventory import BASEMENT_FLOOR, SimDevice
from hgj_sim.model import load_community

T0 = datetime(2026, 11, 27, 0, 0, tzinfo=UTC)

EXPECTED_METRICS = {
    "temp_humidity": {"temperature", "humidity", "battery", "rssi"},
    "smoke_detector": {"smoke_density", "battery", "rssi"},
    "water_leak": {"water_leak", "water_level", "battery", "rssi"},
    "door_contact": {"door_open", "battery", "rssi"},
    "access_controller": {"door_open", "uptime"},
    "gate": {"door_open", "uptime"},
    "face_camera": {"frame_rate", "uptime"},
    "camera": {"frame_rate", "uptime"},
    "elevator_camera": {"frame_rate", "uptime"},
    "charging_monitor": {"current", "voltage", "power", "energy", "switch_on"},
    "street_light": {"switch_on", "power", "energy", "illuminance"},
    "water_pump": {"switch_on", "flow", "pressure", "current"},
}


def _device(device_type: str) -> SimDevice:
    community = load_community("guangsha")
    return next(d for d in community.devices if d.device_type == device_type)


def _readings(behaviour: DeviceBehaviour, n: int, step: timedelta) -> list[Telemetry]:
    return [behaviour.next_telemetry(T0 + i * step) for i in range(n)]


@pytest.mark.parametrize("device_type", sorted(EXPECTED_METRICS))
def test_telemetry_round_trips_with_catalogue_metrics_in_their_units(device_type: str) -> None:
    behaviour = DeviceBehaviour(_device(device_type), seed=1)
    for payload in _readings(behaviour, 50, timedelta(minutes=7)):
        assert TELEMETRY.decode(TELEMETRY.encode(payload)) == payload
        assert set(payload.metrics) == EXPECTED_METRICS[device_type]
        for name, reading in payload.metrics.items():
            assert reading.unit == METRICS[name].unit


def test_every_builtin_device_produces_valid_telemetry() -> None:
    for name in ("guangsha", "guanbeigou"):
        for device in load_community(name).devices:
            payload = DeviceBehaviour(device).next_telemetry(T0)
            assert TELEMETRY.decode(TELEMETRY.encode(payload)) == payload


def test_seq_starts_at_one_and_increments() -> None:
    behaviour = DeviceBehaviour(_device("door_contact"))
    assert behaviour.seq == 0
    assert [p.seq for p in _readings(behaviour, 5, timedelta(seconds=1))] == [1, 2, 3, 4, 5]
    assert behaviour.seq == 5


def test_same_seed_and_times_give_the_same_bytes() -> None:
    device = _device("temp_humidity")

    def run(seed: int) -> list[bytes]:
        behaviour = DeviceBehaviour(device, seed=seed)
        return [TELEMETRY.encode(p) for p in _readings(behaviour, 20, timedelta(minutes=5))]

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_devices_with_one_seed_still_differ() -> None:
    community = load_community("guangsha")
    smoke = [d for d in community.devices if d.device_type == "smoke_detector"][:5]
    payloads = {TELEMETRY.encode(DeviceBehaviour(d).next_telemetry(T0)) for d in smoke}
    assert len(payloads) > 1


def test_temperature_follows_the_sun() -> None:
    behaviour = DeviceBehaviour(_device("temp_humidity"), seed=3)
    warm, cold = [], []
    for p in _readings(behaviour, 24 * 12 * 7, timedelta(minutes=5)):  # a week
        hour = solar_hour(p.ts)
        if 14 <= hour < 16:
            warm.append(p.metrics["temperature"].value)
        elif 2 <= hour < 4:
            cold.append(p.metrics["temperature"].value)
    assert mean(warm) > mean(cold) + 1.0


def test_basement_is_cooler_and_damper() -> None:
    lobby = _device("temp_humidity")
    basement = SimDevice("x-th-b1", "temp_humidity", 1, None, BASEMENT_FLOOR, "B1 pump room", 300.0)
    below = _readings(DeviceBehaviour(basement), 24 * 7, timedelta(hours=1))
    above = _readings(DeviceBehaviour(lobby), 24 * 7, timedelta(hours=1))
    # late November: the unheated basement is colder than the lobby, and damper
    assert mean(p.metrics["humidity"].value for p in below) > mean(
        p.metrics["humidity"].value for p in above
    )
    assert mean(p.metrics["temperature"].value for p in below) < mean(
        p.metrics["temperature"].value for p in above
    )


def test_battery_drains_slowly_and_never_rises() -> None:
    behaviour = DeviceBehaviour(_device("smoke_detector"), seed=5)
    levels = [p.metrics["battery"].value for p in _readings(behaviour, 366, timedelta(days=1))]
    assert all(0 <= b <= 100 for b in levels)
    assert all(later <= earlier for earlier, later in itertools.pairwise(levels))
    assert 15 <= levels[0] - levels[-1] <= 40  # a year of a 3-5 year cell


def test_hazard_sensors_read_quiet_values() -> None:
    smoke = _readings(DeviceBehaviour(_device("smoke_detector")), 500, timedelta(minutes=10))
    leak = _readings(DeviceBehaviour(_device("water_leak")), 500, timedelta(minutes=15))
    door = _readings(DeviceBehaviour(_device("door_contact")), 2000, timedelta(minutes=5))
    assert all(0 <= p.metrics["smoke_density"].value < 0.05 for p in smoke)
    assert all(p.metrics["water_leak"].value == 0.0 for p in leak)
    opens = [p.metrics["door_open"].value for p in door]
    assert set(opens) == {0.0, 1.0}
    assert sum(opens) / len(opens) < 0.1


def test_online_status_says_what_and_how_often() -> None:
    behaviour = DeviceBehaviour(_device("water_leak"))
    status = behaviour.status("online", "startup", T0, 4, report_interval_s=2.5)
    assert DEVICE_STATUS.decode(DEVICE_STATUS.encode(status)) == status
    assert (status.seq, status.state, status.reason) == (4, "online", "startup")
    assert status.device_type == "water_leak"
    assert status.report_interval_s == 2.5
    assert status.firmware is not None
    assert status.firmware.startswith("hgj-sim/")


def test_offline_status_and_default_interval() -> None:
    behaviour = DeviceBehaviour(_device("water_leak"))
    online = behaviour.status("online", "startup", T0, 1)
    offline = behaviour.status("offline", "connection_lost", T0, 2)
    assert online.report_interval_s == behaviour.device.report_interval_s
    assert offline.report_interval_s is None
    assert DEVICE_STATUS.decode(DEVICE_STATUS.encode(offline)) == offline
    # telemetry numbering is independent of the status numbers the caller chose
    assert behaviour.next_telemetry(T0).seq == 1


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        DeviceBehaviour(_device("door_contact")).next_telemetry(datetime(2026, 1, 1))


def test_readings_stay_clear_of_the_shipped_alert_thresholds() -> None:
    """A normal day must raise nothing: no temperature near 60 °C, no sump near 5 cm, no
    corridor socket near 1 A, no charging-shed socket near 8 A, no battery near 15 %."""
    for name in ("guangsha", "guanbeigou"):
        for device in load_community(name).devices:
            behaviour = DeviceBehaviour(device, seed=11)
            for p in _readings(behaviour, 48, timedelta(minutes=30)):
                values = {k: r.value for k, r in p.metrics.items()}
                assert values.get("temperature", 0) < 50
                assert values.get("water_level", 0) < 2
                assert values.get("battery", 100) > 25
                limit = 6 if device.place == "charging_area" else 0.3
                assert values.get("current", 0) < (
                    20 if device.device_type == "water_pump" else limit
                )


def test_overrides_hold_until_cleared() -> None:
    behaviour = DeviceBehaviour(_device("water_leak"), seed=1)
    behaviour.set_readings({"water_leak": 1, "water_level": 12.5})
    flooded = behaviour.next_telemetry(T0).metrics
    assert (flooded["water_leak"].value, flooded["water_level"].value) == (1.0, 12.5)
    assert behaviour.next_telemetry(T0 + timedelta(minutes=1)).metrics["water_level"].value == 12.5
    behaviour.set_readings({"water_leak": None, "water_level": None})
    assert behaviour.next_telemetry(T0 + timedelta(minutes=2)).metrics["water_level"].value < 2
    with pytest.raises(ValueError, match="unknown metric 'depth'"):
        behaviour.set_readings({"depth": 1.0})


def test_switches_and_gates_follow_their_actuators() -> None:
    community = load_community("guanbeigou")
    socket = DeviceBehaviour(community.device("gbg-b05-u2-socket-f01"))
    light = DeviceBehaviour(community.device("gbg-east-light-01"))
    socket.actuators["switch_on"] = False
    off = socket.next_telemetry(T0).metrics
    assert (off["current"].value, off["switch_on"].value) == (0.0, 0.0)
    midnight_local = datetime(2026, 11, 26, 16, 0, tzinfo=UTC)
    assert light.next_telemetry(midnight_local).metrics["switch_on"].value == 1.0
    light.actuators["switch_on"] = False  # switched off by hand overrides the schedule
    assert light.next_telemetry(midnight_local).metrics["switch_on"].value == 0.0


def test_energy_counts_up_and_uptime_restarts_with_the_device() -> None:
    light = DeviceBehaviour(load_community("guangsha").device("gs-main-light-01"), seed=2)
    dusk = T0 - timedelta(hours=12)  # 20:00 in Jiuquan
    night = [light.next_telemetry(dusk + timedelta(hours=h)) for h in range(5)]
    energy = [p.metrics["energy"].value for p in night]
    assert energy == sorted(energy)
    assert energy[-1] > energy[0]
    assert night[-1].metrics["power"].value > 50
    gate = DeviceBehaviour(load_community("guangsha").device("gs-gate-north"))
    gate.next_telemetry(T0)
    assert gate.next_telemetry(T0 + timedelta(hours=1)).metrics["uptime"].value == 3600
    gate.restart(T0 + timedelta(hours=2))
    later = gate.next_telemetry(T0 + timedelta(hours=2, seconds=30))
    assert (later.seq, later.metrics["uptime"].value) == (1, 30)


def test_pumps_follow_the_day_and_mains_devices_have_no_battery() -> None:
    pump = DeviceBehaviour(load_community("guangsha").device("gs-b06-pump"), seed=4)
    morning = datetime(2026, 11, 27, 7, 30, tzinfo=BEIJING_TIME)
    small_hours = datetime(2026, 11, 27, 3, 30, tzinfo=BEIJING_TIME)
    busy = [pump.next_telemetry(morning + timedelta(days=d)).metrics for d in range(5)]
    quiet = [pump.next_telemetry(small_hours + timedelta(days=d)).metrics for d in range(5)]
    assert mean(m["flow"].value for m in busy) > mean(m["flow"].value for m in quiet) + 3
    assert all("battery" not in m and "rssi" not in m for m in busy)
