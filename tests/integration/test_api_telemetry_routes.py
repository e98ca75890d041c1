"""Telemetry through the API on a real InfluxDB: scoped reads of history and latest values,
and injection attempts through every query parameter leaving the data and database intact."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest

from hgj_api.security.permissions import Role
from hgj_devstack.influx import InfluxDB
from hgj_ingest.points import WRITE_PRECISION
from hgj_statedb.device_registry import DeviceRegistry
from tests.api_support import Api, FakeClock, api_settings, start_api
from tests.telemetry_lines import lines

pytestmark = pytest.mark.integration

GS, GBG = "guangsha", "guanbeigou"
DEVICE = "gs-b03-th"
T0 = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)
PATHS = [
    f"/api/v1/devices/{GS}/{DEVICE}/telemetry",
    f"/api/v1/devices/{GS}/{DEVICE}/telemetry/raw",
    f"/api/v1/devices/{GS}/{DEVICE}/telemetry/latest",
    f"/api/v1/communities/{GS}/telemetry/latest",
]
ATTACKS = [
    'x\' ; DROP DATABASE "{db}"',
    "x\" ; DROP DATABASE {db} ; SELECT * FROM \"telemetry\" WHERE '1'='1",
    "temperature) FROM telemetry; DROP DATABASE {db}; SELECT (x",
    "1m) fill(none); DROP DATABASE {db}; --",
    "\n",
]


@pytest.fixture
def api(sqlite_state_db_url: str, influxdb: InfluxDB, influx_db: str) -> Iterator[Api]:
    written: list[str] = []
    for i in range(6):  # 08:00 .. 08:50, every 10 min
        ts = T0 + timedelta(minutes=10 * i)
        written += lines(GS, DEVICE, ts, i + 1, temperature=20.0 + i, battery=90.0 - i)
        written += lines(GBG, "gbg-th", ts, i + 1, temperature=-3.0)
    influxdb.write(influx_db, "\n".join(written), precision=WRITE_PRECISION)
    settings = api_settings(sqlite_state_db_url, influx_url=influxdb.url, influx_db=influx_db)
    for running in start_api(settings, FakeClock(T0 + timedelta(hours=1))):
        registry = DeviceRegistry(running.services.database.engine)
        registry.register(GS, DEVICE, "temp_humidity")
        registry.register(GBG, "gbg-th", "temp_humidity")
        running.seed_user("guard", [Role.SECURITY], [GS])
        yield running


def _get(api: Api, path: str, **params: Any) -> Any:
    response = api.client.get(path, params=params, headers=api.headers_for("guard"))
    assert response.status_code == 200, response.text
    return response.json()


def test_history_is_aggregated_over_the_chosen_window(api: Api) -> None:
    history = _get(
        api, PATHS[0], metric="temperature", start=T0.isoformat(), window="15m", aggregation="max"
    )
    (series,) = history["series"]
    assert series["unit"] == "Cel"
    assert [p[1] for p in series["points"]] == [21.0, 22.0, 24.0, 25.0]


def test_latest_values_per_device_and_per_community(api: Api) -> None:
    latest = _get(api, PATHS[2])
    assert {v["metric"]: v["value"] for v in latest["values"]} == {
        "temperature": 25.0,
        "battery": 85.0,
    }
    community = _get(api, PATHS[3], metric="battery")
    assert [(d["device"], d["values"][0]["value"]) for d in community] == [(DEVICE, 85.0)]


def test_raw_points_come_with_a_limit(api: Api) -> None:
    raw = _get(api, PATHS[1], metric="temperature", start=T0.isoformat(), limit=2)
    assert raw["truncated"] is True
    assert [p[1] for p in raw["series"][0]["points"]] == [24.0, 25.0]


def test_other_communities_and_unregistered_devices_are_not_found(api: Api) -> None:
    headers = api.headers_for("guard")
    other = api.client.get(f"/api/v1/devices/{GBG}/gbg-th/telemetry/latest", headers=headers)
    assert other.status_code == 404
    community = api.client.get(f"/api/v1/communities/{GBG}/telemetry/latest", headers=headers)
    assert community.status_code == 404
    unknown = api.client.get(f"/api/v1/devices/{GS}/gs-ghost/telemetry", headers=headers)
    assert unknown.status_code == 404


def test_too_many_buckets_is_a_clear_error(api: Api) -> None:
    response = api.client.get(
        PATHS[0],
        params={"start": (T0 - timedelta(days=30)).isoformat(), "window": "1m"},
        headers=api.headers_for("guard"),
    )
    assert response.status_code == 422
    assert "use a window of at least" in response.text


@pytest.mark.parametrize("parameter", ["metric", "window", "aggregation", "start", "end", "since"])
def test_injection_through_any_parameter_leaves_data_and_database_intact(
    api: Api, influxdb: InfluxDB, influx_db: str, parameter: str
) -> None:
    headers = api.headers_for("guard")
    for attack in ATTACKS:
        value = attack.format(db=influx_db)
        for path in PATHS:
            response = api.client.get(path, params={parameter: value}, headers=headers)
            assert response.status_code in (200, 404, 422), (path, parameter, response.text)
        for device in (value, f"{DEVICE}{value}"):
            response = api.client.get(
                f"/api/v1/devices/{GS}/{quote(device, safe='')}/telemetry/latest",
                headers=headers,
            )
            assert response.status_code in (404, 422), response.text
    assert influx_db in influxdb.databases()
    result = influxdb.query('SELECT count("temperature") FROM "telemetry"', db=influx_db)
    assert result["results"][0]["series"][0]["values"][0][1] == 12
