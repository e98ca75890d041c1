"""A community as data: the YAML file a deployer copies to describe a new compound.

``load_community("guangsha")`` reads a built-in file from ``hgj_sim/communities/``;
``load_community("path/to/mine.yaml")`` reads any other. Errors name the file and the key.
"""

from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import Field, ValidationError, model_validator

from hgj_contracts.ids import Identifier
from hgj_sim.inventory import SimDevice, building_devices
from hgj_sim.layout import BuildingLayout, ReportIntervals, StrictModel

BUILTIN_COMMUNITIES = ("guangsha", "guanbeigou")

__all__ = [
    "BUILTIN_COMMUNITIES",
    "Community",
    "CommunityFileError",
    "SimDevice",
    "builtin_community_path",
    "load_community",
]


class CommunityFileError(ValueError):
    """A community file that cannot be read or does not describe a valid community."""


class Community(StrictModel):
    """A residential compound (小区) and the sensors it has."""

    id: Identifier
    name_zh: Annotated[str, Field(min_length=1, max_length=60)]
    name_en: Annotated[str, Field(min_length=1, max_length=60)]
    device_prefix: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,15}$")]
    """Short tag that starts every device id (``gs`` -> ``gs-b03-smoke-f05``), so that ids
    stay readable on a console listing several communities."""
    report_interval_s: ReportIntervals = ReportIntervals()
    buildings: Annotated[list[BuildingLayout], Field(min_length=1, max_length=99)]

    @model_validator(mode="after")
    def _buildings_numbered_once(self) -> "Community":
        counts = Counter(b.number for b in self.buildings)
        repeated = sorted(n for n, c in counts.items() if c > 1)
        if repeated:
            raise ValueError(f"building numbers used more than once: {repeated}")
        # Building the inventory here surfaces ids that break the contract's id pattern
        # (a long prefix) at load time rather than when the first device connects.
        self.devices  # noqa: B018
        return self

    @property
    def devices(self) -> tuple[SimDevice, ...]:
        """Every device, building by building, in a stable order."""
        return tuple(
            device
            for building in sorted(self.buildings, key=lambda b: b.number)
            for device in building_devices(self.device_prefix, building, self.report_interval_s)
        )


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


def _format_errors(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}"
        for e in exc.errors(include_url=False)
    )


def load_community(name_or_path: str | Path) -> Community:
    """Read a built-in community by name, or any community file by path."""
    path = _resolve(name_or_path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CommunityFileError(f"{path}: cannot read community file: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CommunityFileError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise CommunityFileError(f"{path}: expected a mapping at the top level")
    try:
        return Community.model_validate(data)
    except ValidationError as exc:
        raise CommunityFileError(f"{path}: {_format_errors(exc)}") from None
