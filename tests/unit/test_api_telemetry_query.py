"""The telemetry query builder: identifiers only from the allow-list, values only as parameters,
windows from a fixed set with a bucket limit."""

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hgj_api.telemetry import (
    CLOCK_SKEW,
    MAX_BUCKETS,
    MAX_RAW_LIMIT,
    MEASUREMENTS,
    TELEMETRY,
    Aggregation,
    InfluxQuery,
    TelemetryQueryError,
    Window,
    bucket_count,
    history_query,
    latest_query,
    measurement,
    raw_query,
)
from hgj_contracts import METRICS
from hgj_contracts.influx_schema import CLOCK_SKEW_FIELD, MEASUREMENT_TAGS

T0 = datetime(2026, 11, 27, tzinfo=UTC)
DAY = timedelta(days=1)
ATTACKS = [
    'x\' ; DROP DATABASE "db"',
    '"',
    "'",
    "gs-1\nDROP DATABASE db",
    "gs-1; DROP MEASUREMENT telemetry",
    "$device",
    "GS-1",
    "",
    "a" * 65,
    "gs 1",
    "gs-1\\",
]
BAD_IDENTIFIERS = [
    "seq",  # stored in telemetry, but an integer counter, not a metric to aggregate
    "Temperature",
    'temperature" FROM "alerts',
    "temperature; DROP DATABASE db",
    "temperature\n",
    "time",
    "*",
    "",
]
_PARAM = re.compile(r"\$[a-z]+")
_QUOTED = re.compile(r'"([^"]*)"')


def history(**overrides: object) -> InfluxQuery:
    arguments: dict[str, object] = {
        "community": "guangsha",
        "device": "gs-b03-th",
        "start": T0,
        "end": T0 + DAY,
        "window": Window.M5,
        "aggregation": Aggregation.MEAN,
        "metrics": ["temperature", "humidity"],
    } | overrides
    return history_query(**arguments)  # type: ignore[arg-type]


def test_history_text_quotes_allowed_names_and_binds_values() -> None:
    query = history()
    assert query.text == (
        'SELECT mean("temperature") AS "temperature", mean("humidity") AS "humidity" '
        'FROM "telemetry" WHERE "community" = $community AND "device" = $device '
        "AND time >= $start AND time < $end GROUP BY time(5m) fill(none)"
    )
    assert query.params == {
        "community": "guangsha",
        "device": "gs-b03-th",
        "start": "2026-11-27T00:00:00.000000Z",
        "end": "2026-11-28T00:00:00.000000Z",
    }
    assert [f.name for f in query.fields] == ["temperature", "humidity"]


def test_every_parameter_in_the_text_is_bound_and_every_bound_value_is_used() -> None:
    queries = [
        history(),
        raw_query(community="c", device="d", start=T0, end=T0 + DAY),
        latest_query(community="c", device="d", since=T0),
        latest_query(community="c"),
    ]
    for query in queries:
        assert {p[1:] for p in _PARAM.findall(query.text)} == set(query.params)


def test_quoted_names_in_the_text_all_come_from_the_allow_list() -> None:
    allowed = {TELEMETRY.name, TELEMETRY.community_tag, TELEMETRY.device_tag, *TELEMETRY.fields}
    for query in (
        history(metrics=None),
        raw_query(community="c", device="d", start=T0, end=T0 + DAY),
        latest_query(community="c"),
    ):
        assert set(_QUOTED.findall(query.text)) <= allowed
        assert "'" not in query.text  # no string literal at all: values are never inlined


# A prefix found nowhere in InfluxQL, so "the value is not in the text" means something.
ids = st.from_regex(r"v9q[a-z0-9_-]{0,30}", fullmatch=True)
times = st.datetimes(
    min_value=datetime(2001, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)
)


@settings(max_examples=200)
@given(community=ids, device=ids, start=times, span_min=st.integers(1, 1000))
def test_the_text_depends_on_the_request_shape_only(
    community: str, device: str, start: datetime, span_min: int
) -> None:
    end = start + timedelta(minutes=span_min)
    query = history(community=community, device=device, start=start, end=end, window="1m")
    reference = history(window="1m")
    assert query.text == reference.text
    assert query.params["community"] == community
    assert query.params["device"] == device
    for value in query.params.values():
        assert value not in query.text
    latest = latest_query(community=community, device=device)
    assert latest.text == latest_query(community="c", device="d").text


