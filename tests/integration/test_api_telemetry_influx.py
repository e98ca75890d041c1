"""The API's telemetry reads against a real InfluxDB 1.6.7, on points written by ingest's own
line-protocol code: aggregated history, raw points, latest values, injection attempts, and
InfluxDB being down or refusing credentials."""

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from hgj_api.telemetry import (
    InfluxAuthError,
    InfluxConfig,
    InfluxQueryClient,
    InfluxQueryFailedError,
    InfluxUnavailableError,
    TelemetryQueryError,
    TelemetryReader,
    raw_query,
)
from hgj_devstack.influx import DEFAULT_TEMPLATE, INFLUXD_BINARY, InfluxDB
from hgj_devstack.ports import free_port
from hgj_ingest.points import WRITE_PRECISION
from tests.telemetry_lines import lines

pytestmark = pytest.mark.integration

COMMUNITY = "guangsha"
OTHER_COMMUNITY = "guanbeigou"
T0 = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)  # in the past: latest() reads up to now
STEP = timedelta(seconds=20)
READINGS = 9  # 08:00:00 .. 08:02:40, three a minute
ATTACKS = [
    'x\' ; DROP DATABASE "{victim}"',
    "x' ; DROP DATABASE \"{victim}\" ; SELECT * FROM \"telemetry\" WHERE '1'='1",
    '"',
    "'",
    "gs-th-1\nDROP DATABASE {victim}",
    'gs-th-1" ; DROP DATABASE "{victim}',
    "\\",
]


@pytest.fixture
def stored(influxdb: InfluxDB, influx_db: str) -> str:
    """Two devices of one community and one of another, written with ingest's code."""
    written: list[str] = []
    for i in range(READINGS):
        ts = T0 + i * STEP
        # temperature 20, 21, ... 28; humidity only on even readings
        extra = {"humidity": 50.0 + i} if i % 2 == 0 else {}
        written += lines(COMMUNITY, "gs-th-1", ts, i + 1, temperature=20.0 + i, **extra)
        written += lines(COMMUNITY, "gs-th-2", ts, i + 1, temperature=30.0 + i)
        written += lines(OTHER_COMMUNITY, "gs-th-1", ts, i + 1, temperature=-5.0)
    written += lines(COMMUNITY, "gs-th-2", T0 + timedelta(minutes=10), 99, battery=80.0)
    influxdb.write(influx_db, "\n".join(written), precision=WRITE_PRECISION)
    return influx_db


@pytest.fixture
def client(influxdb: InfluxDB, stored: str) -> Iterator[InfluxQueryClient]:
    with InfluxQueryClient(InfluxConfig(url=influxdb.url, database=stored)) as influx:
        yield influx


@pytest.fixture
def reader(client: InfluxQueryClient) -> TelemetryReader:
    return TelemetryReader(client)


def minute(n: int) -> datetime:
    return T0 + timedelta(minutes=n)


@pytest.mark.parametrize(
    ("aggregation", "temperatures"),
    [
        ("mean", [21.0, 24.0, 27.0]),
        ("min", [20.0, 23.0, 26.0]),
        ("max", [22.0, 25.0, 28.0]),
        ("last", [22.0, 25.0, 28.0]),
        ("count", [3.0, 3.0, 3.0]),
    ],
)
def test_history_aggregates_per_window(
    reader: TelemetryReader, aggregation: str, temperatures: list[float]
) -> None:
    history = reader.history(
        COMMUNITY,
        "gs-th-1",
        start=T0,
        end=minute(60),
        window="1m",
        aggregation=aggregation,
        metrics=["temperature", "humidity"],
    )
    temperature, humidity = history.series
    assert temperature.metric == "temperature"
    assert temperature.points == list(
        zip([minute(0), minute(1), minute(2)], temperatures, strict=True)
    )
    assert humidity.metric == "humidity"
    # humidity at 08:00:00, 08:00:40, 08:01:20, 08:02:00, 08:02:40: empty buckets left out
    assert [ts for ts, _ in humidity.points] == [minute(0), minute(1), minute(2)]
    assert temperature.unit == ("1" if aggregation == "count" else "Cel")


