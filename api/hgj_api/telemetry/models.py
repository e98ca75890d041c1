"""What the API answers with: series of (time, value) points, and latest values per device."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from hgj_api.telemetry.windows import Aggregation, Window

TimedValue = tuple[datetime, float]
"""One point: its UTC time and its value (serialised as a two-element JSON array)."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MetricSeries(_Frozen):
    """One metric of one device over time, oldest point first."""

    community: str
    device: str
    metric: str
    unit: str
    """The catalogue unit of the metric; ``1`` for a count."""
    points: list[TimedValue]


class TelemetryHistory(_Frozen):
    """A device's metrics over ``start <= time < end``: aggregated in ``window`` buckets
    (each point stamped with the start of its bucket), or raw when window is None."""

    community: str
    device: str
    start: datetime
    end: datetime
    window: Window | None
    aggregation: Aggregation | None
    series: list[MetricSeries]
    """One per requested metric, in catalogue order, empty when nothing was stored."""
    truncated: bool = False
    """Raw reads only: more points were stored than the limit; these are the newest."""


class LatestValue(_Frozen):
    metric: str
    unit: str
    ts: datetime
    value: float


class DeviceLatest(_Frozen):
    """The last stored value of each metric of one device (metrics never reported are absent)."""

    community: str
    device: str
    values: list[LatestValue]
