"""What each device type measures: seeded, plausible readings with daily cycles, noise and drift.

Pure functions of a device's state and the time (no clock, no I/O). Every metric is in the
contract's catalogue with its unit; the caller adds the unit. Mains-powered devices have no
battery, wired ones no radio, so only battery sensors report ``battery`` and ``rssi``.
"""

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

from hgj_sim.inventory import SimDevice

JIUQUAN_LONGITUDE_DEG = 98.5
"""The sun follows longitude, not the clock: Jiuquan's solar noon is near 13:26 Beijing time."""
BEIJING_TIME = timezone(timedelta(hours=8))
"""People follow the clock: doors open and water runs by Beijing time."""

Readings = dict[str, float]
Actuators = dict[str, str | int | float | bool | None]


@dataclass(frozen=True, slots=True)
class Climate:
    """Indoor climate of a location: yearly and daily temperature cycles around a mean."""

    annual_mean_c: float
    annual_swing_c: float
    daily_swing_c: float
    mean_rh: float


# Stairwells and lobbies of Jiuquan buildings are dry (the Hexi corridor is arid) and follow the
# outdoor seasons at a distance; basements are cooler, damper and nearly constant.
ABOVE_GROUND = Climate(annual_mean_c=16.0, annual_swing_c=6.0, daily_swing_c=1.5, mean_rh=35.0)
BASEMENT = Climate(annual_mean_c=12.0, annual_swing_c=3.0, daily_swing_c=0.3, mean_rh=60.0)


def solar_hour(now: datetime) -> float:
    """Local solar time in Jiuquan, hours in [0, 24)."""
    utc = now.astimezone(UTC)
    hours = utc.hour + utc.minute / 60 + utc.second / 3600
    return (hours + JIUQUAN_LONGITUDE_DEG / 15) % 24


def clock_hour(now: datetime) -> float:
    """Beijing time of day in hours, [0, 24)."""
    local = now.astimezone(BEIJING_TIME)
    return local.hour + local.minute / 60 + local.second / 3600


def daily_cycle(now: datetime) -> float:
    """+1 at the warmest hour (mid-afternoon solar time), -1 twelve hours later."""
    return math.cos(2 * math.pi * (solar_hour(now) - 15) / 24)


def annual_cycle(now: datetime) -> float:
    """+1 in late July, -1 in late January."""
    return math.cos(2 * math.pi * (now.astimezone(UTC).timetuple().tm_yday - 200) / 365.25)


def daylight(now: datetime) -> bool:
    """Whether the sun is up: days are about 15 h in June and 9.5 h in December at 40° N."""
    half_day = 6.1 + 1.4 * annual_cycle(now)
    return abs(solar_hour(now) - 12.0) < half_day


def _peaks(hour: float, centres: tuple[float, ...], width: float) -> float:
    """Sum of bell curves at ``centres`` (hours), each 1 at its centre."""
    return sum(math.exp(-(((hour - c + 12) % 24 - 12) ** 2) / (2 * width**2)) for c in centres)


@dataclass(slots=True)
class SensorState:
    """What a device remembers between readings; reset by a power cycle where it would be."""

    device: SimDevice
    rng: random.Random
    climate: Climate
    started_at: datetime | None = None
    last_reading_at: datetime | None = None
    energy_kwh: float = 0.0
    drift_per_day: float = 0.0
    """Slow sensor drift (temperature °C per day, smoke baseline %/m per day)."""
    actuators: Actuators = field(default_factory=dict)

    def days_running(self, now: datetime) -> float:
        first = self.started_at or now
        return (now - first).total_seconds() / 86400

    def uptime(self, now: datetime) -> float:
        return float(round((now - (self.started_at or now)).total_seconds()))

    def add_energy(self, watts: float, now: datetime) -> float:
        """Integrate power since the previous reading into the energy counter (kWh)."""
        if self.last_reading_at is not None:
            hours = max(0.0, (now - self.last_reading_at).total_seconds()) / 3600
            self.energy_kwh += watts * hours / 1000
        return round(self.energy_kwh, 3)

    def switched_on(self, default: bool = True) -> bool:
        value = self.actuators.get("switch_on", default)
        return bool(value)


def _climate(s: SensorState, now: datetime) -> Readings:
    c = s.climate
    mean = c.annual_mean_c + c.annual_swing_c * annual_cycle(now)
    drift = s.drift_per_day * s.days_running(now)
    noise = s.rng.gauss(0.0, 0.15)
    temperature = mean + c.daily_swing_c * daily_cycle(now) + drift + noise
    # Warmer air holds more water, so relative humidity falls as the temperature rises.
    humidity = c.mean_rh - 1.5 * (temperature - mean) + s.rng.gauss(0.0, 0.8)
    return {
        "temperature": round(temperature, 1),
        "humidity": round(min(95.0, max(5.0, humidity)), 1),
    }


