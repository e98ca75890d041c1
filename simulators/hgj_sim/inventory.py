"""Device inventory derived from a layout: ids, types and locations of every device.

Ids are a pure function of the layout (prefix, building number, unit, floor, gate name), so the
same file always yields the same devices, the broker accounts made for them stay valid, and a
device's history in InfluxDB survives a simulator restart.
"""

from dataclasses import dataclass
from typing import Literal

from hgj_contracts import DeviceType
from hgj_contracts.ids import check_identifier
from hgj_sim.layout import BuildingLayout, ReportIntervals
from hgj_sim.site import CompoundLayout

BASEMENT_FLOOR = -1
"""``SimDevice.floor`` of the B1 level."""

Place = Literal[
    "",
    "lobby",
    "stairwell",
    "lift_lobby",
    "pump_room",
    "entrance",
    "lift",
    "corridor",
    "roof",
    "gate",
    "road",
    "charging_area",
]

BATTERY_TYPES: frozenset[str] = frozenset(
    {"temp_humidity", "smoke_detector", "water_leak", "door_contact"}
)
"""Sensors on their own cell (and radio): a power cut leaves them running."""


@dataclass(frozen=True, slots=True)
class SimDevice:
    """One simulated device: what it is and where it is."""

    id: str
    device_type: DeviceType
    building: int | None
    """None for compound equipment (gates, street lights, charging sockets)."""
    unit: int | None
    floor: int | None
    location: str
    report_interval_s: float
    place: Place = ""
    compound: str | None = None
    grid: str | None = None
    gate: str | None = None
    """The gate a gate controller or gate camera belongs to."""

    @property
    def in_basement(self) -> bool:
        return self.floor is not None and self.floor < 0

    @property
    def mains_powered(self) -> bool:
        return self.device_type not in BATTERY_TYPES


def _floor_label(floor: int) -> str:
    return f"B{-floor}" if floor < 0 else f"{floor}F"


def _floor_id(floor: int) -> str:
    return f"b{-floor}" if floor < 0 else f"f{floor:02d}"


class _BuildingInventory:
    """Collects the devices of one building with the ids, places and periods they follow."""

    def __init__(self, prefix: str, building: BuildingLayout, intervals: ReportIntervals) -> None:
        self.building = building
        self.base = f"{prefix}-b{building.number:02d}"
        self.where = f"bldg {building.number}"
        self.intervals = intervals
        self.devices: list[SimDevice] = []

    def add(
        self,
        suffix: str,
        device_type: DeviceType,
        place: Place,
        location: str,
        *,
        unit: int | None = None,
        floor: int | None = None,
    ) -> None:
        self.devices.append(
            SimDevice(
                id=f"{self.base}-{suffix}",
                device_type=device_type,
                building=self.building.number,
                unit=unit,
                floor=floor,
                location=f"{self.where} {location}",
                report_interval_s=self.intervals.of(device_type),
                place=place,
            )
        )

    def per_floor(
        self,
        floors: range,
        per_unit: bool,
        kind: str,
        device_type: DeviceType,
        places: tuple[Place, Place],
    ) -> None:
        """One device per floor (shared place), or per unit on each floor (unit place)."""
        unit_place, shared_place = places
        for floor in floors:
            if not per_unit:
                where = f"{floor}F {shared_place.replace('_', ' ')}"
                self.add(
                    f"{kind}-{_floor_id(floor)}", device_type, shared_place, where, floor=floor
                )
                continue
            for unit in range(1, self.building.units + 1):
                self.add(
                    f"u{unit}-{kind}-{_floor_id(floor)}",
                    device_type,
                    unit_place,
                    f"unit {unit} {floor}F {unit_place}",
                    unit=unit,
                    floor=floor,
                )


def building_devices(
    prefix: str, building: BuildingLayout, intervals: ReportIntervals
) -> list[SimDevice]:
    """The devices of one building, in a stable order: climate, smoke, leak, doors, then the
    equipment later versions of the format added (access control, lifts, cameras, sockets,
    pump), so that the ids and order of a v0 file's devices never change."""
    inv = _BuildingInventory(prefix, building, intervals)
    inv.add("th", "temp_humidity", "lobby", "unit 1 1F lobby", unit=1, floor=1)
    smoke_floors = range(1, building.floors + 1, building.smoke.every)
    smoke_places: tuple[Place, Place] = ("stairwell", "lift_lobby")
    inv.per_floor(smoke_floors, building.smoke.per_unit, "smoke", "smoke_detector", smoke_places)
    pump_floor = BASEMENT_FLOOR if building.basement else 1
    pump_room = f"{_floor_label(pump_floor)} pump room"
    inv.add(f"leak-{_floor_id(pump_floor)}", "water_leak", "pump_room", pump_room, floor=pump_floor)
    units = range(1, building.units + 1)
    for unit in units:
        inv.add(
            f"u{unit}-door", "door_contact", "entrance", f"unit {unit} entrance door", unit=unit
        )
    if building.access_control:
        for unit in units:
            where = f"unit {unit} entrance door"
            inv.add(f"u{unit}-access", "access_controller", "entrance", where, unit=unit, floor=1)
    for lift in range(1, building.lifts + 1):
        inv.add(f"lift{lift}-cam", "elevator_camera", "lift", f"lift {lift} car")
    for floor in building.cameras.corridor_floors:
        for unit in units:
            where = f"unit {unit} {_floor_label(floor)} corridor"
            suffix = f"u{unit}-cam-{_floor_id(floor)}"
            inv.add(suffix, "camera", "corridor", where, unit=unit, floor=floor)
    if building.cameras.roof:
        inv.add("roof-cam", "camera", "roof", "roof door")
    if building.cameras.pump_room:
        inv.add("pumproom-cam", "camera", "pump_room", pump_room, floor=pump_floor)
    if building.sockets is not None:
        socket_floors = range(1, building.floors + 1, building.sockets.every)
        per_unit = building.sockets.per_unit
        places: tuple[Place, Place] = ("corridor", "lift_lobby")
        inv.per_floor(socket_floors, per_unit, "socket", "charging_monitor", places)
    if building.pump:
        inv.add("pump", "water_pump", "pump_room", pump_room, floor=pump_floor)
    for device in inv.devices:
        check_identifier(device.id, "generated device id")
    return inv.devices


def compound_devices(
    prefix: str, compound: CompoundLayout, intervals: ReportIntervals
) -> list[SimDevice]:
    """The shared equipment of a compound: gates (controller, then camera), street lights,
    charging sockets."""
    devices: list[SimDevice] = []

    def add(
        device_id: str, device_type: DeviceType, place: Place, where: str, gate: str | None = None
    ) -> None:
        devices.append(
            SimDevice(
                id=check_identifier(device_id, "generated device id"),
                device_type=device_type,
                building=None,
                unit=None,
                floor=None,
                location=where,
                report_interval_s=intervals.of(device_type),
                place=place,
                compound=compound.id,
                gate=gate,
            )
        )

    for gate in compound.gates:
        base = f"{prefix}-gate-{gate.name}"
        where = f"{gate.name} gate ({gate.name_zh})"
        add(base, "gate", "gate", where, gate.name)
        if gate.face_camera:
            add(f"{base}-cam", "face_camera", "gate", where, gate.name)
    for n in range(1, compound.street_lights + 1):
        add(f"{prefix}-{compound.id}-light-{n:02d}", "street_light", "road", f"road light {n}")
    for n in range(1, compound.charging_sockets + 1):
        where = f"e-bike charging shed socket {n}"
        add(f"{prefix}-{compound.id}-chg-{n:02d}", "charging_monitor", "charging_area", where)
    return devices
