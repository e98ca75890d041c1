"""Contract-valid readings and status payloads of one simulated device over time.

No clock and no I/O: the caller passes the time, so a test can replay a day in microseconds, and
the same seed, device and times always give the same payloads (the random generator is seeded
from the seed and the device id, so devices differ from each other but not from run to run).
What each type measures is in ``readings``; this adds battery drain, radio, overrides set by a
scenario, and the counters a power cycle resets.
"""

import random
from collections.abc import Mapping
from datetime import datetime

from hgj_contracts import METRICS, DeviceStatus, Reading, StatusReason, StatusState, Telemetry
from hgj_sim import __version__
from hgj_sim.inventory import SimDevice
from hgj_sim.readings import (
    ABOVE_GROUND,
    BASEMENT,
    BEIJING_TIME,
    INITIAL_ACTUATORS,
    JIUQUAN_LONGITUDE_DEG,
    READERS,
    Actuators,
    SensorState,
    solar_hour,
)

__all__ = ["BEIJING_TIME", "FIRMWARE", "JIUQUAN_LONGITUDE_DEG", "DeviceBehaviour", "solar_hour"]

FIRMWARE = f"hgj-sim/{__version__}"
"""Reported in the online status so the console can tell simulated devices from real ones."""


class DeviceBehaviour:
    """The readings of one device over time, and its status payloads.

    ``next_telemetry`` numbers telemetry with its own ``seq`` from 1; status payloads take
    their ``seq`` from the caller (see ``hgj_sim.device``), because a last will reserves its
    number at connect time, out of step with the telemetry.
    """

    def __init__(self, device: SimDevice, seed: int | str = 0) -> None:
        reader = READERS.get(device.device_type)
        if reader is None:
            raise ValueError(f"no behaviour for device type {device.device_type!r}")
        self.device = device
        self._reader = reader
        rng = random.Random(f"{seed}/{device.id}")
        self._rng = rng
        self._seq = 0
        self._battery_full = rng.uniform(70.0, 100.0)
        # A lithium cell of such a sensor lasts 3 to 5 years.
        self._battery_drain_per_day = rng.uniform(100 / (5 * 365), 100 / (3 * 365))
        self._rssi_mean = rng.uniform(-90.0, -60.0) - (10.0 if device.in_basement else 0.0)
        self._first_reading: datetime | None = None
        self._overrides: dict[str, float] = {}
        # Thermistors drift by a few tenths of a degree a year; smoke chambers gather dust. A
        # generator of its own keeps the readings' sequence what it was before drift existed.
        drift_rng = random.Random(f"{seed}/{device.id}/drift")
        drift = drift_rng.gauss(0.0, 0.001) if device.device_type == "temp_humidity" else 0.00002
        self._sensor = SensorState(
            device=device,
            rng=rng,
            climate=BASEMENT if device.in_basement else ABOVE_GROUND,
            drift_per_day=drift,
            actuators=dict(INITIAL_ACTUATORS.get(device.device_type, {})),
        )

    @property
    def seq(self) -> int:
        """The ``seq`` of the last telemetry produced; 0 before the first."""
        return self._seq

    @property
    def actuators(self) -> Actuators:
        """What the device's outputs are set to (gate, switch): the state it reports."""
        return self._sensor.actuators

    @property
    def overrides(self) -> Mapping[str, float]:
        return dict(self._overrides)

    def set_readings(self, values: Mapping[str, float | None]) -> None:
        """Make metrics read these values until changed again (None: back to the model), as a
        scenario does to flood a sump or smoke a stairwell. Names must be in the catalogue."""
        for name, value in values.items():
            if name not in METRICS:
                raise ValueError(f"unknown metric {name!r}")
            if value is None:
                self._overrides.pop(name, None)
            else:
                self._overrides[name] = float(value)

    def uptime(self, now: datetime) -> float:
        """Seconds since the device (re)started, as of ``now``."""
        return self._sensor.uptime(now)

    def boot(self, now: datetime) -> None:
        """The device is switching on at ``now`` (its uptime counts from here)."""
        if self._sensor.started_at is None:
            self._sensor.started_at = now

    def restart(self, now: datetime) -> None:
        """A power cycle: counters start again at 1 and uptime at 0; outputs keep their
        state (relays and barriers hold it without power), overrides stay (the world does)."""
        self._seq = 0
        self._sensor.started_at = now
        self._sensor.last_reading_at = None

    def next_telemetry(self, now: datetime) -> Telemetry:
        """The reading taken at ``now`` (an aware datetime), with the next ``seq``."""
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        if self._first_reading is None:
            self._first_reading = now
        if self._sensor.started_at is None:
            self._sensor.started_at = now
        self._seq += 1
        values = self._reader(self._sensor, now)
        self._sensor.last_reading_at = now
        if not self.device.mains_powered:
            values["battery"] = self._battery(now)
            values["rssi"] = float(round(self._rng.gauss(self._rssi_mean, 2.0)))
        values.update(self._overrides)
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
        gateway: str | None = None,
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
            gateway=gateway,
        )

    def _battery(self, now: datetime) -> float:
        assert self._first_reading is not None
        days = (now - self._first_reading).total_seconds() / 86400
        return float(round(max(0.0, self._battery_full - self._battery_drain_per_day * days)))
