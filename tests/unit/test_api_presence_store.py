"""The registry's presence guard on its own: newer event time wins, an offline status wins a
tie with an online one (a last will shares its session's online ``ts``), repeats change
nothing, unregistered devices are left alone."""

from collections.abc import Iterator

import pytest

from hgj_api.database import Database
from hgj_api.presence.store import PresenceUpdate, apply_presence
from hgj_statedb.models import DeviceRow
from tests.statedb_fixtures import T0, at

GS, GATE = "guangsha", "gs-gate-n"


@pytest.fixture
def database(sqlite_state_db_url: str) -> Iterator[Database]:
    database = Database.open(sqlite_state_db_url)
    database.migrate()
    with database.write_session() as session, session.begin():
        session.add(DeviceRow(community=GS, device=GATE, created_at=T0, updated_at=T0))
    yield database
    database.close()


def _status(database: Database) -> tuple[bool | None, str | None, object]:
    with database.read_session() as session:
        row = session.get(DeviceRow, (GS, GATE))
        assert row is not None
        return row.online, row.status_reason, row.status_at


def _apply(database: Database, online: bool, reason: str, seconds: float) -> bool:
    update = PresenceUpdate(GS, GATE, online, reason, at(seconds))
    return apply_presence(database.engine, update)


def test_newer_wins_older_and_repeats_do_not(database: Database) -> None:
    assert _apply(database, True, "startup", 10)
    assert not _apply(database, True, "startup", 10)  # the same status again
    assert not _apply(database, False, "shutdown", 5)  # older
    assert _status(database) == (True, "startup", at(10))
    assert _apply(database, False, "shutdown", 11)
    assert _status(database) == (False, "shutdown", at(11))


def test_at_equal_times_offline_beats_online(database: Database) -> None:
    assert _apply(database, True, "startup", 10)
    assert _apply(database, False, "connection_lost", 10)  # the will of that session
    assert not _apply(database, True, "startup", 10)  # its online status redelivered
    assert _status(database) == (False, "connection_lost", at(10))


def test_an_unregistered_device_is_not_created(database: Database) -> None:
    update = PresenceUpdate(GS, "gs-unknown", True, "startup", at(1))
    assert not apply_presence(database.engine, update)
