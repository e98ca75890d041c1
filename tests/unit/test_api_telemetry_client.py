"""The InfluxDB query client and the reader on a fake transport: what is sent, how answers and
failures are turned into results and typed errors."""

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from pydantic import SecretStr, ValidationError

from hgj_api.telemetry import (
    InfluxAuthError,
    InfluxConfig,
    InfluxQuery,
    InfluxQueryClient,
    InfluxQueryFailedError,
    InfluxUnavailableError,
    TelemetryReader,
    history_query,
)

T0 = datetime(2026, 11, 27, tzinfo=UTC)
US = 1_000_000
T0_US = int(T0.timestamp()) * US
Handler = Callable[[httpx.Request], httpx.Response]


def client(handler: Handler, **config: Any) -> InfluxQueryClient:
    settings = InfluxConfig(url="http://influx.test:8086", database="hgj", **config)
    return InfluxQueryClient(settings, transport=httpx.MockTransport(handler))


def answer(*statements: list[dict[str, Any]]) -> httpx.Response:
    results = [{"statement_id": i, "series": s} for i, s in enumerate(statements)]
    return httpx.Response(200, json={"results": results})


def a_query() -> InfluxQuery:
    return history_query(
        community="guangsha",
        device="gs-th-1",
        start=T0,
        end=T0 + timedelta(hours=1),
        window="1m",
        aggregation="mean",
        metrics=["temperature"],
    )


class Recorder:
    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.response

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.requests[-1].content.decode()).items()}


def test_a_query_is_a_form_post_with_bound_params_and_microsecond_epochs() -> None:
    recorder = Recorder(answer([]))
    with client(recorder) as influx:
        assert influx.query(a_query()) == [[]]
    request = recorder.requests[0]
    assert request.method == "POST"
    assert request.url == "http://influx.test:8086/query"  # nothing in the URL
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    form = recorder.form()
    assert form["q"] == a_query().text
    assert form["db"] == "hgj"
    assert form["epoch"] == "u"
    assert json.loads(form["params"]) == dict(a_query().params)
    assert "authorization" not in request.headers
    assert "rp" not in form


def test_user_and_password_go_as_basic_auth() -> None:
    recorder = Recorder(answer([]))
    with client(recorder, username="reader", password=SecretStr("s3cret")) as influx:
        influx.query(a_query())
    expected = base64.b64encode(b"reader:s3cret").decode()
    assert recorder.requests[0].headers["authorization"] == f"Basic {expected}"
    assert "s3cret" not in recorder.requests[0].content.decode()


def test_a_token_goes_in_the_v2_compatible_header_with_the_retention_policy() -> None:
    recorder = Recorder(answer([]))
    with client(recorder, token=SecretStr("tok-123"), retention_policy="autogen") as influx:
        influx.query(a_query())
    assert recorder.requests[0].headers["authorization"] == "Token tok-123"
    assert recorder.form()["rp"] == "autogen"


@pytest.mark.parametrize(
    "config",
    [
        {"token": "t", "username": "u", "password": "p"},
        {"username": "u"},
        {"password": "p"},
        {"url": "ftp://influx"},
        {"database": 'hgj"; DROP'},
        {"unknown_key": 1},
        {"timeout_s": 0},
    ],
)
def test_bad_configs_are_refused(config: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        InfluxConfig(**config)


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (500, InfluxUnavailableError),
        (503, InfluxUnavailableError),
        (429, InfluxUnavailableError),
        (401, InfluxAuthError),
        (403, InfluxAuthError),
        (400, InfluxQueryFailedError),
        (404, InfluxQueryFailedError),
    ],
)
def test_error_statuses_map_to_typed_errors(status: int, error: type[Exception]) -> None:
    response = httpx.Response(status, json={"error": "something broke"})
    with client(Recorder(response)) as influx, pytest.raises(error, match="something broke") as e:
        influx.query(a_query())
    assert getattr(e.value, "status", None) == status


def test_an_auth_refusal_is_also_unavailability_for_a_router() -> None:
    refusal = Recorder(httpx.Response(401, json={"error": "bad creds"}))
    with client(refusal) as influx, pytest.raises(InfluxUnavailableError, match="credentials"):
        influx.query(a_query())


def test_a_statement_error_inside_a_200_is_a_query_failure() -> None:
    body = {"results": [{"statement_id": 0, "error": "database not found: hgj"}]}
    failed = pytest.raises(InfluxQueryFailedError, match="database not found")
    with client(Recorder(httpx.Response(200, json=body))) as influx, failed:
        influx.query(a_query())


def test_an_answer_that_is_not_influxdb_json_is_unavailability() -> None:
    unavailable = pytest.raises(InfluxUnavailableError, match="not a query result")
    with client(Recorder(httpx.Response(200, text="<html>proxy</html>"))) as influx, unavailable:
        influx.query(a_query())


