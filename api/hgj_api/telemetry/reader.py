"""Telemetry history and latest values: build the query, run it, shape the answer."""

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Protocol

from hgj_api.telemetry.client import ResultSeries
from hgj_api.telemetry.errors import InfluxQueryFailedError
from hgj_api.telemetry.influxql import (
    DEFAULT_RAW_LIMIT,
    InfluxQuery,
    history_query,
    latest_query,
    raw_query,
)
from hgj_api.telemetry.models import (
    DeviceLatest,
    LatestValue,
    MetricSeries,
    TelemetryHistory,
    TimedValue,
)
from hgj_api.telemetry.schema import TELEMETRY, FieldSpec, MeasurementSpec
from hgj_api.telemetry.windows import Aggregation, Window

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
COUNT_UNIT = "1"


class QueryRunner(Protocol):
    """What the reader needs from a client (InfluxQueryClient; a fake in unit tests)."""

    def query(self, query: InfluxQuery) -> list[list[ResultSeries]]: ...


class TelemetryReader:
    """Reads per-device numeric series of one allowed measurement (telemetry by default)."""

    def __init__(self, runner: QueryRunner, measurement: MeasurementSpec = TELEMETRY) -> None:
        self._runner = runner
        self._measurement = measurement

    def history(
        self,
        community: str,
        device: str,
        *,
        start: datetime,
        end: datetime,
        window: Window | str,
        aggregation: Aggregation | str = Aggregation.MEAN,
        metrics: Iterable[str] | None = None,
    ) -> TelemetryHistory:
        """Aggregates over ``window`` buckets; TelemetryQueryError when the request is invalid
        or makes too many buckets, Influx*Error when InfluxDB does not answer it."""
        query = history_query(
            community=community,
            device=device,
            start=start,
            end=end,
            window=window,
            aggregation=aggregation,
            metrics=metrics,
            measurement=self._measurement,
        )
        rows = _rows(self._single_statement(query))
        function = Aggregation(aggregation)
        series = _series(community, device, query.fields, rows, count=function is Aggregation.COUNT)
        return TelemetryHistory(
            community=community,
            device=device,
            start=start,
            end=end,
            window=Window(window),
            aggregation=function,
            series=series,
        )

    def raw(
        self,
        community: str,
        device: str,
        *,
        start: datetime,
        end: datetime,
        limit: int = DEFAULT_RAW_LIMIT,
        metrics: Iterable[str] | None = None,
    ) -> TelemetryHistory:
        """Stored points as written, at most ``limit`` rows: the newest ones when there are more
        (``truncated`` says so)."""
        query = raw_query(
            community=community,
            device=device,
            start=start,
            end=end,
            limit=limit,
            metrics=metrics,
            measurement=self._measurement,
        )
        rows = _rows(self._single_statement(query))  # newest first, limit + 1 at most
        truncated = len(rows) > limit
        rows = rows[:limit][::-1]
        return TelemetryHistory(
            community=community,
            device=device,
            start=start,
            end=end,
            window=None,
            aggregation=None,
            series=_series(community, device, query.fields, rows, count=False),
            truncated=truncated,
        )

    def latest(
        self,
        community: str,
        device: str,
        *,
        metrics: Iterable[str] | None = None,
        since: datetime | None = None,
    ) -> DeviceLatest:
        """The last value of each metric of one device; empty values when none is stored."""
        found = self._latest(community, device, metrics, since)
        return found.get(device, DeviceLatest(community=community, device=device, values=[]))

    def latest_in_community(
        self,
        community: str,
        *,
        metrics: Iterable[str] | None = None,
        since: datetime | None = None,
    ) -> list[DeviceLatest]:
        """The last value of each metric of every device of the community, by device id."""
        return sorted(
            self._latest(community, None, metrics, since).values(), key=lambda d: d.device
        )

    def _latest(
        self,
        community: str,
        device: str | None,
        metrics: Iterable[str] | None,
        since: datetime | None,
    ) -> dict[str, DeviceLatest]:
        query = latest_query(
            community=community,
            device=device,
            metrics=metrics,
            since=since,
            measurement=self._measurement,
        )
        statements = self._runner.query(query)
        if len(statements) != len(query.fields):
            raise InfluxQueryFailedError(
                f"expected {len(query.fields)} statement results, InfluxDB gave {len(statements)}"
            )
        values: dict[str, list[LatestValue]] = {}
        for spec, series_list in zip(query.fields, statements, strict=True):
            for series in series_list:
                device_id = series.tags.get(self._measurement.device_tag)
                for ts, row in _rows([series]):
                    value = row.get(spec.name)
                    if device_id is not None and value is not None:
                        latest = LatestValue(metric=spec.name, unit=spec.unit, ts=ts, value=value)
                        values.setdefault(device_id, []).append(latest)
        return {
            dev: DeviceLatest(community=community, device=dev, values=found)
            for dev, found in values.items()
        }

    def _single_statement(self, query: InfluxQuery) -> list[ResultSeries]:
        statements = self._runner.query(query)
        if len(statements) != 1:
            raise InfluxQueryFailedError(
                f"expected one statement result, InfluxDB gave {len(statements)}"
            )
        return statements[0]


_Row = tuple[datetime, dict[str, float | None]]


def _rows(series_list: list[ResultSeries]) -> list[_Row]:
    """(time, {column: value}) per row; every column but time is aliased to its field name."""
    rows: list[_Row] = []
    for series in series_list:
        if not series.columns or series.columns[0] != "time":
            raise InfluxQueryFailedError(f"unexpected columns {series.columns!r} from InfluxDB")
        names = series.columns[1:]
        for row in series.values:
            values = {name: _number(v, name) for name, v in zip(names, row[1:], strict=True)}
            rows.append((_time(row[0]), values))
    return rows


def _series(
    community: str,
    device: str,
    fields: tuple[FieldSpec, ...],
    rows: list[_Row],
    *,
    count: bool,
) -> list[MetricSeries]:
    points: dict[str, list[TimedValue]] = {spec.name: [] for spec in fields}
    for ts, values in rows:
        for name, value in values.items():
            if value is not None and name in points:
                points[name].append((ts, value))
    return [
        MetricSeries(
            community=community,
            device=device,
            metric=spec.name,
            unit=COUNT_UNIT if count else spec.unit,
            points=points[spec.name],
        )
        for spec in fields
    ]


def _time(value: object) -> datetime:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InfluxQueryFailedError(f"unexpected time {value!r} from InfluxDB (epoch=u asked)")
    return _EPOCH + timedelta(microseconds=value)


def _number(value: object, column: str) -> float | None:
    """A field's value as a float (mean of whole numbers and count come back as integers)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InfluxQueryFailedError(f"unexpected value {value!r} in column {column!r}")
    return float(value)
