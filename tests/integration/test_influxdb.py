"""The real InfluxDB 1.x as the harness runs it: v1 write, InfluxQL with bound parameters."""

import pytest

from hgj_devstack.influx import InfluxDB, InfluxError

pytestmark = pytest.mark.integration

POINTS = (
    "telemetry,community=guangsha,device=gate-1 seq=1i 1700000000000000000\n"
    "telemetry,community=guangsha,device=gate-1 seq=2i 1700000001000000000\n"
    "telemetry,community=guangsha,device=gate-2 seq=1i 1700000000000000000\n"
)
COUNT_FOR_DEVICE = 'SELECT count("seq") FROM "telemetry" WHERE "device" = $device'


def count(influxdb: InfluxDB, db: str, device: str) -> int:
    result = influxdb.query(COUNT_FOR_DEVICE, db=db, params={"device": device})
    series = result["results"][0].get("series", [])
    return int(series[0]["values"][0][1]) if series else 0


def test_written_points_are_counted_with_a_bound_parameter(
    influxdb: InfluxDB, influx_db: str
) -> None:
    influxdb.write(influx_db, POINTS)
    assert count(influxdb, influx_db, "gate-1") == 2
    assert count(influxdb, influx_db, "gate-2") == 1


def test_injection_in_a_bound_value_is_only_a_value(influxdb: InfluxDB, influx_db: str) -> None:
    influxdb.write(influx_db, POINTS)
    victim = f"{influx_db}_victim"
    influxdb.create_database(victim)
    try:
        # The classic concatenation attack; here it must stay a (strange) tag value.
        attack = f"gate-1' ; DROP DATABASE \"{victim}\" ; SELECT * FROM \"telemetry\" WHERE '1'='1"  # noqa: S608
        assert count(influxdb, influx_db, attack) == 0  # no device has that odd name
        assert victim in influxdb.databases()
        assert count(influxdb, influx_db, "gate-1") == 2
    finally:
        influxdb.drop_database(victim)


def test_refusals_raise_with_the_servers_reason(influxdb: InfluxDB, influx_db: str) -> None:
    with pytest.raises(InfluxError, match="error parsing query") as bad_query:
        influxdb.query("SELECT FROM", db=influx_db)
    assert bad_query.value.status == 400
    with pytest.raises(InfluxError, match="database not found"):
        influxdb.query('SELECT * FROM "telemetry"', db=f"{influx_db}_missing")
    # A batch with one bad line stores the good lines and still answers 400 "partial write".
    with pytest.raises(InfluxError, match="partial write") as partial:
        influxdb.write(influx_db, POINTS + "not line protocol\n")
    assert partial.value.status == 400
    assert count(influxdb, influx_db, "gate-1") == 2


def test_database_names_are_never_interpolated(influxdb: InfluxDB) -> None:
    with pytest.raises(ValueError, match="not an allowed identifier"):
        influxdb.create_database('x"; DROP DATABASE "y')
