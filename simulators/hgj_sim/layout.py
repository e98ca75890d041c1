"""The parts of a community file that describe buildings: floors, units and sensor placement.

These models reject unknown keys so that a typo in a deployer's copy (``floor: 6`` for
``floors: 6``) fails loudly instead of silently simulating the wrong building.
"""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


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

    @property
    def display_name_zh(self) -> str:
        return self.name_zh or f"{self.number}号楼"


Seconds = Annotated[float, Field(gt=0, le=86400)]


class ReportIntervals(StrictModel):
    """Telemetry period per device type, in seconds, as configured on the real sensors.

    Battery sensors report rarely to last years on a cell; the figures are typical of NB-IoT
    and LoRa property sensors.
    """

    temp_humidity: Seconds = 300.0
    smoke_detector: Seconds = 600.0
    water_leak: Seconds = 900.0
    door_contact: Seconds = 300.0
