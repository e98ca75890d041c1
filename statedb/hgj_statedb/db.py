"""Engines and migrations for the state database, for SQLite and PostgreSQL alike.

SQLite needs three things that it does not do by default and that the alert store relies on:

- **WAL journal**: readers (the API) do not block the writer (ingest) and vice versa.
- **foreign keys on**: SQLite ignores FOREIGN KEY clauses unless asked, per connection.
- **BEGIN IMMEDIATE for writes, with a busy timeout**: a plain (deferred) BEGIN takes the write
  lock only at the first write, so two transactions that both read an alert and then update it
  can both get past the read, and the loser fails with "database is locked" without waiting
  (SQLite cannot wait for a lock upgrade without deadlocking). BEGIN IMMEDIATE takes the write
  lock up front, so writers queue (for up to the busy timeout) and each sees the previous one's
  result. Python's sqlite3 module would emit its own deferred BEGIN, so it is switched to
  autocommit and SQLAlchemy's ``begin`` event emits the BEGIN instead (the recipe from the
  SQLAlchemy SQLite dialect documentation).

PostgreSQL needs none of this: the store takes row locks (``SELECT ... FOR UPDATE``).
"""

import sqlite3
from importlib.resources import files
from typing import Final

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import ConnectionPoolEntry, QueuePool

SQLITE_BUSY_TIMEOUT_S: Final = 30.0
"""How long a writer waits for another writer's transaction; ours last milliseconds."""

WRITE: Final = {"hgj_sqlite_begin": "BEGIN IMMEDIATE"}
"""Execution options for a connection that will write (see ``write_engine``)."""


def normalise_url(url: str | URL) -> URL:
    """``postgresql://`` means psycopg 3 here (the only PostgreSQL driver we install)."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def is_sqlite_memory(url: URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def make_engine(url: str | URL) -> Engine:
    """An engine for ``url`` (``sqlite:///path``, ``sqlite://`` in memory, ``postgresql://...``).

    An in-memory SQLite database exists only as long as its one connection, so its engine keeps
    exactly one connection and threads take turns on it: migrations and stores built on the same
    engine see the same database, and concurrent use is serialised rather than broken.
    """
    parsed = normalise_url(url)
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        return create_engine(parsed)
    if backend != "sqlite":
        raise ValueError(f"unsupported database {backend!r}: use sqlite or postgresql")
    connect_args = {"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False}
    if is_sqlite_memory(parsed):
        engine = create_engine(
            parsed, connect_args=connect_args, poolclass=QueuePool, pool_size=1, max_overflow=0
        )
    else:
        engine = create_engine(parsed, connect_args=connect_args)
    event.listen(engine, "connect", _configure_sqlite_connection)
    event.listen(engine, "begin", _begin_sqlite_transaction)
    return engine


def write_engine(engine: Engine) -> Engine:
    """The same engine (same pool), whose transactions take SQLite's write lock at BEGIN."""
    return engine.execution_options(**WRITE)


def _configure_sqlite_connection(
    dbapi_connection: sqlite3.Connection, connection_record: ConnectionPoolEntry
) -> None:
    # Autocommit at the driver level: the begin hook below decides how transactions start.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA journal_mode = WAL")  # stays "memory" for in-memory databases
    # synchronous stays FULL (the default): an acknowledged alert must survive a power cut.
    cursor.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
    cursor.close()


def _begin_sqlite_transaction(connection: Connection) -> None:
    begin = connection.get_execution_options().get("hgj_sqlite_begin", "BEGIN")
    connection.exec_driver_sql(begin)


def alembic_config() -> Config:
    """Alembic configuration for the migrations in this package (there is no alembic.ini)."""
    config = Config()
    config.set_main_option("script_location", str(files("hgj_statedb") / "migrations"))
    return config


MIGRATION_LOCK_ID: Final = 0x4847_4A5F_5354_4442  # "HGJ_STDB": any constant, shared by all
"""PostgreSQL advisory lock taken while migrating, so that workers starting together take
turns (the second finds the schema at head and does nothing) instead of both creating tables."""


def migrate(target: str | URL | Engine, revision: str = "head") -> None:
    """Upgrade the database at ``target`` to ``revision`` (the latest by default).

    Safe to call from several processes at once (every worker may migrate at start). Pass an
    Engine rather than a URL for an in-memory SQLite database: a new engine would open a new,
    empty database.
    """
    engine = target if isinstance(target, Engine) else make_engine(target)
    try:
        config = alembic_config()
        # The lock is taken before Alembic starts (on SQLite, BEGIN IMMEDIATE is the lock): it
        # also keeps threads of one process out of Alembic's process-global migration context.
        with write_engine(engine).begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID}
                )
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        if engine is not target:
            engine.dispose()


def open_engine(url: str, *, run_migrations: bool = True) -> Engine:
    """An engine for ``url``, migrated to the latest schema unless told not to: what every
    store's ``open`` needs before it can be used."""
    engine = make_engine(url)
    if run_migrations:
        migrate(engine)
    return engine
