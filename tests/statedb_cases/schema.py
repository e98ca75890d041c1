"""The schema: migrations agree with the models, and the database itself enforces the rules."""

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import insert, inspect, select
from sqlalchemy.exc import IntegrityError

from hgj_statedb.alert_store import AlertStore
from hgj_statedb.models import NO_DEVICE, AlertRow
from hgj_statedb.schema import metadata
from tests.statedb_fixtures import T0, signal


def _alert_row(alert_id: str, state: str, device: str = "gs-b01-smoke") -> dict[str, object]:
    return {
        "id": alert_id,
        "community": "guangsha",
        "device": device,
        "rule": "smoke",
        "severity": "critical",
        "state": state,
        "acknowledged": False,
        "count": 1,
        "raised_at": T0,
        "last_raised_at": T0,
        "last_event_time": T0,
        "message": "x",
        "escalation_level": 0,
        "updated_at": T0,
    }


def _normalised(where: str) -> str:
    """A WHERE clause without what PostgreSQL adds when it reflects one (casts, brackets)."""
    return re.sub(r"[()\s]", "", where.lower().replace("::text", ""))


class SchemaCases:
    def test_migrations_match_the_models(self, store: AlertStore) -> None:
        with store.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
            # Alembic does not compare the WHERE of partial indexes: compare them here.
            inspector = inspect(connection)
            reflected = {
                ix["name"]: ix for table in metadata.tables for ix in inspector.get_indexes(table)
            }
        dialect = store.engine.dialect.name
        partial = {
            ix.name: str(ix.dialect_options[dialect]["where"])
            for table in metadata.tables.values()
            for ix in table.indexes
            if ix.dialect_options[dialect]["where"] is not None
        }
        assert set(partial) == {
            "ux_alerts_one_active",
            "ix_alert_events_unpublished",
            "ix_alert_events_unexported",
        }
        for name, where in partial.items():
            found = reflected[name]["dialect_options"].get(f"{dialect}_where")
            assert _normalised(str(found)) == _normalised(where), name
        assert reflected["ux_alerts_one_active"]["unique"]

    def test_the_database_refuses_a_second_active_alert_for_a_key(self, store: AlertStore) -> None:
        with store.engine.begin() as connection:
            connection.execute(insert(AlertRow), [_alert_row("a-1", "active")])
        with pytest.raises(IntegrityError), store.engine.begin() as connection:
            connection.execute(insert(AlertRow), [_alert_row("a-2", "active")])

    def test_cleared_alerts_may_repeat_a_key(self, store: AlertStore) -> None:
        with store.engine.begin() as connection:
            connection.execute(
                insert(AlertRow),
                [
                    _alert_row("a-1", "cleared"),
                    _alert_row("a-2", "cleared"),
                    _alert_row("a-3", "active"),
                ],
            )

    def test_community_wide_alerts_are_one_active_per_rule_too(self, store: AlertStore) -> None:
        # A NULL device would be distinct from every other NULL and escape the unique index.
        with store.engine.begin() as connection:
            connection.execute(insert(AlertRow), [_alert_row("a-1", "active", NO_DEVICE)])
        with pytest.raises(IntegrityError), store.engine.begin() as connection:
            connection.execute(insert(AlertRow), [_alert_row("a-2", "active", NO_DEVICE)])

    def test_timestamps_come_back_aware_and_in_utc(self, store: AlertStore) -> None:
        beijing = timezone(timedelta(hours=8))
        change = store.apply(replace(signal("raise", 0), event_time=T0.astimezone(beijing)))
        assert change is not None
        stored = store.get(change.alert.alert_id)
        assert stored is not None
        assert stored.raised_at == T0
        assert stored.raised_at.tzinfo is UTC
        assert stored.updated_at.tzinfo is UTC
        with store.engine.connect() as connection:
            raw = connection.execute(select(AlertRow.raised_at)).scalar_one()
        assert raw.tzinfo is UTC

    def test_naive_event_times_are_refused(self, store: AlertStore) -> None:
        naive = replace(signal("raise", 0), event_time=datetime(2026, 11, 27, 8, 0))
        with pytest.raises(ValueError, match="no time zone"):
            store.apply(naive)
