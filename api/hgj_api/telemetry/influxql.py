"""Build InfluxQL for telemetry reads: identifiers from the allow-list, values bound.

Every value a caller supplies (community, device, time bounds) travels in the ``params`` JSON of
the POST and appears in the text only as ``$name``: on InfluxDB 1.6.7 a concatenated
``SELECT ...; DROP DATABASE x`` executed the drop. Identifiers cannot be bound, so measurement,
field and tag names come from ``schema`` (quoted), and the window, the aggregation function and
the row limit are spelled from enums and a checked integer. The query text therefore depends
only on the shape of a request, never on its values, which the unit tests check. (Hence the
``noqa: S608`` below: ruff sees string building; nothing a caller wrote is in it.)
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from hgj_api.telemetry.errors import TelemetryQueryError
from hgj_api.telemetry.schema import TELEMETRY, FieldSpec, MeasurementSpec, quote_identifier
from hgj_api.telemetry.windows import (
    Aggregation,
    Window,
    check_aware,
    check_buckets,
    check_range,
)
from hgj_contracts.ids import is_identifier

MAX_RAW_LIMIT = 10_000
DEFAULT_RAW_LIMIT = 1_000


@dataclass(frozen=True, slots=True)
class InfluxQuery:
    """One request to ``POST /query``: the text, its bound values, and the fields it reads.

    ``fields`` lists the selected fields in column order (each column is aliased to its field
    name); a latest-values query has one statement per field, in that order.
    """

    text: str
    params: Mapping[str, str]
    measurement: MeasurementSpec
    fields: tuple[FieldSpec, ...]


def history_query(
    *,
    community: str,
    device: str,
    start: datetime,
    end: datetime,
    window: Window | str,
    aggregation: Aggregation | str,
    metrics: Iterable[str] | None = None,
    measurement: MeasurementSpec = TELEMETRY,
) -> InfluxQuery:
    """One device's metrics aggregated in ``window`` buckets over ``start <= time < end``;
    empty buckets are left out (``fill(none)``)."""
    window = _enum(Window, window, "window")
    function = _enum(Aggregation, aggregation, "aggregation").value
    check_buckets(start, end, window)
    fields = measurement.select_fields(metrics)
    columns = ", ".join(f"{function}({_q(f.name)}) AS {_q(f.name)}" for f in fields)
    text = (
        f"SELECT {columns} FROM {_q(measurement.name)} WHERE {_device_filter(measurement)} "  # noqa: S608
        f"AND {_TIME_RANGE} GROUP BY time({window.value}) fill(none)"
    )
    params = _device_params(community, device) | _range_params(start, end)
    return InfluxQuery(text, params, measurement, fields)


def raw_query(
    *,
    community: str,
    device: str,
    start: datetime,
    end: datetime,
    limit: int = DEFAULT_RAW_LIMIT,
    metrics: Iterable[str] | None = None,
    measurement: MeasurementSpec = TELEMETRY,
) -> InfluxQuery:
    """One device's stored points in the range, newest first, ``limit + 1`` rows at most (the
    extra row tells the reader the answer was cut)."""
    check_range(start, end)
    # bool is an int to Python; a limit of True would be a caller's bug.
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_RAW_LIMIT:
        raise TelemetryQueryError(f"limit must be an integer from 1 to {MAX_RAW_LIMIT:,}")
    fields = measurement.select_fields(metrics)
    columns = ", ".join(_q(f.name) for f in fields)
    # LIMIT takes no bound parameter in InfluxQL; it is a range-checked int, never caller text.
    text = (
        f"SELECT {columns} FROM {_q(measurement.name)} WHERE {_device_filter(measurement)} "  # noqa: S608
        f"AND {_TIME_RANGE} ORDER BY time DESC LIMIT {int(limit) + 1:d}"
    )
    params = _device_params(community, device) | _range_params(start, end)
    return InfluxQuery(text, params, measurement, fields)


def latest_query(
    *,
    community: str,
    device: str | None = None,
    metrics: Iterable[str] | None = None,
    since: datetime | None = None,
    measurement: MeasurementSpec = TELEMETRY,
) -> InfluxQuery:
    """The last value of each metric for one device, or for every device of a community when
    ``device`` is None, grouped by device.

    One statement per metric: InfluxDB gives a selector's own timestamp only when it is alone
    in its statement (several ``last()`` in one SELECT share a single time). ``since`` bounds
    how far back InfluxDB looks (all of history when None).
    """
    params = {"community": _check_id(community, "community")}
    condition = f"{_q(measurement.community_tag)} = $community"
    if device is not None:
        params["device"] = _check_id(device, "device")
        condition += f" AND {_q(measurement.device_tag)} = $device"
    if since is not None:
        check_aware(since, "since")
        params["since"] = _rfc3339(since)
        condition += " AND time >= $since"
    fields = measurement.select_fields(metrics)
    statements = (
        f"SELECT last({_q(f.name)}) AS {_q(f.name)} FROM {_q(measurement.name)} "  # noqa: S608
        f"WHERE {condition} GROUP BY {_q(measurement.device_tag)}"
        for f in fields
    )
    return InfluxQuery("; ".join(statements), params, measurement, fields)


_TIME_RANGE = "time >= $start AND time < $end"


def _q(name: str) -> str:
    return quote_identifier(name)


def _device_filter(measurement: MeasurementSpec) -> str:
    return (
        f"{_q(measurement.community_tag)} = $community AND {_q(measurement.device_tag)} = $device"
    )


def _device_params(community: str, device: str) -> dict[str, str]:
    return {"community": _check_id(community, "community"), "device": _check_id(device, "device")}


def _range_params(start: datetime, end: datetime) -> dict[str, str]:
    return {"start": _rfc3339(start), "end": _rfc3339(end)}


def _rfc3339(value: datetime) -> str:
    """UTC with microseconds, the precision ingest writes; InfluxQL compares it with time."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _check_id(value: str, what: str) -> str:
    """Ids follow the topic grammar (ingest stores no others). The value is bound either way;
    checking it here turns a typo or an attack into a clear error instead of an empty answer."""
    if not isinstance(value, str) or not is_identifier(value):
        raise TelemetryQueryError(f"{what} {value!r} is not an id (lower-case [a-z0-9_-])")
    return value


_E = TypeVar("_E", Window, Aggregation)


def _enum(kind: type[_E], value: _E | str, what: str) -> _E:
    try:
        return kind(value)
    except ValueError:
        known = ", ".join(member.value for member in kind)
        raise TelemetryQueryError(f"unknown {what} {value!r}; known: {known}") from None