def _smoke(s: SensorState, now: datetime) -> Readings:
    # Clean air reads a few thousandths of %/m of sensor noise, never exactly zero; dust in the
    # chamber raises the baseline slowly, which is why detectors are cleaned and replaced.
    baseline = 0.005 + abs(s.drift_per_day) * s.days_running(now)
    return {"smoke_density": round(abs(s.rng.gauss(baseline, 0.003)), 3)}


def _leak(s: SensorState, now: datetime) -> Readings:
    # The sump of a dry pump room holds a centimetre of water or so, from condensation.
    return {"water_leak": 0.0, "water_level": round(abs(s.rng.gauss(0.8, 0.3)), 1)}


def _door_chance(now: datetime) -> float:
    hour = clock_hour(now)
    return 0.05 if 6 <= hour < 23 else 0.005


def _door(s: SensorState, now: datetime) -> Readings:
    return {"door_open": 1.0 if s.rng.random() < _door_chance(now) else 0.0}


def _controller(s: SensorState, now: datetime) -> Readings:
    """Access controllers and gates: their door or barrier, and how long they have run."""
    opened = s.actuators.get("gate") == "open" or s.rng.random() < _door_chance(now)
    return {"door_open": 1.0 if opened else 0.0, "uptime": s.uptime(now)}


def _camera(s: SensorState, now: datetime) -> Readings:
    # Analysis runs at 10 fps and dips when the scene is busy; at night the IR image is
    # simpler and cheaper to analyse.
    busy = 0.3 * _peaks(clock_hour(now), (8.0, 18.5), 1.5)
    return {"frame_rate": round(10.0 - busy + s.rng.gauss(0.0, 0.2), 1), "uptime": s.uptime(now)}


def _socket(s: SensorState, now: datetime) -> Readings:
    if not s.switched_on():
        current = 0.0
    elif s.device.place == "charging_area":
        # The charging shed fills after work: an e-bike charger draws 1.2-2.8 A.
        hour = clock_hour(now)
        busy = 0.15 + 0.6 * _peaks(hour, (20.0,), 2.5)
        current = s.rng.uniform(1.2, 2.8) if s.rng.random() < busy else 0.02
    else:
        # A corridor socket feeds the odd cleaner or lamp: well under the 1 A of a charger.
        current = abs(s.rng.gauss(0.03, 0.02))
    voltage = round(s.rng.gauss(221.0, 1.5), 1)
    power = current * voltage * 0.95
    return {
        "current": round(current, 2),
        "voltage": voltage,
        "power": round(power, 1),
        "energy": s.add_energy(power, now),
        "switch_on": 1.0 if s.switched_on() else 0.0,
    }


def _light(s: SensorState, now: datetime) -> Readings:
    lux = 0.0 if not daylight(now) else 20000.0 * max(0.05, daily_cycle(now) + 1.0) / 2
    scheduled = not daylight(now)
    on = bool(s.actuators.get("switch_on", scheduled))
    power = s.rng.gauss(58.0, 0.5) if on else 0.0
    return {
        "switch_on": 1.0 if on else 0.0,
        "power": round(power, 1),
        "energy": s.add_energy(power, now),
        "illuminance": round(lux * s.rng.uniform(0.9, 1.1), 0),
    }


def _pump(s: SensorState, now: datetime) -> Readings:
    # Water use peaks at breakfast and in the evening; the booster holds the pressure up.
    on = s.switched_on()
    demand = 1.5 + 7.0 * _peaks(clock_hour(now), (7.5, 19.5), 1.2)
    flow = max(0.0, demand + s.rng.gauss(0.0, 0.4)) if on else 0.0
    pressure = (380.0 - 2.5 * flow + s.rng.gauss(0.0, 3.0)) if on else 120.0
    return {
        "switch_on": 1.0 if on else 0.0,
        "flow": round(flow, 2),
        "pressure": round(pressure, 1),
        "current": round(3.0 + 1.1 * flow, 1) if on else 0.0,
    }


def _gateway(s: SensorState, now: datetime) -> Readings:
    return {"uptime": s.uptime(now)}


READERS: dict[str, Callable[[SensorState, datetime], Readings]] = {
    "temp_humidity": _climate,
    "smoke_detector": _smoke,
    "water_leak": _leak,
    "door_contact": _door,
    "access_controller": _controller,
    "gate": _controller,
    "face_camera": _camera,
    "camera": _camera,
    "elevator_camera": _camera,
    "charging_monitor": _socket,
    "street_light": _light,
    "water_pump": _pump,
    "gateway": _gateway,
}

INITIAL_ACTUATORS: dict[str, Actuators] = {
    "access_controller": {"gate": "closed"},
    "gate": {"gate": "closed"},
    "charging_monitor": {"switch_on": True},
    "water_pump": {"switch_on": True},
}
"""The state a device reports (``DeviceState``) before any command changed it. Street lights
follow their dusk-to-dawn schedule until a command switches them by hand."""
