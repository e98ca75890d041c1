"""The command store on PostgreSQL: the same cases as on SQLite (tests/statedb_cases/commands.py),
where row locks and SKIP LOCKED really run concurrently."""

import pytest

from tests.statedb_cases.commands import CommandStoreCases

pytestmark = pytest.mark.integration


class TestCommandStoreOnPostgres(CommandStoreCases):
    @pytest.fixture
    def state_db_url(self, postgres_state_db_url: str) -> str:
        return postgres_state_db_url
