"""Fixtures for the state database tests, on SQLite and on the local PostgreSQL server.

The test bodies live in ``tests/statedb_cases/`` as classes whose tests ask for ``store`` (or
``state_db_url``); test modules subclass them and say which database ``state_db_url`` is:
SQLite files in tests/unit, PostgreSQL in tests/integration. So both backends run the very
same tests.

PostgreSQL: one uniquely named database per test module, migrated once and dropped at the end;
each test starts from empty tables. The server is ``HGJ_TEST_POSTGRES_URL`` (default: the local
server with trust authentication, ``postgresql://postgres@127.0.0.1:5432/postgres``).
"""

import os
import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from hgj_contracts import Severity
from hgj_statedb.alert_store import AlertStore
from hgj_statedb.db import make_engine, migrate, normalise_url
from hgj_statedb.schema import metadata
from hgj_statedb.signals import AlertSignal

POSTGRES_SERVER_URL = os.environ.get(
    "HGJ_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)

T0 = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    """A moment ``seconds`` after T0: tests speak in small numbers of seconds."""
    return T0 + timedelta(seconds=seconds)


def signal(
    kind: Literal["raise", "clear"],
    seconds: float,
    *,
    device: str | None = "gs-b01-smoke",
    rule: str = "smoke",
    community: str = "guangsha",
    severity: Severity = "critical",
    signal_id: str | None = None,
    message: str = "1号楼烟雾报警",
) -> AlertSignal:
    """A signal at ``at(seconds)``; a fresh signal_id unless one is given (a redelivery)."""
    return AlertSignal(
        kind=kind,
        community=community,
        device=device,
        rule=rule,
        severity=severity,
        event_time=at(seconds),
        message=message,
        signal_id=signal_id or f"{community}/{device}/{secrets.token_hex(6)}",
    )


StoreFactory = Callable[[], AlertStore]


@pytest.fixture
def store_factory(state_db_url: str) -> Iterator[StoreFactory]:
    """Open more stores on the same database, each with its own engine (as separate worker
    processes would); all are closed after the test."""
    stores: list[AlertStore] = []

    def open_store() -> AlertStore:
        stores.append(AlertStore.open(state_db_url, run_migrations=not stores))
        return stores[-1]

    try:
        yield open_store
    finally:
        for store in stores:
            store.close()


@pytest.fixture
def store(store_factory: StoreFactory) -> AlertStore:
    """A store on a migrated, empty database (``state_db_url``)."""
    return store_factory()


@pytest.fixture
def sqlite_state_db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'state.db'}"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Engine]:
    """An AUTOCOMMIT engine on the server's maintenance database (CREATE/DROP DATABASE)."""
    engine = make_engine(POSTGRES_SERVER_URL).execution_options(isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as error:
        engine.dispose()
        pytest.fail(
            f"PostgreSQL is not reachable at {POSTGRES_SERVER_URL} ({error.orig}); start it or "
            "set HGJ_TEST_POSTGRES_URL",
            pytrace=False,
        )
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def postgres_database(postgres_server: Engine) -> Iterator[Engine]:
    """A new, migrated database for the module (an engine on it); dropped afterwards."""
    name = f"hgj_test_{secrets.token_hex(6)}"
    with postgres_server.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(normalise_url(POSTGRES_SERVER_URL).set(database=name))
    try:
        migrate(engine)
        yield engine
    finally:
        engine.dispose()
        with postgres_server.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))


@pytest.fixture
def postgres_state_db_url(postgres_database: Engine) -> str:
    """The module's database, emptied for this test."""
    with postgres_database.begin() as connection:
        connection.execute(text(f"TRUNCATE {', '.join(metadata.tables)}"))
    return postgres_database.url.render_as_string(hide_password=False)
