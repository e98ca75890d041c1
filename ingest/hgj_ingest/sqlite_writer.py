"""The embedded point store: line protocol kept in SQLite, for machines without InfluxDB.

Only `make run` uses it, and only when no influxd binary is installed. It keeps InfluxDB's one
property that ingest relies on: a point is identified by its series (measurement and tags) and
its timestamp, and writing it again replaces it, so redelivered messages do not add points.
It stores the lines as written; it is not a query engine.
"""

import sqlite3
import threading

from hgj_ingest.influx_writer import WriteRejected

_SCHEMA = """
CREATE TABLE IF NOT EXISTS points (
    series TEXT NOT NULL,
    time_us INTEGER NOT NULL,
    measurement TEXT NOT NULL,
    community TEXT,
    line TEXT NOT NULL,
    PRIMARY KEY (series, time_us)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS points_by_measurement ON points (measurement, community, time_us);
"""


def _parse(line: str) -> tuple[str, int, str, str | None]:
    # Our lines put ids (never spaces) in the series and end with the timestamp.
    series = line[: line.index(" ")]
    time_us = int(line.rsplit(" ", 1)[1])
    measurement, *tags = series.split(",")
    community = next((t[10:] for t in tags if t.startswith("community=")), None)
    return series, time_us, measurement, community


class SqliteWriter:
    def __init__(self, path: str) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def write(self, lines: list[str]) -> WriteRejected | None:
        rows = []
        for line in lines:
            try:
                series, time_us, measurement, community = _parse(line)
            except (ValueError, IndexError):
                return WriteRejected(400, f"unable to parse {line[:200]!r}")
            rows.append((series, time_us, measurement, community, line))
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR REPLACE INTO points VALUES (?, ?, ?, ?, ?)", rows)
            self._db.execute("COMMIT")
        return None

    def close(self) -> None:
        self._db.close()
