"""The command store: remote commands and their lifecycle as short database transactions.

Every public method is one transaction and returns frozen values (``CommandView``,
``CommandChange``), never live ORM objects, so callers publish and audit after the commit.
Every state change is written, in the same transaction, to the timeline (``command_events``),
which is also the outbox of the progress channel.

Several API replicas share one database, and each receives some of the device results (a
shared subscription) and runs a sweeper. Every change therefore happens under a lock on the
command's row (``SELECT ... FOR UPDATE`` on PostgreSQL; BEGIN IMMEDIATE serialises writers on
SQLite, see ``hgj_statedb.db``), and the state machine (``command_states``) judges each input
against the state the previous holder committed: two replicas applying ``succeeded`` and
``accepted`` in either order, or a result racing the sweeper, end in the same place. Scans
(sweeper, re-dispatch) use ``FOR UPDATE SKIP LOCKED`` so replicas split the work instead of
queueing behind each other. Creation relies on the unique (user, idempotency key) constraint
with ``INSERT ... ON CONFLICT DO NOTHING``: a concurrent retry waits for the first insert and
then finds it, instead of failing.
"""

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from hgj_contracts import COMMAND_PROGRESS, CommandResult, CommandState
from hgj_contracts.ids import check_identifier
from hgj_statedb.command_models import (
    MAX_IDEMPOTENCY_KEY,
    CommandEventKind,
    CommandEventRow,
    CommandRow,
)
from hgj_statedb.command_states import (
    AWAITING_ANSWER,
    OPEN_STATES,
    CommandInput,
    contradicts_final_state,
    is_result,
    is_terminal,
    next_state,
)
from hgj_statedb.command_views import (
    CommandChange,
    CommandEvent,
    CommandView,
    Created,
    NewCommand,
    ProgressEntry,
    Refusal,
    build_command,
    progress_payload,
)
from hgj_statedb.ids import new_id
from hgj_statedb.store_base import EngineStore
from hgj_statedb.utc import require_utc

MAX_PAGE: Final = 1000
MAX_TTL: Final = timedelta(hours=24)
"""A command is for now, not for tomorrow: a long-lived "open gate" is what expiry prevents."""

_UPSERT_INSERT: Final[dict[str, Any]] = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}

# Why the sweeper ended a command, by the state it was in (the operator's question is "did the
# device do it?", and the answer differs).
_DEADLINE_REASONS: Final[dict[CommandState, tuple[str, str]]] = {
    "queued": ("expired_unsent", "expired before it could be sent to the device"),
    "sent": ("expired_unanswered", "expired without an answer from the device"),
    "timeout": ("expired_unanswered", "expired without an answer from the device"),
    "delivered": (
        "expired_unconfirmed",
        "the device accepted it but reported no outcome before it expired",
    ),
}


class CommandNotFoundError(LookupError):
    def __init__(self, command_id: str) -> None:
        super().__init__(f"no command {command_id!r}")
        self.command_id = command_id


class IdempotencyConflictError(ValueError):
    """The idempotency key was used before, by the same user, for a different request."""

    def __init__(self, key: str, command_id: str) -> None:
        super().__init__(f"idempotency key {key!r} was used for another request ({command_id})")
        self.key = key
        self.command_id = command_id


class ResultMismatchError(ValueError):
    """A result names a command of another device or action: never applied."""