def test_history_is_bounded_by_start_and_end_and_by_device(reader: TelemetryReader) -> None:
    history = reader.history(
        COMMUNITY,
        "gs-th-2",
        start=T0 + STEP,  # leaves the 08:00:00 reading out
        end=minute(2),  # leaves the third minute out
        window="5m",
        aggregation="count",
        metrics=["temperature", "battery"],
    )
    temperature, battery = history.series
    assert temperature.points == [(T0, 5.0)]  # 08:00:20 .. 08:01:40, in the bucket of 08:00
    assert battery.points == []
    elsewhere = reader.history(
        OTHER_COMMUNITY, "gs-th-1", start=T0, end=minute(60), window="1h", aggregation="max"
    )
    by_metric = {s.metric: s.points for s in elsewhere.series}
    assert by_metric["temperature"] == [(T0, -5.0)]
    assert sum(len(points) for points in by_metric.values()) == 1


def test_raw_points_are_returned_exactly_and_cut_to_the_newest(reader: TelemetryReader) -> None:
    whole = reader.raw(COMMUNITY, "gs-th-1", start=T0, end=minute(60), metrics=["temperature"])
    assert not whole.truncated
    assert whole.series[0].points == [(T0 + i * STEP, 20.0 + i) for i in range(READINGS)]
    cut = reader.raw(
        COMMUNITY, "gs-th-1", start=T0, end=minute(60), limit=4, metrics=["temperature"]
    )
    assert cut.truncated
    assert cut.series[0].points == [(T0 + i * STEP, 20.0 + i) for i in range(5, READINGS)]


def test_latest_per_device_has_each_metrics_own_time(reader: TelemetryReader) -> None:
    latest = reader.latest(COMMUNITY, "gs-th-2", metrics=["temperature", "battery", "co"])
    values = {v.metric: (v.ts, v.value, v.unit) for v in latest.values}
    assert values == {
        "temperature": (T0 + (READINGS - 1) * STEP, 38.0, "Cel"),
        "battery": (minute(10), 80.0, "%"),
    }
    assert reader.latest(COMMUNITY, "gs-nobody").values == []


def test_latest_per_community_lists_its_devices_only(reader: TelemetryReader) -> None:
    latest = reader.latest_in_community(COMMUNITY)
    assert [d.device for d in latest] == ["gs-th-1", "gs-th-2"]
    first = {v.metric: v.value for v in latest[0].values}
    assert first == {"temperature": 28.0, "humidity": 58.0}
    recent = reader.latest_in_community(COMMUNITY, since=minute(5))
    assert [(d.device, [v.metric for v in d.values]) for d in recent] == [("gs-th-2", ["battery"])]


@pytest.mark.parametrize("attack", ATTACKS)
def test_injected_values_drop_nothing_and_find_nothing(
    influxdb: InfluxDB, stored: str, client: InfluxQueryClient, reader: TelemetryReader, attack: str
) -> None:
    victim = f"{stored}_victim"
    influxdb.create_database(victim)
    try:
        value = attack.replace("{victim}", victim)
        # Through the reader the value is refused before anything is sent...
        with pytest.raises(TelemetryQueryError, match="not an id"):
            reader.history(COMMUNITY, value, start=T0, end=minute(60), window="1m")
        with pytest.raises(TelemetryQueryError, match="not an id"):
            reader.latest_in_community(value)
        # ...and even sent as it is, bypassing that check, it stays a (strange) bound value.
        query = raw_query(community=COMMUNITY, device="gs-th-1", start=T0, end=minute(60))
        for position in ("community", "device"):
            attacked = dataclasses.replace(query, params={**query.params, position: value})
            assert client.query(attacked) == [[]]
        assert victim in influxdb.databases()
        assert stored in influxdb.databases()
        intact = reader.raw(COMMUNITY, "gs-th-1", start=T0, end=minute(60))
        assert len(intact.series[0].points) == READINGS
    finally:
        influxdb.drop_database(victim)


@pytest.mark.parametrize(
    "metric", ['temperature") FROM "telemetry"; DROP DATABASE "x', "temperature\n", "seq"]
)
def test_injected_identifiers_are_refused(reader: TelemetryReader, metric: str) -> None:
    with pytest.raises(TelemetryQueryError, match="unknown metric"):
        reader.history(
            COMMUNITY, "gs-th-1", start=T0, end=minute(60), window="1m", metrics=[metric]
        )


