"""The allow-list of what the API may read from InfluxDB: measurements, their numeric fields
(with units) and the tags that select a device's series.

InfluxQL cannot bind identifiers, only values, so every measurement, field and tag name in a
query comes from here, and everything here is derived from the contract (the metric catalogue
and the InfluxDB schema names ingest writes with), never typed a second time.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from types import MappingProxyType

from hgj_api.telemetry.errors import TelemetryQueryError
from hgj_contracts import METRICS
from hgj_contracts.influx_schema import (
    CLOCK_SKEW_FIELD,
    CLOCK_SKEW_MEASUREMENT,
    CLOCK_SKEW_UNIT,
    COMMUNITY_TAG,
    DEVICE_TAG,
    MEASUREMENT_TAGS,
    TELEMETRY_MEASUREMENT,
)

_NAME_RE = re.compile(r"^[a-z_][a-z0-9_]{0,63}$")


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """A numeric field the API may aggregate, with the unit every stored value is in."""

    name: str
    unit: str


@dataclass(frozen=True, slots=True)
class MeasurementSpec:
    """A measurement of per-device numeric series: its name, tags and allowed fields."""

    name: str
    community_tag: str
    device_tag: str
    fields: MappingProxyType[str, FieldSpec]

    def field(self, name: str) -> FieldSpec:
        """The allowed field ``name``; TelemetryQueryError for any other string."""
        spec = self.fields.get(name)
        if spec is None:
            raise TelemetryQueryError(
                f"unknown metric {name!r} in {self.name!r}; known: {', '.join(sorted(self.fields))}"
            )
        return spec

    def select_fields(self, names: Iterable[str] | None) -> tuple[FieldSpec, ...]:
        """The requested fields in catalogue order without repeats; every field when None."""
        if names is None:
            return tuple(self.fields.values())
        if isinstance(names, str):  # one name, not its characters
            names = (names,)
        wanted = {self.field(name).name for name in names}
        if not wanted:
            raise TelemetryQueryError("at least one metric is needed")
        return tuple(spec for name, spec in self.fields.items() if name in wanted)


def _measurement(name: str, fields: Iterable[FieldSpec]) -> MeasurementSpec:
    # The device tags must be ones ingest really writes on this measurement.
    tags = MEASUREMENT_TAGS[name]
    if COMMUNITY_TAG not in tags or DEVICE_TAG not in tags:
        raise ValueError(f"{name!r} is not tagged by community and device")
    specs = MappingProxyType({f.name: f for f in fields})
    for identifier in (name, COMMUNITY_TAG, DEVICE_TAG, *specs):
        if not _NAME_RE.fullmatch(identifier):  # defence in depth: quoting never needs escapes
            raise ValueError(f"{identifier!r} cannot be an InfluxQL identifier here")
    return MeasurementSpec(name, COMMUNITY_TAG, DEVICE_TAG, specs)


TELEMETRY = _measurement(
    TELEMETRY_MEASUREMENT,
    (FieldSpec(spec.name, spec.unit) for spec in METRICS.values()),
)
"""Device telemetry: one float field per catalogue metric, in the catalogue's unit."""

CLOCK_SKEW = _measurement(CLOCK_SKEW_MEASUREMENT, (FieldSpec(CLOCK_SKEW_FIELD, CLOCK_SKEW_UNIT),))
"""How far ahead of ingest a device's clock ran when its messages were refused."""

MEASUREMENTS: MappingProxyType[str, MeasurementSpec] = MappingProxyType(
    {m.name: m for m in (TELEMETRY, CLOCK_SKEW)}
)


def measurement(name: str) -> MeasurementSpec:
    """The allowed measurement ``name``; TelemetryQueryError for any other string."""
    spec = MEASUREMENTS.get(name)
    if spec is None:
        raise TelemetryQueryError(
            f"unknown measurement {name!r}; known: {', '.join(sorted(MEASUREMENTS))}"
        )
    return spec


def quote_identifier(name: str) -> str:
    """``"name"`` for a name that passed the allow-list; InfluxQL double-quotes identifiers."""
    if not _NAME_RE.fullmatch(name):
        raise TelemetryQueryError(f"{name!r} is not an allowed identifier")
    return f'"{name}"'
