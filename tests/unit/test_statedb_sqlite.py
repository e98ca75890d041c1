"""The alert store on SQLite: the shared cases (tests/statedb_cases) on a database file, and the
signal lifecycle once more on an in-memory database."""

import pytest

from tests.statedb_cases.actions import ActionCases
from tests.statedb_cases.concurrency import ConcurrencyCases
from tests.statedb_cases.devices import DeviceRegistryCases
from tests.statedb_cases.escalation import EscalationCases
from tests.statedb_cases.lifecycle import LifecycleCases, OrderingCases, PayloadCases
from tests.statedb_cases.outbox import OutboxCases
from tests.statedb_cases.schema import SchemaCases


class OnSqliteFile:
    @pytest.fixture
    def state_db_url(self, sqlite_state_db_url: str) -> str:
        return sqlite_state_db_url


class OnSqliteMemory:
    @pytest.fixture
    def state_db_url(self) -> str:
        return "sqlite://"


class TestSchemaOnSqlite(OnSqliteFile, SchemaCases):
    pass


class TestLifecycleOnSqlite(OnSqliteFile, LifecycleCases, OrderingCases, PayloadCases, OutboxCases):
    pass


class TestLifecycleOnSqliteInMemory(OnSqliteMemory, LifecycleCases, OrderingCases):
    pass


class TestActionsOnSqlite(OnSqliteFile, ActionCases):
    pass


class TestEscalationOnSqlite(OnSqliteFile, EscalationCases):
    pass


class TestConcurrencyOnSqlite(OnSqliteFile, ConcurrencyCases):
    pass


class TestDeviceRegistryOnSqlite(OnSqliteFile, DeviceRegistryCases):
    pass