def test_a_missing_database_is_a_query_failure(influxdb: InfluxDB, influx_db: str) -> None:
    config = InfluxConfig(url=influxdb.url, database=f"{influx_db}_missing")
    with InfluxQueryClient(config) as influx:
        reader = TelemetryReader(influx)
        with pytest.raises(InfluxQueryFailedError, match="database not found"):
            reader.latest(COMMUNITY, "gs-th-1", metrics=["temperature"])
        # 1.6.7 reports only "not executed" when a request has several statements
        with pytest.raises(InfluxQueryFailedError, match="not executed"):
            reader.latest(COMMUNITY, "gs-th-1")


def _own_influxdb(workdir: Path, template: Path = DEFAULT_TEMPLATE) -> InfluxDB:
    if not Path(INFLUXD_BINARY).exists():
        pytest.fail(f"{INFLUXD_BINARY} is missing: run `make setup`", pytrace=False)
    server = InfluxDB(workdir, http_port=free_port(), template=template)
    server.start()
    return server


@pytest.fixture
def own_influxdb(tmp_path: Path) -> Iterator[InfluxDB]:
    """An InfluxDB of this test alone, which it may stop."""
    server = _own_influxdb(tmp_path / "influxdb")
    try:
        yield server
    finally:
        server.stop()


def test_a_stopped_influxdb_is_unavailable_not_an_error_of_the_query(
    own_influxdb: InfluxDB,
) -> None:
    own_influxdb.create_database("down")
    own_influxdb.write("down", "\n".join(lines(COMMUNITY, "gs-th-1", T0, 1, temperature=20.0)), "u")
    config = InfluxConfig(url=own_influxdb.url, database="down", timeout_s=5)
    with InfluxQueryClient(config) as influx:
        reader = TelemetryReader(influx)
        influx.ping()
        assert [v.value for v in reader.latest(COMMUNITY, "gs-th-1").values] == [20.0]
        own_influxdb.stop()
        with pytest.raises(InfluxUnavailableError, match="unreachable") as caught:
            reader.latest(COMMUNITY, "gs-th-1")
        assert caught.value.status is None
        with pytest.raises(InfluxUnavailableError):
            influx.ping()
        with pytest.raises(InfluxUnavailableError):
            reader.history(COMMUNITY, "gs-th-1", start=T0, end=minute(60), window="1m")
        own_influxdb.start()  # and it recovers without a new client
        assert [v.value for v in reader.latest(COMMUNITY, "gs-th-1").values] == [20.0]


def test_credentials_are_checked_by_an_influxdb_with_auth(tmp_path: Path) -> None:
    template = tmp_path / "influxdb-auth.conf.template"
    config_text = DEFAULT_TEMPLATE.read_text(encoding="utf-8")
    template.write_text(
        config_text.replace("[http]\n", "[http]\n  auth-enabled = true\n", 1), encoding="utf-8"
    )
    server = _own_influxdb(tmp_path / "influxdb", template)
    try:
        # With auth on and no user yet, InfluxDB only lets the first admin be created.
        setup = {"q": "CREATE USER admin WITH PASSWORD 'pw-1' WITH ALL PRIVILEGES"}
        assert httpx.post(f"{server.url}/query", data=setup).status_code == 200
        create = {"q": 'CREATE DATABASE "authdb"'}
        assert httpx.post(f"{server.url}/query", data=create, auth=("admin", "pw-1")).is_success
        good = InfluxConfig(
            url=server.url, database="authdb", username="admin", password=SecretStr("pw-1")
        )
        with InfluxQueryClient(good) as influx:
            assert TelemetryReader(influx).latest(COMMUNITY, "gs-th-1").values == []
        for bad in (
            good.model_copy(update={"password": SecretStr("wrong")}),
            InfluxConfig(url=server.url, database="authdb"),
        ):
            with InfluxQueryClient(bad) as influx, pytest.raises(InfluxAuthError) as caught:
                TelemetryReader(influx).latest(COMMUNITY, "gs-th-1")
            assert caught.value.status == 401
            assert "wrong" not in str(caught.value)
    finally:
        server.stop()
