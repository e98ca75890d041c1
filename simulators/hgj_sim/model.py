"""A community as data: the YAML file a deployer copies to describe a new compound.

``load_community("guangsha")`` reads a built-in file from ``hgj_sim/communities/``;
``load_community("path/to/mine.yaml")`` reads any other. Errors name the file and the key.
"""

from collections import Counter
from collections.abc import Iterable
from dataclasses import replace
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Annotated

from pydantic import Field, ValidationError, model_validator

from hgj_contracts.ids import Identifier
from hgj_sim.inventory import SimDevice, building_devices, compound_devices
from hgj_sim.layout import BuildingLayout, ReportIntervals, StrictModel
from hgj_sim.site import CompoundLayout, FaultRates, GridLayout
from hgj_sim.yamlfile import DataFileError, format_errors, read_mapping

BUILTIN_COMMUNITIES = ("guangsha", "guanbeigou")

__all__ = [
    "BUILTIN_COMMUNITIES",
    "Community",
    "CommunityFileError",
    "SimDevice",
    "builtin_community_path",
    "load_community",
]


class CommunityFileError(DataFileError):
    """A community file that cannot be read or does not describe a valid community."""


class Community(StrictModel):
    """A residential community (社区): its buildings, compounds, grids and devices."""

    model_config = StrictModel.model_config | {"ignored_types": (cached_property,)}

    id: Identifier
    name_zh: Annotated[str, Field(min_length=1, max_length=60)]
    name_en: Annotated[str, Field(min_length=1, max_length=60)]
    device_prefix: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,15}$")]
    """Short tag that starts every device id (``gs`` -> ``gs-b03-smoke-f05``), so that ids
    stay readable on a console listing several communities."""
    report_interval_s: ReportIntervals = ReportIntervals()
    buildings: Annotated[list[BuildingLayout], Field(min_length=1, max_length=99)]
    compounds: Annotated[list[CompoundLayout], Field(max_length=20)] = Field(default_factory=list)
    """Walled compounds (小区) and their gates; none: only the buildings are simulated."""
    grids: Annotated[list[GridLayout], Field(max_length=50)] = Field(default_factory=list)
    """Grids (网格) of the community's grid management, each with its grid worker."""
    faults: FaultRates = FaultRates()

    @model_validator(mode="after")
    def _consistent(self) -> "Community":
        numbers = [b.number for b in self.buildings]
        counts = Counter(numbers)
        repeated = sorted(n for n, c in counts.items() if c > 1)
        if repeated:
            raise ValueError(f"building numbers used more than once: {repeated}")
        _partition("compound", {c.id: c.buildings for c in self.compounds}, set(numbers))
        _partition("grid", {g.id: g.buildings for g in self.grids}, set(numbers))
        gates = Counter(g.name for c in self.compounds for g in c.gates)
        if any(n > 1 for n in gates.values()):
            raise ValueError(f"gate names used more than once: {sorted(gates)}")
        # Building the inventory here surfaces ids that break the contract's id pattern
        # (a long prefix) at load time rather than when the first device connects.
        ids = Counter(d.id for d in self.devices)
        clashes = sorted(i for i, c in ids.items() if c > 1)
        if clashes:
            raise ValueError(f"device ids generated twice: {clashes[:5]}")
        return self

    @cached_property
    def devices(self) -> tuple[SimDevice, ...]:
        """Every device: building by building, then each compound's equipment; stable order."""
        compound_of = {n: c.id for c in self.compounds for n in c.buildings}
        grid_of = {n: g.id for g in self.grids for n in g.buildings}
        found: list[SimDevice] = []
        for building in sorted(self.buildings, key=lambda b: b.number):
            found.extend(
                replace(
                    d, compound=compound_of.get(building.number), grid=grid_of.get(building.number)
                )
                for d in building_devices(self.device_prefix, building, self.report_interval_s)
            )
        for compound in self.compounds:
            found.extend(compound_devices(self.device_prefix, compound, self.report_interval_s))
        return tuple(found)

    def device(self, device_id: str) -> SimDevice:
        """The device with this id; KeyError naming the community when there is none."""
        for device in self.devices:
            if device.id == device_id:
                return device
        raise KeyError(f"{self.id} has no device {device_id!r}")

    def grid_of(self, building: int | None) -> GridLayout | None:
        return next((g for g in self.grids if building in g.buildings), None)


def _partition(what: str, groups: dict[str, list[int]], buildings: set[int]) -> None:
    """Each building in at most one group; every building in one when there are groups."""
    if not groups:
        return
    seen: Counter[int] = Counter(n for members in groups.values() for n in members)
    twice = sorted(n for n, c in seen.items() if c > 1)
    unknown = sorted(set(seen) - buildings)
    missing = sorted(buildings - set(seen))
    problems = _describe(
        [
            (twice, "in more than one"),
            (unknown, "listed but not described under buildings in a"),
            (missing, "in no"),
        ],
        what,
    )
    if problems:
        raise ValueError("; ".join(problems))


def _describe(cases: Iterable[tuple[list[int], str]], what: str) -> list[str]:
    return [f"buildings {numbers} are {text} {what}" for numbers, text in cases if numbers]


def builtin_community_path(name: str) -> Path:
    """The packaged file of a built-in community."""
    if name not in BUILTIN_COMMUNITIES:
        raise CommunityFileError(
            f"no built-in community {name!r}; built-in: {', '.join(BUILTIN_COMMUNITIES)}"
            " (or give a path to a .yaml file)"
        )
    return Path(str(resources.files("hgj_sim") / "communities" / f"{name}.yaml"))


def _resolve(name_or_path: str | Path) -> Path:
    if isinstance(name_or_path, Path):
        return name_or_path
    if name_or_path in BUILTIN_COMMUNITIES:
        return builtin_community_path(name_or_path)
    if name_or_path.endswith((".yaml", ".yml")) or "/" in name_or_path:
        return Path(name_or_path)
    return builtin_community_path(name_or_path)


def load_community(name_or_path: str | Path) -> Community:
    """Read a built-in community by name, or any community file by path."""
    path = _resolve(name_or_path)
    try:
        data = read_mapping(path, "community")
    except DataFileError as exc:
        raise CommunityFileError(str(exc)) from None
    try:
        return Community.model_validate(data)
    except ValidationError as exc:
        raise CommunityFileError(f"{path}: {format_errors(exc)}") from None