@pytest.mark.parametrize("value", ATTACKS)
@pytest.mark.parametrize("position", ["community", "device"])
def test_values_that_are_not_ids_are_refused_before_any_query(value: str, position: str) -> None:
    with pytest.raises(TelemetryQueryError, match=position):
        history(**{position: value})
    ids = {"community": "c", "device": "d", position: value}
    with pytest.raises(TelemetryQueryError, match=position):
        raw_query(community=ids["community"], device=ids["device"], start=T0, end=T0 + DAY)
    with pytest.raises(TelemetryQueryError, match=position):
        latest_query(community=ids["community"], device=ids["device"])


@pytest.mark.parametrize("name", BAD_IDENTIFIERS)
def test_metrics_outside_the_allow_list_are_refused(name: str) -> None:
    with pytest.raises(TelemetryQueryError, match="unknown metric"):
        history(metrics=["temperature", name])
    with pytest.raises(TelemetryQueryError, match="unknown metric"):
        latest_query(community="c", metrics=[name])
    with pytest.raises(TelemetryQueryError, match="unknown metric"):
        raw_query(community="c", device="d", start=T0, end=T0 + DAY, metrics=[name])


@pytest.mark.parametrize(
    "name", ["alerts", "device_event", "Telemetry", 'telemetry"; DROP DATABASE "db', ""]
)
def test_measurements_outside_the_allow_list_are_refused(name: str) -> None:
    with pytest.raises(TelemetryQueryError, match="unknown measurement"):
        measurement(name)


def test_an_empty_metric_list_is_refused_and_repeats_collapse() -> None:
    with pytest.raises(TelemetryQueryError, match="at least one metric"):
        history(metrics=[])
    query = history(metrics=["humidity", "temperature", "humidity"])
    assert [f.name for f in query.fields] == ["temperature", "humidity"]  # catalogue order


def test_the_allow_list_is_the_contracts_catalogue() -> None:
    assert {name: (f.name, f.unit) for name, f in TELEMETRY.fields.items()} == {
        name: (name, spec.unit) for name, spec in METRICS.items()
    }
    assert list(CLOCK_SKEW.fields) == [CLOCK_SKEW_FIELD]
    for spec in MEASUREMENTS.values():
        assert spec.community_tag in MEASUREMENT_TAGS[spec.name]
        assert spec.device_tag in MEASUREMENT_TAGS[spec.name]


def test_another_allowed_measurement_reads_its_own_fields() -> None:
    query = history(metrics=[CLOCK_SKEW_FIELD], measurement=CLOCK_SKEW)
    assert 'FROM "device_clock_skew"' in query.text
    with pytest.raises(TelemetryQueryError, match="unknown metric"):
        history(metrics=["temperature"], measurement=CLOCK_SKEW)


@pytest.mark.parametrize("aggregation", list(Aggregation))
@pytest.mark.parametrize("window", list(Window))
def test_each_aggregation_and_window_is_spelled_from_the_fixed_set(
    aggregation: Aggregation, window: Window
) -> None:
    end = T0 + window.duration * 10
    query = history(aggregation=aggregation.value, window=window.value, end=end)
    assert query.text.startswith(f'SELECT {aggregation.value}("temperature") AS "temperature"')
    assert query.text.endswith(f"GROUP BY time({window.value}) fill(none)")


@pytest.mark.parametrize("window", ["2m", "1s", "1w", "5m) fill(0", "1m; DROP", "", "5M"])
def test_windows_outside_the_fixed_set_are_refused(window: str) -> None:
    with pytest.raises(TelemetryQueryError, match="unknown window"):
        history(window=window)


@pytest.mark.parametrize("aggregation", ["sum", "median", "MEAN", "mean(", "percentile"])
def test_aggregations_outside_the_fixed_set_are_refused(aggregation: str) -> None:
    with pytest.raises(TelemetryQueryError, match="unknown aggregation"):
        history(aggregation=aggregation)


