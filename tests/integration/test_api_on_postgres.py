"""The API on PostgreSQL: the same cases as on SQLite (tests/api_cases), in a database created
for this module on the local server and dropped afterwards."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from hgj_api.security.permissions import Role
from hgj_statedb.models import AuditLogRow, UserRow
from tests.api_cases.alerts import AlertCases
from tests.api_cases.audit import AuditReadCases
from tests.api_cases.audit_chain import AuditChainCases
from tests.api_cases.auth import AuthCases
from tests.api_cases.commands import CommandCases, NoBrokerCases
from tests.api_cases.registry import RegistryCases
from tests.api_cases.scope import ScopeQueryCases
from tests.api_cases.users import UserAdminCases
from tests.api_support import Api

pytestmark = pytest.mark.integration


class OnPostgres:
    @pytest.fixture
    def state_db_url(self, postgres_state_db_url: str) -> str:
        return postgres_state_db_url


class TestAuthOnPostgres(OnPostgres, AuthCases):
    pass


class TestUserAdminOnPostgres(OnPostgres, UserAdminCases):
    pass


class TestAuditReadOnPostgres(OnPostgres, AuditReadCases):
    pass


class TestScopeQueriesOnPostgres(OnPostgres, ScopeQueryCases):
    pass


class TestAlertsOnPostgres(OnPostgres, AlertCases):
    pass


class TestAuditChainOnPostgres(OnPostgres, AuditChainCases):
    pass


class TestRegistryOnPostgres(OnPostgres, RegistryCases):
    pass


class TestCommandsOnPostgres(OnPostgres, CommandCases):
    pass


class TestCommandsWithoutBrokerOnPostgres(OnPostgres, NoBrokerCases):
    pass


class TestConcurrentLoginsOnPostgres(OnPostgres):
    def test_concurrent_failures_all_count(self, api: Api) -> None:
        """Failed logins racing each other each lock the user row in turn (FOR UPDATE): none
        is lost, so a burst cannot get more than max_failed_logins guesses in."""
        api.seed_user("target", [Role.SECURITY], ["guangsha"])

        def guess(i: int) -> int:
            data = {"username": "target", "password": f"guess-{i}"}
            return api.client.post("/api/v1/auth/token", data=data).status_code

        with ThreadPoolExecutor(4) as pool:
            assert set(pool.map(guess, range(4))) == {401}
        with api.services.database.read_session() as session:
            user = session.scalars(select(UserRow)).one()
            failures = session.scalars(
                select(AuditLogRow).where(AuditLogRow.action == "auth.login")
            ).all()
        assert user.failed_logins == 4
        assert len(failures) == 4
        assert user.locked_until is None
        assert (
            api.client.post(
                "/api/v1/auth/token", data={"username": "target", "password": "last"}
            ).status_code
            == 401
        )
        with api.services.database.read_session() as session:
            assert session.scalars(select(UserRow.locked_until)).one() is not None
