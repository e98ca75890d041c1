"""Count stored telemetry per community, from InfluxDB or from the embedded SQLite store."""

import sqlite3
from dataclasses import dataclass

import urllib3

from hgj_contracts.influx_schema import TELEMETRY_MEASUREMENT
from hgj_devstack.stack_state import StackState


@dataclass(frozen=True)
class PointCounts:
    total: dict[str, int]
    last_minute: dict[str, int]


def count_points(state: StackState) -> PointCounts:
    if state.store == "sqlite":
        assert state.sqlite_path is not None
        return _count_sqlite(state.sqlite_path)
    assert state.influx_url is not None
    return PointCounts(
        total=_influx_counts(state.influx_url, state.influx_db, _COUNT_ALL),
        last_minute=_influx_counts(state.influx_url, state.influx_db, _COUNT_LAST_MINUTE),
    )


# Constant queries (no input reaches them), sent by POST as DESIGN.md asks of all InfluxQL.
_COUNT_ALL = 'SELECT count("seq") FROM "telemetry" GROUP BY "community"'
_COUNT_LAST_MINUTE = (
    'SELECT count("seq") FROM "telemetry" WHERE time > now() - 1m GROUP BY "community"'
)


_HTTP = urllib3.PoolManager(maxsize=1)


def _influx_counts(url: str, db: str, query: str) -> dict[str, int]:
    response = _HTTP.request(
        "POST", f"{url}/query", fields={"db": db, "q": query}, encode_multipart=False, timeout=5.0
    )
    if response.status != 200:
        raise RuntimeError(f"InfluxDB answered {response.status}: {response.data[:200]!r}")
    counts: dict[str, int] = {}
    for series in response.json()["results"][0].get("series", []):
        counts[series["tags"]["community"]] = int(series["values"][0][1])
    return counts


def _count_sqlite(path: str) -> PointCounts:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        total = dict(
            db.execute(
                "SELECT community, count(*) FROM points WHERE measurement = ? GROUP BY community",
                (TELEMETRY_MEASUREMENT,),
            ).fetchall()
        )
        recent = dict(
            db.execute(
                "SELECT community, count(*) FROM points WHERE measurement = ? "
                "AND time_us > (strftime('%s','now') - 60) * 1000000 GROUP BY community",
                (TELEMETRY_MEASUREMENT,),
            ).fetchall()
        )
    return PointCounts(total=total, last_minute=recent)
