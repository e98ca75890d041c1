"""The parts of a community file that describe buildings: floors, units and device placement.

These models reject unknown keys so that a typo in a deployer's copy (``floor: 6`` for
``floors: 6``) fails loudly instead of silently simulating the wrong building. Equipment added
after the first version of the format (lifts, access control, cameras, socket monitors, pumps)
defaults to none, so that an older file still describes exactly the devices it did.
"""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class StrictModel(BaseModel):
    """A piece of a community file: unknown keys are errors, values are final once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class SmokeLayout(StrictModel):
    """Where the smoke detectors of a building hang."""

    every: Annotated[int, Field(ge=1, le=4)] = 1
    """Floors between detectors, starting at 1F: 1 = every floor, 2 = every other floor."""
    per_unit: bool = False
    """True: one detector per unit stairwell on those floors (walk-ups, where every unit is its
    own staircase). False: one per floor (towers whose units share a lift lobby)."""


class SocketLayout(StrictModel):
    """Corridor sockets watched by a current monitor, the sensor that catches flying-wire
    charging (飞线充电): a cable run from a flat to an e-bike parked in the corridor."""

    every: Annotated[int, Field(ge=1, le=6)] = 1
    """Floors between monitored sockets, starting at 1F."""
    per_unit: bool = True
    """One socket per unit stairwell on those floors, or one per lift lobby."""


class CameraLayout(StrictModel):
    """Fixed cameras of a building (lift cameras follow from ``lifts``)."""

    corridor_floors: Annotated[list[Annotated[int, Field(ge=-3, le=60)]], Field(max_length=60)] = []
    """Floors with a corridor camera in every unit (1F entrance halls, where e-bikes are parked
    and charged; negative numbers are basement levels)."""
    roof: bool = False
    """A camera at the roof door (a restricted area: nobody should be up there)."""
    pump_room: bool = False
    """A camera in the pump room (restricted; it guards the secondary water supply)."""

    @field_validator("corridor_floors")
    @classmethod
    def _no_ground_zero(cls, floors: list[int]) -> list[int]:
        if 0 in floors:
            raise ValueError("floors count 1F, 2F, ... above ground and -1 for B1; there is no 0")
        if len(set(floors)) != len(floors):
            raise ValueError("a corridor floor is listed twice")
        return floors


class BuildingLayout(StrictModel):
    """One residential building (楼) of a community."""

    number: Annotated[int, Field(ge=1, le=99)]
    name_zh: Annotated[str, Field(min_length=1, max_length=40)] | None = None
    units: Annotated[int, Field(ge=1, le=9, description="entrances (单元), each with a door")]
    floors: Annotated[int, Field(ge=1, le=60, description="above-ground storeys")]
    basement: bool = True
    """A basement level (B1) with the pump room / storage, where the water-leak probe sits.
    Without one the probe sits in the 1F pump room."""
    smoke: SmokeLayout = SmokeLayout()
    lifts: Annotated[int, Field(ge=0, le=8)] = 0
    """Lift cars, each with a camera that recognises e-bikes (电动车进电梯)."""
    access_control: bool = False
    """An access controller (card, QR code, PIN, face) at every unit door, beside its contact."""
    cameras: CameraLayout = CameraLayout()
    sockets: SocketLayout | None = None
    """Monitored corridor sockets; none when absent."""
    pump: bool = False
    """A booster pump (二次供水) in the pump room: towers above ~6 floors need one."""

    @property
    def display_name_zh(self) -> str:
        return self.name_zh or f"{self.number}号楼"

    @model_validator(mode="after")
    def _camera_floors_exist(self) -> "BuildingLayout":
        for floor in self.cameras.corridor_floors:
            if floor > self.floors or floor < -1 or (floor < 0 and not self.basement):
                levels = f"{self.floors} storeys" + (" and B1" if self.basement else "")
                raise ValueError(f"no floor {floor} for a corridor camera ({levels})")
        return self


Seconds = Annotated[float, Field(gt=0, le=86400)]


class ReportIntervals(StrictModel):
    """Telemetry period per device type, in seconds, as configured on the real devices.

    Battery sensors report rarely to last years on a cell (typical of NB-IoT and LoRa property
    sensors); mains-powered controllers and cameras report every minute or so.
    """

    temp_humidity: Seconds = 300.0
    smoke_detector: Seconds = 600.0
    water_leak: Seconds = 900.0
    door_contact: Seconds = 300.0
    access_controller: Seconds = 60.0
    gate: Seconds = 60.0
    face_camera: Seconds = 60.0
    camera: Seconds = 60.0
    elevator_camera: Seconds = 60.0
    charging_monitor: Seconds = 60.0
    street_light: Seconds = 300.0
    water_pump: Seconds = 60.0
    gateway: Seconds = 60.0

    def of(self, device_type: str) -> float:
        value = getattr(self, device_type)
        assert isinstance(value, float)
        return value
