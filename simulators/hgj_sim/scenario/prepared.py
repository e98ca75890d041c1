"""A scenario ready to play on one community at one speed: cast resolved, timeline compiled,
start time chosen."""

from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from hgj_sim.clock import scenario_origin
from hgj_sim.inventory import SimDevice
from hgj_sim.model import Community
from hgj_sim.scenario.cast import resolve_cast
from hgj_sim.scenario.model import ScenarioFile
from hgj_sim.scenario.timeline import CompiledScenario, compile_scenario

MIN_WALL_SPACING_S = 0.5
"""At high speed a device still reports at most every half second of wall time (its readings
then come further apart in simulated time), so that a day replayed in seconds does not flood
the broker with readings nobody asked for. Scripted readings are always sent."""


@dataclass(frozen=True)
class ExpectedAlert:
    rule: str
    device: str
    ends: Literal["active", "cleared"]


@dataclass(frozen=True)
class PreparedScenario:
    scenario: ScenarioFile
    community: Community
    cast: dict[str, tuple[SimDevice, ...]]
    compiled: CompiledScenario
    speed: float
    origin: datetime
    """Simulated time at the start of the timeline."""

    @classmethod
    def prepare(
        cls,
        scenario: ScenarioFile,
        community: Community,
        speed: float = 1.0,
        *,
        now: datetime | None = None,
    ) -> "PreparedScenario":
        if speed <= 0:
            raise ValueError("speed must be positive")
        cast = resolve_cast(scenario.cast, community)
        origin = scenario_origin(
            scenario.duration,
            speed,
            starts_at=scenario.starts_at,
            zone=ZoneInfo(scenario.timezone),
            now=now,
        )
        return cls(scenario, community, cast, compile_scenario(scenario, cast), speed, origin)

    @property
    def cast_devices(self) -> list[SimDevice]:
        """Every device the scenario uses, each once, in the community's order."""
        ids = {d.id for devices in self.cast.values() for d in devices}
        return [d for d in self.community.devices if d.id in ids]

    @property
    def min_spacing_s(self) -> float:
        return MIN_WALL_SPACING_S * self.speed

    def participants(self, cast_only: bool) -> list[SimDevice]:
        return self.cast_devices if cast_only else list(self.community.devices)

    def expected_alerts(self) -> set[ExpectedAlert]:
        """One per device of each expectation (a group expects one per member)."""
        return {
            ExpectedAlert(e.rule, d.id, e.ends)
            for e in self.scenario.expect
            for d in self.cast[e.device]
        }