def test_buckets_are_counted_as_influxdb_aligns_them() -> None:
    assert bucket_count(T0, T0 + DAY, Window.M1) == 1440
    assert bucket_count(T0, T0 + DAY, Window.D1) == 1
    # an unaligned start and end each add a partial bucket
    assert bucket_count(T0 + timedelta(seconds=30), T0 + timedelta(minutes=2), Window.M1) == 2
    assert bucket_count(T0 + timedelta(seconds=30), T0 + timedelta(seconds=150), Window.M1) == 3
    assert bucket_count(T0, T0 + timedelta(microseconds=1), Window.H6) == 1


def test_the_bucket_limit_is_inclusive_and_its_error_names_a_window_that_fits() -> None:
    limit_end = T0 + Window.M1.duration * MAX_BUCKETS
    assert bucket_count(T0, limit_end, Window.M1) == MAX_BUCKETS
    history(window="1m", end=limit_end)
    with pytest.raises(TelemetryQueryError, match=r"2,001 buckets, more than 2,000.*at least 5m"):
        history(window="1m", end=limit_end + timedelta(minutes=1))
    with pytest.raises(TelemetryQueryError, match="at least 15m"):
        history(window="1m", end=T0 + 7 * DAY)
    with pytest.raises(TelemetryQueryError, match="shorten the range"):
        history(window="1d", end=T0 + 2001 * DAY)


def test_time_bounds_must_be_aware_and_ordered() -> None:
    with pytest.raises(TelemetryQueryError, match="time zone"):
        history(start=datetime(2026, 11, 27))
    with pytest.raises(TelemetryQueryError, match="before end"):
        history(start=T0, end=T0)
    with pytest.raises(TelemetryQueryError, match="time zone"):
        latest_query(community="c", since=datetime(2026, 11, 27))


def test_time_bounds_are_sent_in_utc_with_microseconds() -> None:
    beijing = timezone(timedelta(hours=8))
    start = datetime(2026, 11, 27, 8, 0, 0, 123456, tzinfo=beijing)
    query = history(start=start, end=start + timedelta(hours=1))
    assert query.params["start"] == "2026-11-27T00:00:00.123456Z"
    assert query.params["end"] == "2026-11-27T01:00:00.123456Z"


def test_raw_reads_newest_first_with_one_row_more_than_the_limit() -> None:
    query = raw_query(community="c", device="d", start=T0, end=T0 + DAY, limit=100)
    assert query.text.endswith("AND time >= $start AND time < $end ORDER BY time DESC LIMIT 101")
    assert query.text.startswith('SELECT "temperature", "humidity", ')


@pytest.mark.parametrize("limit", [0, -1, MAX_RAW_LIMIT + 1, True, 1.5, "10"])
def test_raw_limits_outside_the_range_are_refused(limit: object) -> None:
    with pytest.raises(TelemetryQueryError, match="limit"):
        raw_query(community="c", device="d", start=T0, end=T0 + DAY, limit=limit)  # type: ignore[arg-type]


def test_latest_has_one_statement_per_metric_grouped_by_device() -> None:
    query = latest_query(community="c", metrics=["temperature", "battery"])
    assert query.text == (
        'SELECT last("temperature") AS "temperature" FROM "telemetry" '
        'WHERE "community" = $community GROUP BY "device"; '
        'SELECT last("battery") AS "battery" FROM "telemetry" '
        'WHERE "community" = $community GROUP BY "device"'
    )
    assert query.params == {"community": "c"}
    one = latest_query(community="c", device="d", metrics=["battery"], since=T0)
    assert one.text == (
        'SELECT last("battery") AS "battery" FROM "telemetry" WHERE "community" = $community '
        'AND "device" = $device AND time >= $since GROUP BY "device"'
    )
    assert one.params == {"community": "c", "device": "d", "since": "2026-11-27T00:00:00.000000Z"}
    assert len(latest_query(community="c").text.split("; ")) == len(METRICS)


def test_a_single_metric_name_is_one_metric_not_its_letters() -> None:
    assert [f.name for f in history(metrics="temperature").fields] == ["temperature"]
