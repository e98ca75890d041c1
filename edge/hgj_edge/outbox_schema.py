"""The outbox's SQLite schema, and opening a file with it.

One file per agent, written by that agent alone. WAL lets the pump read the next messages
while an agent thread appends, and each write is one short transaction.
"""

import sqlite3
from pathlib import Path
from typing import Literal

SCHEMA_VERSION = 1

Synchronous = Literal["NORMAL", "FULL"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    -- AUTOINCREMENT: ids are never reused, even after the table empties, so id order is the
    -- order of put() over the file's whole life, which is the order messages are sent in.
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL,
    class TEXT NOT NULL,
    size INTEGER NOT NULL,
    enqueued_at REAL NOT NULL,
    acked_at REAL,
    -- 1 once a reconnect has put the acknowledged message back for sending again: such
    -- messages go after those the broker never acknowledged.
    replay INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS messages_unacked ON messages (replay, id) WHERE acked_at IS NULL;
CREATE INDEX IF NOT EXISTS messages_acked ON messages (acked_at) WHERE acked_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS messages_class ON messages (class, id);
CREATE INDEX IF NOT EXISTS messages_retained ON messages (topic, id) WHERE retain = 1;

CREATE TABLE IF NOT EXISTS rejected (
    id INTEGER PRIMARY KEY,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL,
    class TEXT NOT NULL,
    enqueued_at REAL NOT NULL,
    rejected_at REAL NOT NULL,
    reason_code INTEGER NOT NULL,
    reason TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""


class OutboxFileError(RuntimeError):
    """The file is not an outbox this code can use (a newer schema, or no WAL)."""


def open_database(path: Path, synchronous: Synchronous) -> sqlite3.Connection:
    """A connection to the outbox at ``path``, created if missing.

    ``isolation_level=None``: the outbox issues BEGIN IMMEDIATE/COMMIT itself, so every write
    takes the write lock up front instead of upgrading a read transaction half way through.
    ``check_same_thread=False``: agent threads, the pump and the caller share it behind the
    outbox's lock.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise OutboxFileError(f"{path}: SQLite refused WAL mode (got {mode!r})")
        # NORMAL in WAL mode: a commit survives the agent crashing but not the power failing
        # before the next checkpoint; FULL survives both at the price of an fsync per put().
        db.execute(f"PRAGMA synchronous={synchronous}")
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise OutboxFileError(
                f"{path} has outbox schema {version}; this code knows up to {SCHEMA_VERSION}"
            )
        db.executescript(_SCHEMA)
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    except BaseException:
        db.close()
        raise
    return db


def bump_counter(db: sqlite3.Connection, name: str, by: int = 1) -> None:
    """Add to a persistent counter (drops, rejections, replays), inside the caller's
    transaction, so a count never disagrees with the rows it describes."""
    if by:
        db.execute(
            "INSERT INTO counters (name, value) VALUES (?, ?)"
            " ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
            (name, by),
        )
