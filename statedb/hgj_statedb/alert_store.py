"""The alert store: the alert lifecycle as short database transactions.

Every public method is one transaction and returns frozen snapshots (``AlertChange``,
``AlertView``), never live ORM objects, so callers can publish them after the commit. Every
change is also written, in the same transaction, to the outbox (``alert_events``), so a change
whose announcement was lost in a crash can be found and announced again (``undelivered``).

Concurrency (several ingest workers, the API, an escalation ticker, each with its own engine or
sharing one): every write path takes its locks in the same order (stream row, then alert row),
so there are no deadlocks to retry, and checks happen under the lock, so no IntegrityError
reaches the caller:

- PostgreSQL (READ COMMITTED): ``apply`` and ``resolve`` lock the (community, device, rule)
  row of ``alert_streams`` with ``SELECT ... FOR UPDATE`` (creating it, the first time, with
  ``INSERT ... ON CONFLICT DO NOTHING``, which waits for a concurrent inserter instead of
  failing); each later statement then sees what the previous holder committed. Human actions
  lock the alert row. The escalation tick uses ``FOR UPDATE SKIP LOCKED`` so that two tickers
  never fire the same escalation twice.
- SQLite: write transactions start with BEGIN IMMEDIATE (see ``hgj_statedb.db``), which
  serialises writers on the whole database; the FOR UPDATE clauses are not rendered.
"""

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Final, Literal

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from hgj_contracts import ALERT, Severity
from hgj_contracts.ids import check_identifier
from hgj_statedb.escalation import EscalationPolicy, next_step
from hgj_statedb.ids import new_alert_id
from hgj_statedb.models import (
    NO_DEVICE,
    AlertEventRow,
    AlertRow,
    AlertState,
    AlertStreamRow,
    EventKind,
)
from hgj_statedb.ordering import decide
from hgj_statedb.signals import AlertSignal
from hgj_statedb.store_base import EngineStore
from hgj_statedb.utc import require_utc
from hgj_statedb.views import AlertChange, AlertView, OutboxEntry, TimelineEntry, alert_payload

MAX_PAGE: Final = 1000
MAX_SIGNAL_ID: Final = 255

Sink = Literal["mqtt", "influx"]
"""Where changes are delivered: the alert topic, and InfluxDB's ``alerts`` measurement."""
_SINK_COLUMNS: Final = {"mqtt": AlertEventRow.published_at, "influx": AlertEventRow.exported_at}


class AlertNotFoundError(LookupError):
    def __init__(self, alert_id: str) -> None:
        super().__init__(f"no alert {alert_id!r}")
        self.alert_id = alert_id


