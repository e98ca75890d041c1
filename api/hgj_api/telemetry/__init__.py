"""Telemetry read side: history (aggregated or raw) and latest values from InfluxDB.

Queries are InfluxQL sent by POST to the v1 ``/query`` endpoint that InfluxDB 1.x, 2.x (v1
compatibility) and 3.x serve. Values travel as bound parameters; measurement, field and tag
names come only from an allow-list derived from the contract (``schema``). Typical use::

    with InfluxQueryClient(InfluxConfig(url=..., database="hgj")) as client:
        reader = TelemetryReader(client)
        reader.history("guangsha", "gs-b03-sensor", start=..., end=..., window="5m")
        reader.latest_in_community("guangsha")

Errors: TelemetryQueryError (invalid request: answer 422), InfluxUnavailableError (answer 503),
InfluxQueryFailedError (our query was refused: a bug or misconfiguration, 500).
"""

from hgj_api.telemetry.client import InfluxQueryClient, ResultSeries
from hgj_api.telemetry.config import InfluxConfig
from hgj_api.telemetry.errors import (
    InfluxAuthError,
    InfluxQueryFailedError,
    InfluxReadError,
    InfluxUnavailableError,
    TelemetryQueryError,
)
from hgj_api.telemetry.influxql import (
    DEFAULT_RAW_LIMIT,
    MAX_RAW_LIMIT,
    InfluxQuery,
    history_query,
    latest_query,
    raw_query,
)
from hgj_api.telemetry.models import DeviceLatest, LatestValue, MetricSeries, TelemetryHistory
from hgj_api.telemetry.reader import QueryRunner, TelemetryReader
from hgj_api.telemetry.schema import (
    CLOCK_SKEW,
    MEASUREMENTS,
    TELEMETRY,
    FieldSpec,
    MeasurementSpec,
    measurement,
)
from hgj_api.telemetry.windows import MAX_BUCKETS, Aggregation, Window, bucket_count

__all__ = [
    "CLOCK_SKEW",
    "DEFAULT_RAW_LIMIT",
    "MAX_BUCKETS",
    "MAX_RAW_LIMIT",
    "MEASUREMENTS",
    "TELEMETRY",
    "Aggregation",
    "DeviceLatest",
    "FieldSpec",
    "InfluxAuthError",
    "InfluxConfig",
    "InfluxQuery",
    "InfluxQueryClient",
    "InfluxQueryFailedError",
    "InfluxReadError",
    "InfluxUnavailableError",
    "LatestValue",
    "MeasurementSpec",
    "MetricSeries",
    "QueryRunner",
    "ResultSeries",
    "TelemetryHistory",
    "TelemetryQueryError",
    "TelemetryReader",
    "Window",
    "bucket_count",
    "history_query",
    "latest_query",
    "measurement",
    "raw_query",
]
