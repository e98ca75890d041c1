"""The audit log's hash chain: an intact log verifies, and editing, deleting or inserting a
record is found where it happened; writers racing each other never fork the chain; records
written before the chain existed are chained by the migration; and who may ask."""

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from itertools import pairwise
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import Connection, Engine, delete, insert, select, text, update
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from hgj_api.audit import Actor
from hgj_api.cli import app as cli
from hgj_api.security.permissions import Role
from hgj_statedb.audit_chain import GENESIS_HASH, record_hash, verify_chain
from hgj_statedb.db import alembic_config, migrate, write_engine
from hgj_statedb.migrations.versions.r0005_audit_chain import create_append_only_triggers
from hgj_statedb.models import AuditChainHeadRow, AuditLogRow
from hgj_statedb.utc import UtcDateTime
from tests.api_support import Api
from tests.statedb_fixtures import T0

VERIFY = "/api/v1/audit/verify"
GUARD = Actor("u-guard", "guard")


def _write(api: Api, count: int, community: str = "guangsha") -> None:
    """``count`` records, one transaction each (as requests write them)."""
    for i in range(count):
        with api.services.database.write_session() as session, session.begin():
            api.services.audit.record(
                session,
                "alert.ack",
                actor=GUARD,
                target=("alert", f"a-{i}"),
                community=community,
                detail={"note": f"第{i}条", "roles": (Role.SECURITY,)},
            )


def _rows(api: Api) -> list[AuditLogRow]:
    with api.services.database.read_session() as session:
        return list(session.scalars(select(AuditLogRow).order_by(AuditLogRow.seq)))


def _verify(api: Api) -> Any:
    with api.services.database.read_session() as session:
        return verify_chain(session, batch_size=3)  # small batches: pages are walked too


