"""The command store on SQLite (a database file, so that several engines share it)."""

import pytest

from tests.statedb_cases.commands import CommandStoreCases


class TestCommandStoreOnSqlite(CommandStoreCases):
    @pytest.fixture
    def state_db_url(self, sqlite_state_db_url: str) -> str:
        return sqlite_state_db_url