class AlertStore(EngineStore):
    """Alerts in one state database. Thread-safe: share one store per process.

    ``clock`` gives the wall-clock time of writes (``recorded_at``, ``updated_at``); event
    times always come from the caller.
    """

    @contextmanager
    def _transaction(self, session: Session | None = None) -> Iterator[Session]:
        """A transaction of its own, or the caller's ``session`` (which the caller commits:
        the API records the audit entry of a human action in the same transaction)."""
        if session is not None:
            yield session
            return
        with self._writes.begin() as own:
            yield own

    # Signals from the rule engine.

    def apply(self, signal: AlertSignal) -> AlertChange | None:
        """Apply a raise or clear; the change to publish, or None when nothing changed
        (a duplicate ``signal_id``, a stale or superseded signal, a clear with nothing active).
        See ``hgj_statedb.ordering`` for the event-time rules."""
        _check_signal(signal)
        at = require_utc(signal.event_time, "event_time")
        device = signal.device if signal.device is not None else NO_DEVICE
        with self._transaction() as session:
            stream = _lock_stream(session, signal.community, device, signal.rule)
            if _already_applied(session, stream, signal.signal_id):
                return None
            active = session.scalars(
                select(AlertRow)
                .where(*_key_is(stream), AlertRow.state == "active")
                .with_for_update()
            ).one_or_none()
            outcome = decide(
                signal.kind,
                at,
                stream.cleared_through,
                active.last_raised_at if active is not None else None,
            )
            now = self._clock()
            if outcome == "raise":
                active = AlertRow(
                    id=new_alert_id(),
                    community=stream.community,
                    device=stream.device,
                    rule=stream.rule,
                    severity=signal.severity,
                    state="active",
                    acknowledged=False,
                    count=1,
                    raised_at=at,
                    last_raised_at=at,
                    last_event_time=at,
                    message=signal.message,
                    escalation_level=0,
                    updated_at=now,
                )
                session.add(active)
                return self._record(session, active, "raised", at, signal_id=signal.signal_id)
            if outcome == "repeat":
                assert active is not None
                if at >= active.last_raised_at:
                    # The latest raise describes the alert (a per-community override may have
                    # changed the severity, a threshold rule's text may carry the new value).
                    active.severity = signal.severity
                    active.message = signal.message
                active.count += 1
                active.raised_at = min(active.raised_at, at)
                active.last_raised_at = max(active.last_raised_at, at)
                active.last_event_time = max(active.last_event_time, at)
                active.updated_at = now
                return self._record(session, active, "repeated", at, signal_id=signal.signal_id)
            if outcome == "clear":
                assert active is not None
                _clear(active, at, now)
                stream.cleared_through = _latest(stream.cleared_through, at)
                return self._record(session, active, "cleared", at, signal_id=signal.signal_id)
            if outcome == "record":
                stream.cleared_through = _latest(stream.cleared_through, at)
            return None  # stale, superseded, or recorded: nothing to announce

    # Human actions (the API). Each runs in its own transaction, or in the caller's
    # ``session`` when given; the returned change is then announced only after that commits.

    def acknowledge(
        self,
        alert_id: str,
        user: str,
        at: datetime,
        note: str | None = None,
        *,
        session: Session | None = None,
    ) -> AlertChange | None:
        """Acknowledge (stops escalation); None if it already was acknowledged."""
        check_identifier(user, "user")
        at = require_utc(at)
        with self._transaction(session) as session:
            alert = _lock_alert(session, alert_id)
            if alert.acknowledged:
                return None
            alert.acknowledged = True
            alert.acknowledged_by = user
            alert.acknowledged_at = at
            alert.next_escalation_at = None
            alert.updated_at = self._clock()
            return self._record(session, alert, "acknowledged", at, actor=user, note=note)

    def assign(
        self,
        alert_id: str,
        assignee: str | None,
        by: str,
        at: datetime,
        *,
        session: Session | None = None,
    ) -> AlertChange | None:
        """Assign to ``assignee`` (None unassigns); None if already so. The timeline entry's
        ``note`` holds the new assignee."""
        if assignee is not None:
            check_identifier(assignee, "assignee")
        check_identifier(by, "user")
        at = require_utc(at)
        with self._transaction(session) as session:
            alert = _lock_alert(session, alert_id)
            if alert.assignee == assignee:
                return None
            alert.assignee = assignee
            alert.updated_at = self._clock()
            return self._record(session, alert, "assigned", at, actor=by, note=assignee)

    def add_note(
        self,
        alert_id: str,
        author: str,
        text: str,
        at: datetime,
        *,
        key: str | None = None,
        session: Session | None = None,
    ) -> AlertChange | None:
        """Append a note to the timeline. Without ``key`` every call appends one; with a key
        (the client's idempotency key) a repeat of the same author's key appends nothing and
        returns None, so a request retried after a lost answer does not note twice."""
        check_identifier(author, "author")
        at = require_utc(at)
        event_key = None if key is None else _note_key(author, key)
        with self._transaction(session) as session:
            alert = _lock_alert(session, alert_id)
            if event_key is not None and _has_event_key(session, alert_id, event_key):
                return None
            alert.updated_at = self._clock()
            return self._record(
                session, alert, "noted", at, actor=author, note=text, signal_id=event_key
            )

    def resolve(
        self,
        alert_id: str,
        by: str,
        at: datetime,
        note: str | None = None,
        *,
        session: Session | None = None,
    ) -> AlertChange | None:
        """Clear an active alert by hand (rules without a clear condition, a false alarm);
        None if it is not active. Raises up to ``at`` (and those already counted) are then
        stale, like after an automatic clear."""
        check_identifier(by, "user")
        at = require_utc(at)
        with self._transaction(session) as session:
            found = session.get(AlertRow, alert_id)
            if found is None:
                raise AlertNotFoundError(alert_id)
            # Same lock order as apply: the stream first, then the alert.
            stream = _lock_stream(session, found.community, found.device, found.rule)
            alert = _lock_alert(session, alert_id)
            if alert.state != "active":
                return None
            _clear(alert, at, self._clock())
            horizon = max(at, alert.last_raised_at)
            stream.cleared_through = _latest(stream.cleared_through, horizon)
            return self._record(session, alert, "cleared", at, actor=by, note=note)

    # Escalation (a periodic tick in ingest).

    def due_escalations(self, now: datetime, policy: EscalationPolicy) -> list[AlertChange]:
        """Escalate every active, unacknowledged alert whose escalation is due at ``now``;
        the changes to publish (``change == "escalated"``, ``responder`` set)."""
        now = require_utc(now, "now")
        changes = []
        with self._transaction() as session:
            for severity, chain in policy.severities.items():
                first_due = and_(
                    AlertRow.next_escalation_at.is_(None),
                    AlertRow.raised_at <= now - chain.ack_window,
                )
                due = session.scalars(
                    select(AlertRow)
                    .where(
                        AlertRow.state == "active",
                        AlertRow.acknowledged.is_(False),
                        AlertRow.severity == severity,
                        or_(first_due, AlertRow.next_escalation_at <= now),
                    )
                    .order_by(AlertRow.raised_at, AlertRow.id)
                    .with_for_update(skip_locked=True)
                ).all()
                for alert in due:
                    level, kind = next_step(alert.escalation_level, chain)
                    responder = chain.responders[level]
                    alert.escalation_level = level
                    alert.next_escalation_at = now + chain.reminder_interval
                    alert.updated_at = self._clock()
                    changes.append(self._record(session, alert, kind, now, actor=responder))
        return changes

    # Queries (the API).

    def get(self, alert_id: str) -> AlertView | None:
        with self._reads() as session:
            row = session.get(AlertRow, alert_id)
            return None if row is None else AlertView.of(row)

    def timeline(self, alert_id: str) -> list[TimelineEntry]:
        """The alert's events in event-time order (then in the order they were recorded)."""
        with self._reads() as session:
            rows = session.scalars(
                select(AlertEventRow)
                .where(AlertEventRow.alert_id == alert_id)
                .order_by(AlertEventRow.at, AlertEventRow.id)
            )
            return [TimelineEntry.of(row) for row in rows]

    def active_counts(self) -> dict[tuple[str, Severity], int]:
        """Active alerts per (community, severity): the header of a guard's screen."""
        query = (
            select(AlertRow.community, AlertRow.severity, func.count())
            .where(AlertRow.state == "active")
            .group_by(AlertRow.community, AlertRow.severity)
        )
        with self._reads() as session:
            return {(c, s): n for c, s, n in session.execute(query)}

    def list_alerts(
        self,
        community: str | None = None,
        state: AlertState | None = None,
        acknowledged: bool | None = None,
        severity: Severity | Sequence[Severity] | None = None,
        device: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[AlertView]:
        """Alerts matching every given filter, newest raise first."""
        if not 1 <= limit <= MAX_PAGE or offset < 0:
            raise ValueError(f"limit must be 1..{MAX_PAGE} and offset >= 0")
        filters: list[ColumnElement[bool]] = []
        if community is not None:
            filters.append(AlertRow.community == community)
        if device is not None:
            filters.append(AlertRow.device == device)
        if state is not None:
            filters.append(AlertRow.state == state)
        if acknowledged is not None:
            filters.append(AlertRow.acknowledged.is_(acknowledged))
        if isinstance(severity, str):
            filters.append(AlertRow.severity == severity)
        elif severity is not None:
            filters.append(AlertRow.severity.in_(severity))
        with self._reads() as session:
            rows = session.scalars(
                select(AlertRow)
                .where(*filters)
                .order_by(AlertRow.raised_at.desc(), AlertRow.id.desc())
                .limit(limit)
                .offset(offset)
            )
            return [AlertView.of(row) for row in rows]

    # The outbox: changes whose delivery to a sink is not confirmed yet.

    def undelivered(
        self, sink: Sink, recorded_before: datetime | None = None, limit: int = 500
    ) -> list[OutboxEntry]:
        """Changes not yet confirmed delivered to ``sink``, oldest first, with the payload as
        first announced. ``recorded_before`` leaves alone the changes that the live path is
        still delivering."""
        column = _SINK_COLUMNS[sink]
        query = (
            select(AlertEventRow.id, AlertRow.community, AlertEventRow.payload)
            .join(AlertRow, AlertRow.id == AlertEventRow.alert_id)
            .where(column.is_(None))
            .order_by(AlertEventRow.id)
            .limit(limit)
        )
        if recorded_before is not None:
            query = query.where(AlertEventRow.recorded_at < require_utc(recorded_before))
        with self._reads() as session:
            # The stored copy predates the event's number (see views.alert_payload).
            return [
                OutboxEntry(
                    event_id,
                    community,
                    ALERT.decode(payload.encode()).model_copy(update={"event_id": event_id}),
                )
                for event_id, community, payload in session.execute(query)
            ]

    def mark_delivered(self, sink: Sink, event_ids: Iterable[int]) -> None:
        """Record that ``sink`` confirmed these changes (PUBACK, or InfluxDB's 204)."""
        ids = list(event_ids)
        if not ids:
            return
        column = _SINK_COLUMNS[sink]
        with self._transaction() as session:
            session.execute(
                update(AlertEventRow)
                .where(AlertEventRow.id.in_(ids), column.is_(None))
                .values({column: self._clock()})
            )

    def _record(
        self,
        session: Session,
        alert: AlertRow,
        kind: EventKind,
        at: datetime,
        *,
        actor: str | None = None,
        note: str | None = None,
        signal_id: str | None = None,
    ) -> AlertChange:
        view = AlertView.of(alert)
        event = AlertEventRow(
            alert=alert,
            at=at,
            recorded_at=self._clock(),
            kind=kind,
            actor=actor,
            note=note,
            signal_id=signal_id,
            payload=ALERT.encode(alert_payload(view, kind, at)).decode(),
        )
        session.add(event)
        session.flush()  # assigns the event id; the caller's transaction commits
        return AlertChange(alert=view, event=TimelineEntry.of(event))


def _check_signal(signal: AlertSignal) -> None:
    """Refuse what could not be stored or announced, before touching the database."""
    check_identifier(signal.community, "community")
    check_identifier(signal.rule, "rule")
    if signal.device is not None:
        check_identifier(signal.device, "device")
    if not 0 < len(signal.signal_id) <= MAX_SIGNAL_ID:
        raise ValueError(f"signal_id must have 1..{MAX_SIGNAL_ID} characters")


def _key_is(stream: AlertStreamRow) -> tuple[ColumnElement[bool], ...]:
    return (
        AlertRow.community == stream.community,
        AlertRow.device == stream.device,
        AlertRow.rule == stream.rule,
    )


_UPSERT_INSERT: Final[dict[str, Any]] = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def _lock_stream(session: Session, community: str, device: str, rule: str) -> AlertStreamRow:
    """The key's stream row, created if missing, locked until the transaction ends."""
    key = (community, device, rule)
    stream = session.get(AlertStreamRow, key, with_for_update=True, populate_existing=True)
    if stream is None:
        # Two workers may both find no row: ON CONFLICT DO NOTHING makes the second wait for
        # the first's commit and then do nothing, where a plain INSERT would fail.
        insert = _UPSERT_INSERT[session.get_bind().dialect.name]
        session.execute(
            insert(AlertStreamRow)
            .values(community=community, device=device, rule=rule)
            .on_conflict_do_nothing()
        )
        stream = session.get(AlertStreamRow, key, with_for_update=True, populate_existing=True)
        assert stream is not None
    return stream


def _already_applied(session: Session, stream: AlertStreamRow, signal_id: str) -> bool:
    found = session.scalar(
        select(AlertEventRow.id)
        .join(AlertRow, AlertRow.id == AlertEventRow.alert_id)
        .where(AlertEventRow.signal_id == signal_id, *_key_is(stream))
        .limit(1)
    )
    return found is not None


NOTE_KEY_PREFIX: Final = "note:"
MAX_NOTE_KEY: Final = 128


def _note_key(author: str, key: str) -> str:
    """A note's idempotency key as stored in ``signal_id``: per author (one guard's key never
    swallows another's note), and never equal to a signal's id, which has no ``note:``."""
    if not 0 < len(key) <= MAX_NOTE_KEY:
        raise ValueError(f"a note's key must have 1..{MAX_NOTE_KEY} characters")
    return f"{NOTE_KEY_PREFIX}{author}:{key}"


def _has_event_key(session: Session, alert_id: str, event_key: str) -> bool:
    found = session.scalar(
        select(AlertEventRow.id)
        .where(AlertEventRow.alert_id == alert_id, AlertEventRow.signal_id == event_key)
        .limit(1)
    )
    return found is not None


def _lock_alert(session: Session, alert_id: str) -> AlertRow:
    alert = session.get(AlertRow, alert_id, with_for_update=True, populate_existing=True)
    if alert is None:
        raise AlertNotFoundError(alert_id)
    return alert


def _clear(alert: AlertRow, at: datetime, now: datetime) -> None:
    alert.state = "cleared"
    alert.cleared_at = at
    alert.last_event_time = max(alert.last_event_time, at)
    alert.next_escalation_at = None
    alert.updated_at = now


def _latest(current: datetime | None, candidate: datetime) -> datetime:
    return candidate if current is None else max(current, candidate)
