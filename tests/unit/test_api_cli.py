"""``python -m hgj_api create-admin``: the first admin, from a prompt or the environment."""

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from hgj_api import accounts
from hgj_api.cli import app
from hgj_statedb.db import make_engine
from hgj_statedb.models import AuditLogRow, UserRow

STRONG = "first admin passphrase 2026"


@pytest.fixture
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    monkeypatch.setenv("HGJ_API_STATE_DB_URL", url)
    return url


def _users(url: str) -> list[tuple[str, bool, list[str], list[str]]]:
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            return [
                (
                    user.username,
                    user.all_communities,
                    sorted(accounts.roles_of(user)),
                    sorted(accounts.communities_of(user)),
                )
                for user in session.scalars(select(UserRow))
            ]
    finally:
        engine.dispose()


def _audit(url: str) -> list[tuple[str, str | None]]:
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            rows = session.scalars(select(AuditLogRow))
            return [(row.action, row.actor_username) for row in rows]
    finally:
        engine.dispose()


def test_create_admin_from_a_prompt(db_url: str) -> None:
    result = CliRunner().invoke(
        app, ["create-admin", "--username", "HQ.Admin"], input=f"{STRONG}\n{STRONG}\n"
    )
    assert result.exit_code == 0, result.output
    assert "created admin hq.admin" in result.output
    assert STRONG not in result.output
    assert _users(db_url) == [("hq.admin", True, ["admin"], [])]
    assert _audit(db_url) == [("user.create", "(cli)")]


def test_create_a_community_admin_from_the_environment(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HGJ_ADMIN_PASSWORD", STRONG)
    args = ["create-admin", "--username", "gs.admin", "--community", "guangsha"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert _users(db_url) == [("gs.admin", False, ["admin"], ["guangsha"])]
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 1
    assert "taken" in again.output
    bad = CliRunner().invoke(app, ["create-admin", "--username", "x", "--community", "Guang Sha"])
    assert bad.exit_code == 1
    assert "community 'Guang Sha' is not an id" in bad.output
    spaced = CliRunner().invoke(app, ["create-admin", "--username", "hq admin"])
    assert spaced.exit_code == 1
    assert [name for name, *_ in _users(db_url)] == ["gs.admin"]


def test_weak_passwords_are_refused(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HGJ_ADMIN_PASSWORD", "admin")
    result = CliRunner().invoke(app, ["create-admin", "--username", "admin"])
    assert result.exit_code == 2
    assert "at least 12 characters" in result.output
    assert not (tmp_path / "state.db").exists()  # refused before touching the database
