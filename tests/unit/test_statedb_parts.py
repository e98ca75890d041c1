"""The state database's parts on their own: ordering rules, escalation steps, ids, engines."""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Literal

import pytest
from pydantic import ValidationError
from sqlalchemy import text

from hgj_contracts.ids import is_identifier
from hgj_statedb.alert_store import AlertStore
from hgj_statedb.db import make_engine, migrate, normalise_url
from hgj_statedb.escalation import DEFAULT_POLICY, EscalationPolicy, SeverityEscalation, next_step
from hgj_statedb.ids import new_alert_id
from hgj_statedb.models import EVENT_KINDS
from hgj_statedb.ordering import Outcome, decide
from hgj_statedb.views import PAYLOAD_CHANGE
from tests.statedb_fixtures import at, signal


@pytest.mark.parametrize(
    ("kind", "seconds", "cleared_through", "active_last_raised", "outcome"),
    [
        ("raise", 5, None, None, "raise"),
        ("raise", 5, 10, None, "stale"),  # a late raise after a clear
        ("raise", 10, 10, None, "stale"),  # a tie: the clear wins
        ("raise", 11, 10, None, "raise"),
        ("raise", 5, None, 9, "repeat"),  # a late repeat still counts
        ("raise", 12, 10, 11, "repeat"),
        ("clear", 5, None, None, "record"),  # nothing active: remember the horizon
        ("clear", 5, None, 9, "superseded"),  # the condition held again at 9
        ("clear", 9, None, 9, "clear"),
        ("clear", 12, None, 9, "clear"),
    ],
)
def test_event_time_ordering_rules(
    kind: Literal["raise", "clear"],
    seconds: int,
    cleared_through: int | None,
    active_last_raised: int | None,
    outcome: Outcome,
) -> None:
    assert (
        decide(
            kind,
            at(seconds),
            None if cleared_through is None else at(cleared_through),
            None if active_last_raised is None else at(active_last_raised),
        )
        == outcome
    )


def test_escalation_steps_up_the_chain_then_reminds_the_last() -> None:
    chain = DEFAULT_POLICY.severities["critical"]
    assert chain.responders == ("guard_on_duty", "security_supervisor", "property_manager")
    assert next_step(0, chain) == (1, "escalated")
    assert next_step(1, chain) == (2, "escalated")
    assert next_step(2, chain) == (2, "reminded")
    assert set(DEFAULT_POLICY.severities) == {"critical", "major"}


def test_escalation_policy_is_validated_config() -> None:
    policy = EscalationPolicy.model_validate(
        {
            "severities": {
                "critical": {"ack_window": "PT2M", "reminder_interval": 90, "responders": ["g"]}
            }
        }
    )
    chain = policy.severities["critical"]
    assert (chain.ack_window, chain.reminder_interval) == (
        timedelta(minutes=2),
        timedelta(seconds=90),
    )
    bad = [
        {"ack_window": 60, "reminder_interval": 60, "responders": ["g"], "typo": 1},
        {"ack_window": 0, "reminder_interval": 60, "responders": ["g"]},
        {"ack_window": 60, "reminder_interval": 60, "responders": []},
        {"ack_window": 60, "reminder_interval": 60, "responders": ["Not An Id"]},
    ]
    for entry in bad:
        with pytest.raises(ValidationError):
            SeverityEscalation.model_validate(entry)
    with pytest.raises(ValidationError):
        EscalationPolicy.model_validate({"severities": {"urgent": bad[0]}})


def test_every_timeline_kind_has_a_contract_change() -> None:
    assert set(PAYLOAD_CHANGE) == set(EVENT_KINDS)


def test_alert_ids_fit_the_contract_and_do_not_repeat() -> None:
    ids = [new_alert_id() for _ in range(1000)]
    assert all(is_identifier(i) and len(i) == 28 for i in ids)
    assert len(set(ids)) == len(ids)


def test_sqlite_connections_are_configured(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 's.db'}")
    try:
        with engine.connect() as connection:
            pragmas = {
                name: connection.execute(text(f"PRAGMA {name}")).scalar()
                for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
            }
        assert pragmas == {
            "journal_mode": "wal",
            "foreign_keys": 1,
            "busy_timeout": 30_000,
            "synchronous": 2,  # FULL: an acknowledged alert survives a power cut
        }
    finally:
        engine.dispose()


def test_urls() -> None:
    assert normalise_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert normalise_url("sqlite:///x.db").drivername == "sqlite"
    with pytest.raises(ValueError, match="unsupported"):
        make_engine("mysql://u@h/db")


def test_migrating_twice_is_harmless(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    migrate(url)
    migrate(url)
    store = AlertStore.open(url)
    try:
        assert store.apply(signal("raise", 0)) is not None
    finally:
        store.close()


def test_workers_starting_together_migrate_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(migrate, [url] * 4))
    store = AlertStore.open(url, run_migrations=False)
    try:
        assert store.list_alerts() == []
    finally:
        store.close()


def test_an_in_memory_database_serves_threads_on_one_engine() -> None:
    store = AlertStore.open("sqlite://")
    try:
        signals = [signal("raise", n) for n in range(200)]
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(store.apply, signals))
        (alert,) = store.list_alerts()
        assert alert.count == 200
    finally:
        store.close()


def test_naive_times_are_refused_everywhere() -> None:
    store = AlertStore.open("sqlite://")
    try:
        naive = at(0).replace(tzinfo=None)
        with pytest.raises(ValueError, match="time zone"):
            store.due_escalations(naive, DEFAULT_POLICY)
    finally:
        store.close()
