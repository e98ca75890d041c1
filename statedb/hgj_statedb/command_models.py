"""Tables of remote commands: the command itself and its timeline (revision ``r0004_commands``).

They sit on the same declarative ``Base`` (and naming convention) as ``models.py``, in a module
of their own so that the command lifecycle can change without touching the alert and user
tables. ``migrations/env.py`` imports this module so that Alembic sees both.
"""

from datetime import datetime
from typing import Any, Final, Literal, get_args

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from hgj_contracts.commands import COMMAND_STATES, CommandState
from hgj_statedb.models import Base
from hgj_statedb.utc import UtcDateTime

CommandEventKind = Literal["transition", "late_result"]
"""A timeline entry is a state change, or a device result that arrived for a final command and
told a different story (kept for the record; it changes nothing)."""
COMMAND_EVENT_KINDS: Final[tuple[CommandEventKind, ...]] = get_args(CommandEventKind)

MAX_IDEMPOTENCY_KEY: Final = 128

_ID = String(64)  # the contract's id grammar allows 64 characters
_BIG_ID = BigInteger().with_variant(Integer, "sqlite")  # SQLite auto-increments INTEGER only


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class CommandRow(Base):
    """One command: what was asked, by whom, and where it is now.

    The per-state timestamps make the common questions (how long did the gate take, which
    commands are still waiting) simple queries; the timeline keeps the full history.
    """

    __tablename__ = "commands"
    __table_args__ = (
        # Idempotency: a client that retries a POST (timeout, lost answer) sends the same key
        # and must get the same command back, not a second gate opening. Scoped to the user,
        # so two guards can never collide on a key. NULL keys never conflict.
        UniqueConstraint("requested_by", "idempotency_key"),
        Index("ix_commands_community_created_at", "community", "created_at"),
        Index("ix_commands_community_device_created_at", "community", "device", "created_at"),
        # The sweeper's and the dispatcher's scans: open commands by deadline.
        Index("ix_commands_state_expires_at", "state", "expires_at"),
        CheckConstraint(_one_of("state", COMMAND_STATES), name="state"),
        CheckConstraint("expires_at > created_at", name="expiry"),
        CheckConstraint("dispatch_attempts >= 0", name="dispatch_attempts"),
    )

    id: Mapped[str] = mapped_column(_ID, primary_key=True)
    """``c-`` and a ULID: also the ``command_id`` on the wire, which the device answers with."""
    community: Mapped[str] = mapped_column(_ID)
    device: Mapped[str] = mapped_column(_ID)
    action: Mapped[str] = mapped_column(_ID)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON)
    """The action's fields of the contract's command payload (``on``, ``hold_open_s``, ...)."""
    reason: Mapped[str | None] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(_ID)
    idempotency_key: Mapped[str | None] = mapped_column(String(MAX_IDEMPOTENCY_KEY))
    request_hash: Mapped[str] = mapped_column(String(64))
    """SHA-256 of the request, to tell a retry (same body) from a key reused for another
    command (an error)."""
    state: Mapped[CommandState] = mapped_column(String(16))
    state_since: Mapped[datetime] = mapped_column(UtcDateTime)
    """When the current state was entered: the acknowledgement timeout counts from here."""
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    """Also the command payload's ``ts``, so a re-publish sends the very same payload."""
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    timed_out_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    """When it reached a final state."""
    error_code: Mapped[str | None] = mapped_column(_ID)
    error: Mapped[str | None] = mapped_column(Text)
    result_data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """The ``data`` of the device's final result."""
    next_dispatch_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    """While queued: when a dispatcher may (re)publish it. Claiming moves it forward, so that
    of several API replicas only one publishes a command that is still waiting for a PUBACK."""
    dispatch_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class CommandEventRow(Base):
    """The timeline of a command: one row per state change, with its cause.

    It doubles as the outbox of the progress channel: ``published_at`` stays NULL until the
    broker acknowledged the announcement, so a replica that died between commit and publish
    leaves a change that another replica's sweeper announces instead.
    """

    __tablename__ = "command_events"
    __table_args__ = (
        Index("ix_command_events_command_id_id", "command_id", "id"),
        Index("ix_command_events_published_at", "published_at"),
        CheckConstraint(_one_of("kind", COMMAND_EVENT_KINDS), name="kind"),
        CheckConstraint(_one_of("to_state", COMMAND_STATES), name="to_state"),
        CheckConstraint(_one_of("from_state", COMMAND_STATES), name="from_state"),
    )

    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True, autoincrement=True)
    command_id: Mapped[str] = mapped_column(_ID, ForeignKey("commands.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    """When the platform saw it happen (its own clock; device clocks may be off)."""
    kind: Mapped[CommandEventKind] = mapped_column(String(16))
    from_state: Mapped[CommandState | None] = mapped_column(String(16))
    """None for the creation."""
    to_state: Mapped[CommandState] = mapped_column(String(16))
    cause: Mapped[str] = mapped_column(String(32))
    """``created``, a device result status, or a platform input (``published``, ...)."""
    actor: Mapped[str | None] = mapped_column(_ID)
    """The requesting user for the creation, else the API instance that applied the input."""
    device_ts: Mapped[datetime | None] = mapped_column(UtcDateTime)
    """The device's own time on a result."""
    error_code: Mapped[str | None] = mapped_column(_ID)
    error: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[str | None] = mapped_column(Text)
    """The contract's ``CommandProgress`` (JSON) announcing a transition, written in the same
    transaction so that the outbox re-announces exactly what the live path would have; None
    for a late result, which is recorded but not announced."""
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    """When the broker acknowledged the announcement; None: pending (a late result is born
    with its recording time here, as there is nothing to announce)."""
