"""Device inventory derived from a building layout: ids, types and locations of every sensor.

Ids are a pure function of the layout (prefix, building number, unit, floor), so the same file
always yields the same devices, the broker accounts made for them stay valid, and a device's
history in InfluxDB survives a simulator restart.
"""

from dataclasses import dataclass

from hgj_contracts import DeviceType
from hgj_contracts.ids import check_identifier
from hgj_sim.layout import BuildingLayout, ReportIntervals

BASEMENT_FLOOR = -1
"""``SimDevice.floor`` of the B1 level."""


@dataclass(frozen=True, slots=True)
class SimDevice:
    """One simulated device: what it is and where it hangs."""

    id: str
    device_type: DeviceType
    building: int
    unit: int | None
    floor: int | None
    location: str
    report_interval_s: float

    @property
    def in_basement(self) -> bool:
        return self.floor is not None and self.floor < 0


def _floor_label(floor: int) -> str:
    return f"B{-floor}" if floor < 0 else f"{floor}F"


def _floor_id(floor: int) -> str:
    return f"b{-floor}" if floor < 0 else f"f{floor:02d}"


def building_devices(
    prefix: str, building: BuildingLayout, intervals: ReportIntervals
) -> list[SimDevice]:
    """The sensors of one building, in a stable order: climate, smoke, leak, doors."""
    b = f"{prefix}-b{building.number:02d}"
    where = f"bldg {building.number}"
    devices = [
        SimDevice(
            id=f"{b}-th",
            device_type="temp_humidity",
            building=building.number,
            unit=1,
            floor=1,
            location=f"{where} unit 1 1F lobby",
            report_interval_s=intervals.temp_humidity,
        )
    ]
    smoke_floors = range(1, building.floors + 1, building.smoke.every)
    for floor in smoke_floors:
        if building.smoke.per_unit:
            devices.extend(
                SimDevice(
                    id=f"{b}-u{unit}-smoke-{_floor_id(floor)}",
                    device_type="smoke_detector",
                    building=building.number,
                    unit=unit,
                    floor=floor,
                    location=f"{where} unit {unit} {floor}F stairwell",
                    report_interval_s=intervals.smoke_detector,
                )
                for unit in range(1, building.units + 1)
            )
        else:
            devices.append(
                SimDevice(
                    id=f"{b}-smoke-{_floor_id(floor)}",
                    device_type="smoke_detector",
                    building=building.number,
                    unit=None,
                    floor=floor,
                    location=f"{where} {floor}F lift lobby",
                    report_interval_s=intervals.smoke_detector,
                )
            )
    leak_floor = BASEMENT_FLOOR if building.basement else 1
    devices.append(
        SimDevice(
            id=f"{b}-leak-{_floor_id(leak_floor)}",
            device_type="water_leak",
            building=building.number,
            unit=None,
            floor=leak_floor,
            location=f"{where} {_floor_label(leak_floor)} pump room",
            report_interval_s=intervals.water_leak,
        )
    )
    devices.extend(
        SimDevice(
            id=f"{b}-u{unit}-door",
            device_type="door_contact",
            building=building.number,
            unit=unit,
            floor=1,
            location=f"{where} unit {unit} entrance door",
            report_interval_s=intervals.door_contact,
        )
        for unit in range(1, building.units + 1)
    )
    for device in devices:
        check_identifier(device.id, "generated device id")
    return devices
