"""The alert store on PostgreSQL: the same cases as on SQLite (tests/statedb_cases), in a
database created for this module on the local server and dropped afterwards."""

import secrets
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine, text

from hgj_statedb.alert_store import AlertStore
from hgj_statedb.db import migrate, normalise_url
from tests.statedb_cases.actions import ActionCases
from tests.statedb_cases.concurrency import ConcurrencyCases
from tests.statedb_cases.devices import DeviceRegistryCases
from tests.statedb_cases.escalation import EscalationCases
from tests.statedb_cases.lifecycle import LifecycleCases, OrderingCases, PayloadCases
from tests.statedb_cases.outbox import OutboxCases
from tests.statedb_cases.schema import SchemaCases
from tests.statedb_fixtures import POSTGRES_SERVER_URL

pytestmark = pytest.mark.integration


class OnPostgres:
    @pytest.fixture
    def state_db_url(self, postgres_state_db_url: str) -> str:
        return postgres_state_db_url


class TestSchemaOnPostgres(OnPostgres, SchemaCases):
    pass


class TestLifecycleOnPostgres(OnPostgres, LifecycleCases, OrderingCases, PayloadCases, OutboxCases):
    pass


class TestActionsOnPostgres(OnPostgres, ActionCases):
    pass


class TestEscalationOnPostgres(OnPostgres, EscalationCases):
    pass


class TestConcurrencyOnPostgres(OnPostgres, ConcurrencyCases):
    pass


class TestDeviceRegistryOnPostgres(OnPostgres, DeviceRegistryCases):
    pass


def test_workers_starting_together_migrate_once(postgres_server: Engine) -> None:
    name = f"hgj_test_{secrets.token_hex(6)}"
    with postgres_server.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = normalise_url(POSTGRES_SERVER_URL).set(database=name).render_as_string(False)
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(migrate, [url] * 4))
        store = AlertStore.open(url, run_migrations=False)
        try:
            assert store.list_alerts() == []
        finally:
            store.close()
    finally:
        with postgres_server.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
