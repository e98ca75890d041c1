"""Telemetry: named readings with units, published periodically by devices."""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from hgj_contracts.base import DeviceMessage
from hgj_contracts.metrics import METRICS

MetricName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]


class Reading(BaseModel):
    """One metric value with the unit the device measured it in."""

    model_config = ConfigDict(frozen=True, strict=True, extra="ignore", allow_inf_nan=False)

    value: float
    unit: Annotated[str, StringConstraints(max_length=16)]


class Telemetry(DeviceMessage):
    """Periodic readings of one device. Every name must be in the metric catalogue with its unit."""

    metrics: Annotated[dict[MetricName, Reading], Field(min_length=1, max_length=64)]

    @model_validator(mode="after")
    def _known_metrics_in_their_units(self) -> "Telemetry":
        for name, reading in self.metrics.items():
            spec = METRICS.get(name)
            if spec is None:
                raise ValueError(f"unknown metric {name!r}")
            if reading.unit != spec.unit:
                raise ValueError(f"metric {name!r} must be in {spec.unit!r}, not {reading.unit!r}")
        return self
