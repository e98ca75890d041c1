"""Behaviour v0: plausible, contract-valid readings for each simulated sensor.

No clock and no I/O: the caller passes the time, so a test can replay a day in microseconds, and
the same seed, device and times always give the same payloads (the random generator is seeded
from the seed and the device id, so devices differ from each other but not from run to run).
"""

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from hgj_contracts import METRICS, DeviceStatus, Reading, StatusReason, StatusState, Telemetry
from hgj_sim import __version__
from hgj_sim.inventory import SimDevice

JIUQUAN_LONGITUDE_DEG = 98.5
"""The sun follows longitude, not the clock: Jiuquan's solar noon is near 13:26 Beijing time."""
BEIJING_TIME = timezone(timedelta(hours=8))
"""People follow the clock: doors open by Beijing time."""
FIRMWARE = f"hgj-sim/{__version__}"
"""Reported in the online status so the console can tell simulated devices from real ones."""


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

Readings = dict[str, float]


def solar_hour(now: datetime) -> float:
    """Local solar time in Jiuquan, hours in [0, 24)."""
    utc = now.astimezone(UTC)
    hours = utc.hour + utc.minute / 60 + utc.second / 3600
    return (hours + JIUQUAN_LONGITUDE_DEG / 15) % 24


def _daily_cycle(now: datetime) -> float:
    """+1 at the warmest hour (mid-afternoon solar time), -1 twelve hours later."""
    return math.cos(2 * math.pi * (solar_hour(now) - 15) / 24)


def _annual_cycle(now: datetime) -> float:
    """+1 in late July, -1 in late January."""
    return math.cos(2 * math.pi * (now.astimezone(UTC).timetuple().tm_yday - 200) / 365.25)


class DeviceBehaviour:
    """The readings of one device over time, and its status payloads.

    ``next_telemetry`` numbers telemetry with its own ``seq`` from 1; status payloads take
    their ``seq`` from the caller (see ``hgj_sim.session``), because a last will reserves its
    number at connect time, out of step with the telemetry.
    """

    def __init__(self, device: SimDevice, seed: int | str = 0) -> None:
        reader = _READERS.get(device.device_type)
        if reader is None:
            raise ValueError(f"no behaviour for device type {device.device_type!r}")
        self.device = device
        self._reader = reader
        self._rng = random.Random(f"{seed}/{device.id}")
        self._seq = 0
        self._climate = BASEMENT if device.in_basement else ABOVE_GROUND
        self._battery_full = self._rng.uniform(70.0, 100.0)
        # A lithium cell of such a sensor lasts 3 to 5 years.
        self._battery_drain_per_day = self._rng.uniform(100 / (5 * 365), 100 / (3 * 365))
        self._rssi_mean = self._rng.uniform(-90.0, -60.0) - (10.0 if device.in_basement else 0.0)
        self._first_reading: datetime | None = None

    @property
    def seq(self) -> int:
        """The ``seq`` of the last telemetry produced; 0 before the first."""
        return self._seq

    def next_telemetry(self, now: datetime) -> Telemetry:
        """The reading taken at ``now`` (an aware datetime), with the next ``seq``."""
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        if self._first_reading is None:
            self._first_reading = now
        self._seq += 1
        values = self._reader(self, now)
        values["battery"] = self._battery(now)
        values["rssi"] = float(round(self._rng.gauss(self._rssi_mean, 2.0)))
        metrics = {name: Reading(value=v, unit=METRICS[name].unit) for name, v in values.items()}
        return Telemetry(ts=now, seq=self._seq, metrics=metrics)

    def status(
        self,
        state: StatusState,
        reason: StatusReason,
        now: datetime,
        seq: int,
        *,
        report_interval_s: float | None = None,
    ) -> DeviceStatus:
        """A presence payload. Online ones say what the device is and how often it reports
        (``report_interval_s`` overrides the device's own period, e.g. when sped up)."""
        online = state == "online"
        if report_interval_s is None:
            report_interval_s = self.device.report_interval_s
        return DeviceStatus(
            ts=now,
            seq=seq,
            state=state,
            reason=reason,
            device_type=self.device.device_type,
            firmware=FIRMWARE if online else None,
            report_interval_s=report_interval_s if online else None,
            location=self.device.location if online else None,
        )

    def _battery(self, now: datetime) -> float:
        assert self._first_reading is not None
        days = (now - self._first_reading).total_seconds() / 86400
        return float(round(max(0.0, self._battery_full - self._battery_drain_per_day * days)))

    def _climate_readings(self, now: datetime) -> Readings:
        c = self._climate
        mean = c.annual_mean_c + c.annual_swing_c * _annual_cycle(now)
        temperature = mean + c.daily_swing_c * _daily_cycle(now) + self._rng.gauss(0.0, 0.15)
        # Warmer air holds more water, so relative humidity falls as the temperature rises.
        humidity = c.mean_rh - 1.5 * (temperature - mean) + self._rng.gauss(0.0, 0.8)
        return {
            "temperature": round(temperature, 1),
            "humidity": round(min(95.0, max(5.0, humidity)), 1),
        }

    def _smoke_readings(self, now: datetime) -> Readings:
        # Clean air reads a few thousandths of %/m of sensor noise, never exactly zero.
        return {"smoke_density": round(abs(self._rng.gauss(0.005, 0.003)), 3)}

    def _leak_readings(self, now: datetime) -> Readings:
        return {"water_leak": 0.0}

    def _door_readings(self, now: datetime) -> Readings:
        hour = now.astimezone(BEIJING_TIME).hour
        chance_open = 0.05 if 6 <= hour < 23 else 0.005
        return {"door_open": 1.0 if self._rng.random() < chance_open else 0.0}


_READERS: dict[str, Callable[[DeviceBehaviour, datetime], Readings]] = {
    "temp_humidity": DeviceBehaviour._climate_readings,
    "smoke_detector": DeviceBehaviour._smoke_readings,
    "water_leak": DeviceBehaviour._leak_readings,
    "door_contact": DeviceBehaviour._door_readings,
}