class CommandStore(EngineStore):
    """Commands in one state database. Thread-safe: share one store per process.

    ``clock`` gives the time of every change the store makes on its own (creation, results,
    PUBACKs); the sweeper passes its ``now`` explicitly, so tests can move time.
    """

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        with self._writes.begin() as session:
            yield session

    # Creation (the API).

    def create(
        self,
        new: NewCommand,
        *,
        refusal: Refusal | None = None,
        redispatch_after: timedelta = timedelta(seconds=5),
        dispatch_now: bool = True,
    ) -> Created:
        """Store a new command, ``queued`` (or ``refused`` with ``refusal``).

        With an idempotency key that this user used before: the command created then when the
        request is the same (``Created.is_new`` is False, nothing else happens), else
        IdempotencyConflictError. ValueError when the parameters do not fit the action.

        ``dispatch_now`` says the caller publishes it right away; otherwise, or when that
        publish is not acknowledged within ``redispatch_after``, a dispatcher claims it
        (``claim_for_dispatch``).
        """
        _check_new(new)
        now = self._clock()
        command_id = new_id("c-")
        expires_at = now + new.ttl
        # Never store what could not be sent: the contract's model checks the parameters.
        build_command(
            command_id=command_id,
            action=new.action,
            parameters=new.parameters,
            created_at=now,
            expires_at=expires_at,
            requested_by=new.requested_by,
            reason=new.reason,
        )
        digest = new.request_hash()
        state: CommandState = "queued" if refusal is None else "refused"
        queued = state == "queued"
        with self._transaction() as session:
            insert = _UPSERT_INSERT[session.get_bind().dialect.name]
            inserted = session.execute(
                insert(CommandRow)
                .values(
                    id=command_id,
                    community=new.community,
                    device=new.device,
                    action=new.action,
                    parameters=dict(new.parameters),
                    reason=new.reason,
                    requested_by=new.requested_by,
                    idempotency_key=new.idempotency_key,
                    request_hash=digest,
                    state=state,
                    state_since=now,
                    created_at=now,
                    expires_at=expires_at,
                    finished_at=None if queued else now,
                    error_code=None if refusal is None else refusal.error_code,
                    error=None if refusal is None else refusal.error,
                    next_dispatch_at=(now + redispatch_after if dispatch_now else now)
                    if queued
                    else None,
                    dispatch_attempts=1 if queued and dispatch_now else 0,
                    updated_at=now,
                )
                # Only the (user, key) constraint can conflict (ids are random): a retry
                # racing its original waits for it here, then finds it below.
                .on_conflict_do_nothing()
                .returning(CommandRow.id)
            ).scalar_one_or_none()
            if inserted is None:
                assert new.idempotency_key is not None
                existing = session.scalars(
                    select(CommandRow).where(
                        CommandRow.requested_by == new.requested_by,
                        CommandRow.idempotency_key == new.idempotency_key,
                    )
                ).one()
                if existing.request_hash != digest:
                    raise IdempotencyConflictError(new.idempotency_key, existing.id)
                return Created(CommandView.of(existing), None)
            row = session.get(CommandRow, command_id)
            assert row is not None
            change = self._record(
                session,
                row,
                None,
                "created",
                at=now,
                actor=new.requested_by,
                error_code=row.error_code,
                error=row.error,
            )
            return Created(change.command, change)

    # Inputs (the dispatcher and the sweeper).

    def apply(
        self,
        command_id: str,
        event: CommandInput,
        *,
        actor: str | None = None,
        error_code: str | None = None,
        error: str | None = None,
    ) -> CommandChange | None:
        """Apply a platform input (``published``, ``publish_refused``, ``interlock``, ...)
        at the store's clock; the change, or None when the state machine ignores it."""
        with self._transaction() as session:
            row = _lock(session, command_id)
            return self._apply(
                session, row, event, self._clock(), actor=actor, error_code=error_code, error=error
            )

    def record_result(
        self, community: str, device: str, result: CommandResult, *, actor: str | None = None
    ) -> CommandChange | None:
        """Apply a device's answer received on ``community``/``device``'s result topic.

        Returns the transition; a ``late_result`` entry when the command is already final and
        the answer contradicts it; None for duplicates and out-of-order answers.
        CommandNotFoundError for an unknown command_id, ResultMismatchError when the command
        belongs to another device or action (never applied)."""
        with self._transaction() as session:
            row = _lock(session, result.command_id)
            if (row.community, row.device, row.action) != (community, device, result.action):
                raise ResultMismatchError(
                    f"{result.command_id} is {row.action} for {row.community}/{row.device}, "
                    f"not {result.action} for {community}/{device}"
                )
            return self._apply(
                session,
                row,
                result.status,
                self._clock(),
                actor=actor,
                error_code=result.error_code,
                error=result.error,
                device_ts=result.ts,
                data=result.data,
            )

    def sweep(
        self,
        now: datetime,
        *,
        ack_timeout: timedelta,
        grace: timedelta = timedelta(0),
        actor: str | None = None,
        limit: int = 500,
    ) -> list[CommandChange]:
        """Time out commands the device has not answered for ``ack_timeout`` (``sent`` or
        ``delivered`` that long), and expire every open command whose ``expires_at`` is more
        than ``grace`` in the past (the grace lets answers that were on their way count)."""
        now = require_utc(now, "now")
        past_deadline = CommandRow.expires_at <= now - grace
        unanswered = and_(
            CommandRow.state.in_(AWAITING_ANSWER), CommandRow.state_since <= now - ack_timeout
        )
        changes = []
        with self._transaction() as session:
            rows = session.scalars(
                select(CommandRow)
                .where(CommandRow.state.in_(OPEN_STATES), or_(past_deadline, unanswered))
                .order_by(CommandRow.expires_at, CommandRow.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            for row in rows:
                if row.expires_at <= now - grace:
                    code, text = _DEADLINE_REASONS[row.state]
                    change = self._apply(
                        session, row, "deadline", now, actor=actor, error_code=code, error=text
                    )
                else:
                    text = f"no answer from the device within {ack_timeout.total_seconds():g} s"
                    change = self._apply(
                        session,
                        row,
                        "ack_timeout",
                        now,
                        actor=actor,
                        error_code="ack_timeout",
                        error=text,
                    )
                if change is not None:
                    changes.append(change)
        return changes

    def claim_for_dispatch(
        self, now: datetime, *, redispatch_after: timedelta, limit: int = 100
    ) -> list[CommandView]:
        """Queued commands due for a (re)publish, claimed for ``redispatch_after``: another
        replica's claim skips them until then. Publishing twice is harmless (the device
        executes a command_id once), this only keeps it rare."""
        now = require_utc(now, "now")
        with self._transaction() as session:
            rows = session.scalars(
                select(CommandRow)
                .where(
                    CommandRow.state == "queued",
                    CommandRow.next_dispatch_at <= now,
                    CommandRow.expires_at > now,
                )
                .order_by(CommandRow.next_dispatch_at, CommandRow.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            for row in rows:
                row.next_dispatch_at = now + redispatch_after
                row.dispatch_attempts += 1
                row.updated_at = self._clock()
            return [CommandView.of(row) for row in rows]

    # The progress outbox.

    def undelivered_progress(
        self, recorded_before: datetime | None = None, limit: int = 500
    ) -> list[ProgressEntry]:
        """Announcements the broker has not acknowledged, oldest first; ``recorded_before``
        leaves alone those the live path is still publishing."""
        query = (
            select(CommandEventRow.id, CommandRow.community, CommandEventRow.payload)
            .join(CommandRow, CommandRow.id == CommandEventRow.command_id)
            .where(CommandEventRow.published_at.is_(None), CommandEventRow.payload.is_not(None))
            .order_by(CommandEventRow.id)
            .limit(limit)
        )
        if recorded_before is not None:
            query = query.where(CommandEventRow.at < require_utc(recorded_before))
        with self._reads() as session:
            return [
                ProgressEntry(event_id, community, COMMAND_PROGRESS.decode(payload.encode()))
                for event_id, community, payload in session.execute(query)
                if payload is not None
            ]

    def mark_progress_published(self, event_ids: Iterable[int]) -> None:
        """Record the broker's PUBACK for these announcements."""
        ids = list(event_ids)
        if not ids:
            return
        with self._transaction() as session:
            session.execute(
                update(CommandEventRow)
                .where(CommandEventRow.id.in_(ids), CommandEventRow.published_at.is_(None))
                .values(published_at=self._clock())
            )

    # Queries (the API).

    def get(self, command_id: str) -> CommandView | None:
        with self._reads() as session:
            row = session.get(CommandRow, command_id)
            return None if row is None else CommandView.of(row)

    def timeline(self, command_id: str) -> list[CommandEvent]:
        """The command's entries in the order they were recorded (which, under the row lock,
        is the order they happened in)."""
        with self._reads() as session:
            rows = session.scalars(
                select(CommandEventRow)
                .where(CommandEventRow.command_id == command_id)
                .order_by(CommandEventRow.id)
            )
            return [CommandEvent.of(row) for row in rows]

    def list_commands(
        self,
        community: str | None = None,
        device: str | None = None,
        state: CommandState | Sequence[CommandState] | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[CommandView]:
        """Commands matching every given filter, newest first."""
        if not 1 <= limit <= MAX_PAGE or offset < 0:
            raise ValueError(f"limit must be 1..{MAX_PAGE} and offset >= 0")
        filters: list[ColumnElement[bool]] = []
        if community is not None:
            filters.append(CommandRow.community == community)
        if device is not None:
            filters.append(CommandRow.device == device)
        if isinstance(state, str):
            filters.append(CommandRow.state == state)
        elif state is not None:
            filters.append(CommandRow.state.in_(state))
        with self._reads() as session:
            rows = session.scalars(
                select(CommandRow)
                .where(*filters)
                .order_by(CommandRow.created_at.desc(), CommandRow.id.desc())
                .limit(limit)
                .offset(offset)
            )
            return [CommandView.of(row) for row in rows]

    # Internals.

    def _apply(
        self,
        session: Session,
        row: CommandRow,
        event: CommandInput,
        at: datetime,
        *,
        actor: str | None,
        error_code: str | None = None,
        error: str | None = None,
        device_ts: datetime | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> CommandChange | None:
        target = next_state(row.state, event)
        if target is None:
            if is_result(event) and contradicts_final_state(row.state, event):
                return self._record(
                    session,
                    row,
                    row.state,
                    event,
                    at=at,
                    actor=actor,
                    error_code=error_code,
                    error=error,
                    device_ts=device_ts,
                    kind="late_result",
                )
            return None
        previous = row.state
        row.state = target
        row.state_since = at
        row.updated_at = self._clock()
        # The row's error always describes its current state (a late "accepted" after a
        # timeout clears the timeout's).
        row.error_code = error_code
        row.error = error
        if is_result(event):
            # Any answer proves the device had the command, even when the PUBACK or the
            # "accepted" it implies has not been processed yet (or never will be).
            row.sent_at = row.sent_at or at
            row.delivered_at = row.delivered_at or at
        if target == "sent":
            row.sent_at = at
        elif target == "timeout":
            row.timed_out_at = at
        if is_terminal(target):
            row.finished_at = at
            row.next_dispatch_at = None
            if data is not None:
                row.result_data = dict(data)
        return self._record(
            session,
            row,
            previous,
            event,
            at=at,
            actor=actor,
            error_code=error_code,
            error=error,
            device_ts=device_ts,
        )

    def _record(
        self,
        session: Session,
        row: CommandRow,
        previous: CommandState | None,
        cause: str,
        *,
        at: datetime,
        actor: str | None,
        error_code: str | None,
        error: str | None,
        device_ts: datetime | None = None,
        kind: CommandEventKind = "transition",
    ) -> CommandChange:
        transition = kind == "transition"
        event = CommandEventRow(
            command_id=row.id,
            at=at,
            kind=kind,
            from_state=previous,
            to_state=row.state,
            cause=cause,
            actor=actor,
            device_ts=device_ts,
            error_code=error_code,
            error=error,
            payload=None,
            # A late result changes nothing, so there is nothing to announce.
            published_at=None if transition else at,
        )
        session.add(event)
        session.flush()  # assigns the event id, which the announcement carries
        change = CommandChange(CommandView.of(row), CommandEvent.of(event))
        if transition:
            event.payload = COMMAND_PROGRESS.encode(
                progress_payload(change.command, change.event)
            ).decode()
        return change


def _check_new(new: NewCommand) -> None:
    """Refuse what could not be stored or sent, before touching the database."""
    check_identifier(new.community, "community")
    check_identifier(new.device, "device")
    check_identifier(new.action, "action")
    check_identifier(new.requested_by, "requested_by")
    if not timedelta(0) < new.ttl <= MAX_TTL:
        raise ValueError(f"ttl must be positive and at most {MAX_TTL}")
    key = new.idempotency_key
    if key is not None and not 0 < len(key) <= MAX_IDEMPOTENCY_KEY:
        raise ValueError(f"idempotency_key must have 1..{MAX_IDEMPOTENCY_KEY} characters")


def _lock(session: Session, command_id: str) -> CommandRow:
    row = session.get(CommandRow, command_id, with_for_update=True, populate_existing=True)
    if row is None:
        raise CommandNotFoundError(command_id)
    return row
