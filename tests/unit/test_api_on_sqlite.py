"""The API on SQLite files: the shared cases (tests/api_cases)."""

import pytest

from tests.api_cases.alerts import AlertCases
from tests.api_cases.audit import AuditReadCases
from tests.api_cases.audit_chain import AuditChainCases
from tests.api_cases.auth import AuthCases
from tests.api_cases.commands import CommandCases, NoBrokerCases
from tests.api_cases.registry import RegistryCases
from tests.api_cases.scope import ScopeQueryCases
from tests.api_cases.users import UserAdminCases


class OnSqliteFile:
    @pytest.fixture
    def state_db_url(self, sqlite_state_db_url: str) -> str:
        return sqlite_state_db_url


class TestAuthOnSqlite(OnSqliteFile, AuthCases):
    pass


class TestUserAdminOnSqlite(OnSqliteFile, UserAdminCases):
    pass


class TestAuditReadOnSqlite(OnSqliteFile, AuditReadCases):
    pass


class TestScopeQueriesOnSqlite(OnSqliteFile, ScopeQueryCases):
    pass


class TestAlertsOnSqlite(OnSqliteFile, AlertCases):
    pass


class TestAuditChainOnSqlite(OnSqliteFile, AuditChainCases):
    pass


class TestRegistryOnSqlite(OnSqliteFile, RegistryCases):
    pass


class TestCommandsOnSqlite(OnSqliteFile, CommandCases):
    pass


class TestCommandsWithoutBrokerOnSqlite(OnSqliteFile, NoBrokerCases):
    pass