@contextmanager
def tampering(engine: Engine) -> Iterator[None]:
    """Lift the append-only triggers, as someone with the database owner's rights could, and
    put them back (the PostgreSQL database is shared by the module's tests)."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
        else:
            connection.execute(text("DROP TRIGGER audit_log_no_update"))
            connection.execute(text("DROP TRIGGER audit_log_no_delete"))
    try:
        yield
    finally:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(
                    text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")
                )
            else:
                _recreate_sqlite_triggers(connection)


def _recreate_sqlite_triggers(connection: Connection) -> None:
    with Operations.context(MigrationContext.configure(connection)):
        create_append_only_triggers()


class AuditChainCases:
    def test_an_intact_chain_verifies(self, api: Api) -> None:
        api.seed_user("hq.admin", [Role.ADMIN])
        api.login("hq.admin")
        _write(api, 5)
        rows = _rows(api)
        assert [r.seq for r in rows] == [1, 2, 3, 4, 5, 6]
        assert rows[0].prev_hash == GENESIS_HASH
        assert all(b.prev_hash == a.hash for a, b in pairwise(rows))
        assert [r.id for r in rows] == sorted(r.id for r in rows)  # commit order is id order
        assert rows[1].detail == {"note": "第0条", "roles": ["security"]}
        report = _verify(api)
        assert (report.intact, report.records) == (True, 6)
        assert (report.head_seq, report.head_hash) == (6, rows[-1].hash)

    def test_the_database_refuses_updates_and_deletes(self, api: Api) -> None:
        _write(api, 2)
        engine = api.services.database.engine
        for statement in (
            update(AuditLogRow).where(AuditLogRow.seq == 1).values(outcome="failure"),
            delete(AuditLogRow).where(AuditLogRow.seq == 2),
        ):
            with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
                connection.execute(statement)
        assert _verify(api).intact

    def test_an_edited_field_is_found(self, api: Api) -> None:
        _write(api, 5)
        with tampering(api.services.database.engine), api.services.database.engine.begin() as c:
            c.execute(
                update(AuditLogRow).where(AuditLogRow.seq == 3).values(actor_username="nobody")
            )
        report = _verify(api)
        assert not report.intact
        assert report.first_break is not None
        assert (report.first_break.seq, report.records) == (3, 2)
        assert report.first_break.record_id == _rows(api)[2].id
        assert "content was changed" in report.first_break.problem

    def test_an_edited_record_with_a_recomputed_hash_breaks_the_next_link(self, api: Api) -> None:
        _write(api, 4)
        third = _rows(api)[2]
        forged = {c: getattr(third, c) for c in ("seq", "ts", "actor_id", "action")}
        values = {
            **forged,
            "actor_username": "nobody",
            "target_type": third.target_type,
            "target_id": third.target_id,
            "community": third.community,
            "outcome": third.outcome,
            "detail": third.detail,
            "request_id": None,
            "client_ip": None,
        }
        with tampering(api.services.database.engine), api.services.database.engine.begin() as c:
            c.execute(
                update(AuditLogRow)
                .where(AuditLogRow.seq == 3)
                .values(actor_username="nobody", hash=record_hash(third.prev_hash, values))
            )
        found = _verify(api).first_break
        assert found is not None
        assert found.seq == 4
        assert "does not link to record 3" in found.problem

    def test_a_deleted_record_is_found(self, api: Api) -> None:
        _write(api, 5)
        engine = api.services.database.engine
        with tampering(engine), engine.begin() as connection:
            connection.execute(delete(AuditLogRow).where(AuditLogRow.seq == 2))
        found = _verify(api).first_break
        assert found is not None
        assert (found.seq, found.record_id) == (2, None)
        assert "records 2..2 are missing" in found.problem

    def test_deleting_the_newest_records_is_found(self, api: Api) -> None:
        _write(api, 5)
        engine = api.services.database.engine
        with tampering(engine), engine.begin() as connection:
            connection.execute(delete(AuditLogRow).where(AuditLogRow.seq >= 4))
        report = _verify(api)
        assert report.first_break is not None
        assert (report.records, report.first_break.seq) == (3, 4)
        assert "records 4..5 are missing" in report.first_break.problem

    def test_a_forged_record_at_the_end_is_found(self, api: Api) -> None:
        # Even with a correct hash: the head was not moved, which only the writer does.
        _write(api, 3)
        last = _rows(api)[-1]
        values = {
            "seq": 4,
            "ts": T0,
            "actor_id": None,
            "actor_username": "(cli)",
            "action": "user.create",
            "target_type": "user",
            "target_id": "u-intruder",
            "community": None,
            "outcome": "success",
            "detail": {},
            "request_id": None,
            "client_ip": None,
        }
        with api.services.database.engine.begin() as connection:  # an INSERT: no trigger
            connection.execute(
                insert(AuditLogRow).values(
                    **values, prev_hash=last.hash, hash=record_hash(last.hash, values)
                )
            )
        found = _verify(api).first_break
        assert found is not None
        assert found.seq == 4
        assert found.record_id == _rows(api)[-1].id
        assert "without moving the chain head" in found.problem

    def test_a_forged_record_in_the_middle_is_found(self, api: Api) -> None:
        _write(api, 4)
        engine = api.services.database.engine
        second = _rows(api)[1]
        values = {
            "seq": 3,
            "ts": second.ts + timedelta(seconds=1),
            "actor_id": None,
            "actor_username": "(cli)",
            "action": "user.unlock",
            "target_type": "user",
            "target_id": "u-intruder",
            "community": None,
            "outcome": "success",
            "detail": {},
            "request_id": None,
            "client_ip": None,
        }
        with tampering(engine), engine.begin() as connection:
            # Make room after record 2 (from the end, so seq stays unique), then slip it in.
            for seq in (4, 3):
                connection.execute(
                    update(AuditLogRow).where(AuditLogRow.seq == seq).values(seq=seq + 1)
                )
            connection.execute(
                insert(AuditLogRow).values(
                    **values, prev_hash=second.hash, hash=record_hash(second.hash, values)
                )
            )
        found = _verify(api).first_break
        assert found is not None
        assert found.seq == 4  # the forged record 3 fits; the moved record 4 no longer links
        assert "does not link to record 3" in found.problem

    def test_concurrent_writers_never_fork_the_chain(self, api: Api) -> None:
        def write(worker: int) -> None:
            for i in range(10):
                with api.services.database.write_session() as session, session.begin():
                    api.services.audit.record(
                        session, "alert.note", actor=GUARD, target=("alert", f"a-{worker}-{i}")
                    )

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(write, range(4)))
        rows = _rows(api)
        assert [r.seq for r in rows] == list(range(1, 41))
        assert len({r.prev_hash for r in rows}) == 40  # no two records extend the same one
        assert _verify(api).intact

    def test_a_rolled_back_transaction_leaves_no_record_and_no_gap(self, api: Api) -> None:
        _write(api, 1)
        with api.services.database.write_session() as session:
            session.begin()
            api.services.audit.record(session, "alert.ack", actor=GUARD)
            session.rollback()
            with session.begin():  # the same session goes on: nothing left over is sealed
                api.services.audit.record(session, "alert.resolve", actor=GUARD)
        assert [(r.seq, r.action) for r in _rows(api)] == [(1, "alert.ack"), (2, "alert.resolve")]
        assert _verify(api).intact

    def test_records_written_before_the_chain_are_chained_by_the_migration(self, api: Api) -> None:
        engine = api.services.database.engine
        config = alembic_config()
        with write_engine(engine).begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "r0004_commands")
        try:
            before_chain = sa.table(
                "audit_log",
                sa.column("ts", UtcDateTime()),
                sa.column("action", sa.String()),
                sa.column("outcome", sa.String()),
                sa.column("detail", sa.JSON()),
                sa.column("actor_username", sa.String()),
            )
            with engine.begin() as connection:
                connection.execute(sa.delete(before_chain))
                for i in range(3):
                    connection.execute(
                        sa.insert(before_chain).values(
                            ts=T0 + timedelta(seconds=i),
                            action="auth.login",
                            outcome="success",
                            detail={"n": i, "名": "李"},
                            actor_username=f"user{i}",
                        )
                    )
        finally:
            migrate(engine)  # back to head, whatever happened (PostgreSQL shares the database)
        rows = _rows(api)
        assert [(r.seq, r.actor_username) for r in rows] == [
            (1, "user0"),
            (2, "user1"),
            (3, "user2"),
        ]
        report = _verify(api)
        assert (report.intact, report.head_seq) == (True, 3)
        _write(api, 1)  # and the chain goes on from there
        assert [r.seq for r in _rows(api)] == [1, 2, 3, 4]
        assert _verify(api).intact
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
            connection.execute(delete(AuditLogRow))

    def test_who_may_verify(self, api: Api) -> None:
        api.seed_user("hq.admin", [Role.ADMIN])
        api.seed_user("hq.po", [Role.PRIVACY_OFFICER])
        api.seed_user("gs.admin", [Role.ADMIN], ["guangsha"])
        api.seed_user("hq.guard", [Role.SECURITY])
        for name in ("hq.admin", "hq.po"):
            answer = api.client.get(VERIFY, headers=api.headers_for(name))
            assert answer.status_code == 200
            assert answer.json()["intact"] is True
        assert api.client.get(VERIFY, headers=api.headers_for("gs.admin")).status_code == 403
        assert api.client.get(VERIFY, headers=api.headers_for("hq.guard")).status_code == 403
        assert api.client.get(VERIFY).status_code == 401
        engine = api.services.database.engine
        with tampering(engine), engine.begin() as connection:
            connection.execute(delete(AuditLogRow).where(AuditLogRow.seq == 1))
        broken = api.client.get(VERIFY, headers=api.headers_for("hq.po")).json()
        assert broken["intact"] is False
        assert broken["first_break"]["seq"] == 1
        listed = api.client.get("/api/v1/audit", headers=api.headers_for("hq.po")).json()
        assert listed["items"][0]["seq"] == broken["head_seq"] + 1  # the login just now

    def test_the_cli_reports_the_first_broken_link(
        self, api: Api, state_db_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("HGJ_API_STATE_DB_URL", state_db_url)
        _write(api, 3)
        runner = CliRunner()
        intact = runner.invoke(cli, ["verify-audit"])
        assert intact.exit_code == 0, intact.output
        assert "records checked: 3" in intact.output
        assert intact.output.rstrip().endswith("intact")
        engine = api.services.database.engine
        with tampering(engine), engine.begin() as connection:
            connection.execute(
                update(AuditLogRow).where(AuditLogRow.seq == 2).values(outcome="denied")
            )
        broken = runner.invoke(cli, ["verify-audit"])
        assert broken.exit_code == 1
        assert f"BROKEN at seq 2 (id {_rows(api)[1].id})" in broken.output
        with api.services.database.read_session() as session:
            head = session.get(AuditChainHeadRow, 1)
            assert head is not None
            assert f"chain head: seq 3, hash {head.hash}" in broken.output