@pytest.mark.parametrize(
    ("exc", "match"),
    [
        (httpx.ConnectError("connection refused"), "unreachable"),
        (httpx.ReadTimeout("read timed out"), "did not answer in time"),
        (httpx.ConnectTimeout("connect timed out"), "did not answer in time"),
        (httpx.RemoteProtocolError("peer closed"), "unreachable"),
    ],
)
def test_transport_failures_are_unavailability(exc: Exception, match: str) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise exc

    with client(fail) as influx, pytest.raises(InfluxUnavailableError, match=match) as caught:
        influx.query(a_query())
    assert caught.value.status is None
    with client(fail) as influx, pytest.raises(InfluxUnavailableError):
        influx.ping()


def test_credentials_never_appear_in_errors() -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    with (
        client(fail, username="reader", password=SecretStr("s3cret")) as influx,
        pytest.raises(InfluxUnavailableError) as caught,
    ):
        influx.query(a_query())
    assert "s3cret" not in str(caught.value)


# The reader: shaping InfluxDB's series into the API's models.


def series(columns: list[str], rows: list[list[Any]], device: str | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"name": "telemetry", "columns": ["time", *columns], "values": rows}
    if device is not None:
        found["tags"] = {"device": device}
    return found


def reader(*statements: list[dict[str, Any]]) -> TelemetryReader:
    return TelemetryReader(client(Recorder(answer(*statements))))


def test_history_splits_columns_into_one_series_per_metric_and_skips_nulls() -> None:
    rows: list[list[Any]] = [
        [T0_US, 20.5, 40],
        [T0_US + 60 * US, None, 41.5],
        [T0_US + 120 * US, 22, None],
    ]
    history = reader([series(["temperature", "humidity"], rows)]).history(
        "guangsha",
        "gs-th-1",
        start=T0,
        end=T0 + timedelta(hours=1),
        window="1m",
        metrics=["humidity", "temperature", "co"],
    )
    assert history.window == "1m"
    assert history.aggregation == "mean"
    by_metric = {s.metric: s for s in history.series}
    assert list(by_metric) == ["temperature", "humidity", "co"]
    assert by_metric["temperature"].unit == "Cel"
    assert by_metric["temperature"].points == [
        (T0, 20.5),
        (T0 + timedelta(minutes=2), 22.0),
    ]
    assert by_metric["humidity"].points == [(T0, 40.0), (T0 + timedelta(minutes=1), 41.5)]
    assert by_metric["co"].points == []  # asked for, nothing stored
    assert all(s.device == "gs-th-1" and s.community == "guangsha" for s in history.series)


def test_a_count_is_unitless() -> None:
    history = reader([series(["temperature"], [[T0_US, 3]])]).history(
        "c",
        "d",
        start=T0,
        end=T0 + timedelta(hours=1),
        window="1h",
        aggregation="count",
        metrics=["temperature"],
    )
    assert history.series[0].unit == "1"
    assert history.series[0].points == [(T0, 3.0)]


def test_raw_returns_oldest_first_and_says_when_it_was_cut() -> None:
    newest_first = [[T0_US + i * US, float(i)] for i in (3, 2, 1)]
    cut = reader([series(["battery"], newest_first)]).raw(
        "c", "d", start=T0, end=T0 + timedelta(hours=1), limit=2, metrics=["battery"]
    )
    assert cut.truncated
    assert cut.window is None
    assert cut.series[0].points == [
        (T0 + timedelta(seconds=2), 2.0),
        (T0 + timedelta(seconds=3), 3.0),
    ]
    whole = reader([series(["battery"], newest_first)]).raw(
        "c", "d", start=T0, end=T0 + timedelta(hours=1), limit=3, metrics=["battery"]
    )
    assert not whole.truncated
    assert len(whole.series[0].points) == 3


def test_latest_collects_one_statement_per_metric_by_device() -> None:
    temperature = [
        series(["temperature"], [[T0_US, 21.0]], device="d1"),
        series(["temperature"], [[T0_US + US, 25.0]], device="d2"),
    ]
    battery = [series(["battery"], [[T0_US + 5 * US, 80]], device="d2")]
    latest = reader(temperature, battery).latest_in_community(
        "c", metrics=["temperature", "battery"]
    )
    assert [d.device for d in latest] == ["d1", "d2"]
    d2 = {v.metric: v for v in latest[1].values}
    assert d2["battery"].value == 80.0
    assert d2["battery"].unit == "%"
    assert d2["battery"].ts == T0 + timedelta(seconds=5)
    assert d2["temperature"].ts == T0 + timedelta(seconds=1)
    assert [v.metric for v in latest[0].values] == ["temperature"]


def test_latest_of_a_device_with_nothing_stored_is_empty() -> None:
    latest = reader([], []).latest("c", "d9", metrics=["temperature", "battery"])
    assert latest.device == "d9"
    assert latest.values == []


def test_a_malformed_answer_is_a_query_failure_not_a_crash() -> None:
    wrong_count = reader([], [])  # two statements for a one-statement history
    with pytest.raises(InfluxQueryFailedError, match="one statement"):
        wrong_count.history(
            "c", "d", start=T0, end=T0 + timedelta(hours=1), window="1h", metrics=["co"]
        )
    string_value = reader([series(["co"], [[T0_US, "high"]])])
    with pytest.raises(InfluxQueryFailedError, match="unexpected value"):
        string_value.history(
            "c", "d", start=T0, end=T0 + timedelta(hours=1), window="1h", metrics=["co"]
        )
