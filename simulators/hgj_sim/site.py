"""The parts of a community file above the buildings: compounds with their gates, street lights
and charging sockets, grids (网格) with their grid workers, and the network fault rates.

A community (社区) may hold several compounds (小区), each walled with its own gates; grid
management divides the same buildings differently, into grids each looked after by one grid
worker (网格员). Both are optional so that a file describing only buildings stays valid.
"""

from typing import Annotated

from pydantic import Field

from hgj_contracts.ids import Identifier
from hgj_sim.layout import StrictModel

GateName = Annotated[str, Field(pattern=r"^[a-z0-9]{1,16}$")]
CompoundId = Annotated[str, Field(pattern=r"^[a-z0-9]{1,12}$")]
BuildingNumbers = Annotated[list[Annotated[int, Field(ge=1, le=99)]], Field(min_length=1)]


class GateLayout(StrictModel):
    """An entrance of a compound: a barrier or turnstile controller that reads cards, QR codes
    and PINs, and (``face_camera``) a camera that recognises faces for it.

    Face entry is never the only way in: every gate accepts the other credentials too.
    """

    name: GateName
    """Part of the device ids: ``gs-gate-north`` (controller), ``gs-gate-north-cam``."""
    name_zh: Annotated[str, Field(min_length=1, max_length=20)]
    face_camera: bool = True


class CompoundLayout(StrictModel):
    """A walled compound (小区) of the community and its shared equipment."""

    id: CompoundId
    """Part of the ids of its street lights and charging sockets: ``gs-main-light-03``."""
    name_zh: Annotated[str, Field(min_length=1, max_length=40)]
    buildings: BuildingNumbers
    gates: Annotated[list[GateLayout], Field(max_length=12)] = Field(default_factory=list)
    street_lights: Annotated[int, Field(ge=0, le=99)] = 0
    charging_sockets: Annotated[int, Field(ge=0, le=99)] = 0
    """Sockets of the e-bike charging shed (充电桩), each with a current monitor."""


class GridWorker(StrictModel):
    """The grid worker (网格员) responsible for a grid. No phone numbers: this is a file that
    gets copied around, and contact details live in the platform's user records."""

    id: Identifier
    name_zh: Annotated[str, Field(min_length=1, max_length=20)]


class GridLayout(StrictModel):
    """A grid (网格) of the community's grid management: some buildings and their worker."""

    id: Identifier
    name_zh: Annotated[str, Field(min_length=1, max_length=20)]
    worker: GridWorker
    buildings: BuildingNumbers


Rate = Annotated[float, Field(ge=0, le=1000)]


class FaultRates(StrictModel):
    """How often devices lose the network, for ``run --faults`` (seeded, so repeatable).

    A flap is a connection dropped without goodbye (the broker publishes the device's last
    will) and restored after ``flap_seconds``; an offline period is the same for longer, as
    when an NB-IoT sensor loses its cell. Rates are per device and per day of simulated time.
    """

    flaps_per_day: Rate = 0.2
    flap_seconds: tuple[Annotated[float, Field(gt=0)], Annotated[float, Field(gt=0)]] = (5.0, 60.0)
    offline_periods_per_day: Rate = 0.02
    offline_minutes: tuple[Annotated[float, Field(gt=0)], Annotated[float, Field(gt=0)]] = (
        10.0,
        120.0,
    )
