"""Tables of the state database (alerts, the device registry, users and the audit log), as typed
declarative models.

Enumerations (state, severity, event kind) are short strings guarded by CHECK constraints rather
than database enum types: PostgreSQL enums need their own migration steps to grow, SQLite has
none, and a CHECK behaves the same on both.

Every constraint and index has an explicit name (the naming convention below) so that later
migrations can refer to them, and so that Alembic's comparison of models and database is exact.
"""

from datetime import datetime
from typing import Final, Literal, get_args

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from hgj_contracts import Severity
from hgj_contracts.alerts import SEVERITIES
from hgj_statedb.utc import UtcDateTime

AlertState = Literal["active", "cleared"]
EventKind = Literal[
    "raised", "repeated", "cleared", "acknowledged", "assigned", "noted", "escalated", "reminded"
]
EVENT_KINDS: Final[tuple[EventKind, ...]] = get_args(EventKind)
RoleName = Literal["security", "operator", "admin", "privacy_officer"]
ROLE_NAMES: Final[tuple[RoleName, ...]] = get_args(RoleName)
"""The staff roles; the API maps each to its permissions (hgj_api.security.permissions)."""
AuditOutcome = Literal["success", "failure", "denied"]
RevokeReason = Literal["reuse", "logout", "password_reset", "disabled"]

NO_DEVICE: Final = ""
"""Stored in ``device`` for community-wide alerts. SQL treats NULLs as distinct, so a NULL
device would let the one-active-alert index admit any number of community-wide alerts; the empty
string is never a valid device id, so it cannot collide with a real one."""

_ID = String(64)  # the contract's id grammar allows 64 characters
_BIG_ID = BigInteger().with_variant(Integer, "sqlite")
"""SQLite only auto-increments an INTEGER PRIMARY KEY, not a BIGINT one."""


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class AlertStreamRow(Base):
    """One row per (community, device, rule) that has ever received a signal.

    It is what signals for the same alert key serialise on: each ``apply`` locks this row
    (``SELECT ... FOR UPDATE`` on PostgreSQL) before looking at the alerts, so two workers
    handling the same device take turns, while other devices proceed in parallel. It also keeps
    the clear horizon that event-time ordering needs even when no alert exists (a clear that
    arrives before the raise it follows).
    """

    __tablename__ = "alert_streams"

    community: Mapped[str] = mapped_column(_ID, primary_key=True)
    device: Mapped[str] = mapped_column(_ID, primary_key=True)
    rule: Mapped[str] = mapped_column(_ID, primary_key=True)
    cleared_through: Mapped[datetime | None] = mapped_column(UtcDateTime)
    """Event time of the latest clear applied to this key; raises at or before it are stale."""


class AlertRow(Base):
    __tablename__ = "alerts"
    __table_args__ = (
        # The heart of "one active alert per (device, rule)": the database refuses a second
        # active row for the same key, whatever the application does. Cleared alerts are
        # history and any number of them may exist, hence a partial index.
        Index(
            "ux_alerts_one_active",
            "community",
            "device",
            "rule",
            unique=True,
            sqlite_where=text("state = 'active'"),
            postgresql_where=text("state = 'active'"),
        ),
        Index("ix_alerts_community_raised_at", "community", "raised_at"),
        # The API lists a community's alerts newest first by id (its cursor): without this,
        # every page sorted all of the community's alerts (measured: half of a filtered page).
        Index("ix_alerts_community_id", "community", "id"),
        Index("ix_alerts_state_next_escalation_at", "state", "next_escalation_at"),
        CheckConstraint(_one_of("state", get_args(AlertState)), name="state"),
        CheckConstraint(_one_of("severity", SEVERITIES), name="severity"),
        CheckConstraint("count >= 1", name="count"),
        CheckConstraint("escalation_level >= 0", name="escalation_level"),
    )

    id: Mapped[str] = mapped_column(_ID, primary_key=True)
    community: Mapped[str] = mapped_column(_ID)
    device: Mapped[str] = mapped_column(_ID)
    """``NO_DEVICE`` for community-wide alerts."""
    rule: Mapped[str] = mapped_column(_ID)
    severity: Mapped[Severity] = mapped_column(String(16))
    state: Mapped[AlertState] = mapped_column(String(16))
    acknowledged: Mapped[bool] = mapped_column(Boolean, default=False)
    acknowledged_by: Mapped[str | None] = mapped_column(_ID)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    assignee: Mapped[str | None] = mapped_column(_ID)
    count: Mapped[int] = mapped_column(Integer, default=1)
    raised_at: Mapped[datetime] = mapped_column(UtcDateTime)
    """Event time of the earliest raise counted in this alert."""
    last_raised_at: Mapped[datetime] = mapped_column(UtcDateTime)
    """Event time of the latest raise counted: a clear older than this is out of order."""
    cleared_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_event_time: Mapped[datetime] = mapped_column(UtcDateTime)
    """Latest event time of any signal applied to this alert."""
    message: Mapped[str] = mapped_column(Text)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    """Index into the severity's responder chain: 0 is the first responder, told at raise."""
    next_escalation_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    """None until the first escalation: it is then due at ``raised_at`` plus the policy's
    acknowledgement window (the policy is configuration, not stored)."""
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    """Wall-clock time of the last write (not an event time)."""


class AlertEventRow(Base):
    """The timeline of an alert: every raise, repeat, clear and human or escalation action.

    Each event is also one change to announce, and the table doubles as the outbox: ingest
    acknowledges an MQTT message once the store has committed, so a worker that dies before
    publishing would otherwise lose the announcement for good (the redelivered signal is a
    duplicate and changes nothing). Delivery is tracked per sink, because the alert topic must
    not wait for InfluxDB.
    """

    __tablename__ = "alert_events"
    __table_args__ = (
        # Idempotency: a signal redelivered by MQTT (at-least-once) carries the same signal_id
        # and must not count twice. The key is scoped to the alert, not global, because one
        # device message may legitimately drive several rules under the same signal_id; the
        # store checks the whole (community, device, rule) key under its lock, and this
        # constraint is the database's backstop. NULLs (human actions) never conflict.
        UniqueConstraint("alert_id", "signal_id"),
        Index("ix_alert_events_alert_id_at", "alert_id", "at"),
        Index("ix_alert_events_signal_id", "signal_id"),
        # The outbox: small indexes of what a sink has not received yet.
        Index(
            "ix_alert_events_unpublished",
            "id",
            sqlite_where=text("published_at IS NULL"),
            postgresql_where=text("published_at IS NULL"),
        ),
        Index(
            "ix_alert_events_unexported",
            "id",
            sqlite_where=text("exported_at IS NULL"),
            postgresql_where=text("exported_at IS NULL"),
        ),
        CheckConstraint(_one_of("kind", EVENT_KINDS), name="kind"),
    )

    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True, autoincrement=True)
    alert_id: Mapped[str] = mapped_column(_ID, ForeignKey("alerts.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    """Event time: the device's time for signals, the action's time for people and escalation."""
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)
    kind: Mapped[EventKind] = mapped_column(String(16))
    actor: Mapped[str | None] = mapped_column(_ID)
    """Who acted (user id, or the responder role for escalations); None for signals."""
    note: Mapped[str | None] = mapped_column(Text)
    signal_id: Mapped[str | None] = mapped_column(String(255))
    """What caused the event, for idempotency: the rule engine's signal id, or for a note sent
    with an idempotency key ``note:{author}:{key}``; None for other human actions."""
    payload: Mapped[str] = mapped_column(Text)
    """The contract's Alert payload (JSON) announcing this change, written in the same
    transaction: the outbox that survives a crash between commit and publish."""
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    """When the payload was confirmed published on the alert topic (PUBACK); None: pending."""
    exported_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    """When it was confirmed written to InfluxDB's ``alerts`` measurement; None: pending."""

    # Lets the unit of work insert a new alert before its first event; never loaded lazily.
    alert: Mapped[AlertRow] = relationship(lazy="raise")


class DeviceRow(Base):
    """A device the platform knows: ingest quarantines messages from any other (issue 3).

    Rows are never deleted by the registry: a device taken out of service is disabled, so its
    history keeps a name. The API grows this into the full registry (location, owner, ...).
    """

    __tablename__ = "devices"
    __table_args__ = (
        CheckConstraint("report_interval_s IS NULL OR report_interval_s > 0", name="interval"),
    )

    community: Mapped[str] = mapped_column(_ID, primary_key=True)
    device: Mapped[str] = mapped_column(_ID, primary_key=True)
    device_type: Mapped[str | None] = mapped_column(_ID)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    """Wall-clock time of the last registration or change."""

    # Where it is and what it does (the registry; all optional so that a device registered by
    # id alone, as ingest's registry and `make run` do, stays valid). No foreign keys to the
    # place tables for the same reason; the API checks places when it writes them.
    name: Mapped[str | None] = mapped_column(String(128))
    building: Mapped[str | None] = mapped_column(_ID)
    unit: Mapped[str | None] = mapped_column(_ID)
    floor: Mapped[int | None] = mapped_column(Integer)
    location: Mapped[str | None] = mapped_column(String(255))
    """Free text for people: "north gate", "B3 basement pump room"."""
    capabilities: Mapped[list[str]] = mapped_column(JSON, default=list, server_default=text("'[]'"))
    """Command actions the device accepts (open_gate, set_switch, ...)."""
    report_interval_s: Mapped[float | None] = mapped_column(Float)
    credentials_issued_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    """When its current broker password was issued; None: it has no broker account."""

    # Presence, from its retained status messages (event time wins: an older status never
    # overwrites a newer one).
    online: Mapped[bool | None] = mapped_column(Boolean)
    status_reason: Mapped[str | None] = mapped_column(String(32))
    status_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    """Event time of the status that set ``online``."""


class UserRow(Base):
    """A member of staff who signs in to the API.

    Users are disabled, never deleted, so that the audit log and alert timelines keep naming
    who acted. Roles and communities live in their own tables so that queries can filter on
    them in SQL (a scoped admin lists only the users of their communities).
    """

    __tablename__ = "users"
    __table_args__ = (
        UniqueConstraint("username"),
        CheckConstraint("failed_logins >= 0", name="failed_logins"),
        CheckConstraint("token_generation >= 0", name="token_generation"),
    )

    id: Mapped[str] = mapped_column(_ID, primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    """Lower case; what people type to sign in."""
    display_name: Mapped[str | None] = mapped_column(String(128))
    password_hash: Mapped[str] = mapped_column(Text)
    weak_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """Set when a password below the policy was accepted (development mode's bootstrap admin):
    the API refuses to start in production while an enabled user has one."""
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    all_communities: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """A platform-wide user: every community, present and future (``user_communities`` is
    then ignored)."""
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    """Consecutive failed logins since the last success or lockout."""
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    token_generation: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    """Carried in access tokens; bumped on disable and password reset, which invalidates every
    access token issued before (they would otherwise live until they expire)."""
    last_login_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    password_changed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)

    roles: Mapped[list["UserRoleRow"]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="UserRoleRow.role"
    )
    communities: Mapped[list["UserCommunityRow"]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="UserCommunityRow.community"
    )


class UserRoleRow(Base):
    __tablename__ = "user_roles"
    __table_args__ = (CheckConstraint(_one_of("role", ROLE_NAMES), name="role"),)

    user_id: Mapped[str] = mapped_column(
        _ID, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[RoleName] = mapped_column(String(32), primary_key=True)


class UserCommunityRow(Base):
    __tablename__ = "user_communities"
    __table_args__ = (Index("ix_user_communities_community", "community"),)

    user_id: Mapped[str] = mapped_column(
        _ID, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    community: Mapped[str] = mapped_column(_ID, primary_key=True)


class RefreshTokenRow(Base):
    """One refresh token; only its hash is stored, so a copy of the database signs nobody in.

    A login starts a family; each refresh marks its token used and issues the next one in the
    same family. A used token presented again means that someone else holds a copy (the owner
    or the thief already moved on), so the whole family is revoked (OAuth 2.0 Security BCP,
    refresh token rotation).
    """

    __tablename__ = "refresh_tokens"
    __table_args__ = (
        Index("ix_refresh_tokens_family_id", "family_id"),
        Index("ix_refresh_tokens_user_id", "user_id"),
        CheckConstraint(_one_of("revoked_reason", get_args(RevokeReason)), name="revoked_reason"),
    )

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    family_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(_ID, ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64))
    """SHA-256 (hex) of the token's secret part: the secret has 256 random bits, so a fast
    hash is enough (no password stretching needed)."""
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    """When it was exchanged for its successor; presenting it again is reuse."""
    replaced_by: Mapped[str | None] = mapped_column(String(64))
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_reason: Mapped[RevokeReason | None] = mapped_column(String(32))


class AuditLogRow(Base):
    """Who did what, when, from where, to what, and whether it worked.

    Rows are only ever inserted (triggers refuse UPDATE and DELETE, see r0005_audit_chain), and
    they form a hash chain: ``seq`` numbers them 1, 2, 3, ... in commit order and ``hash``
    covers the row's content and the previous row's ``hash`` (``prev_hash``), so that editing,
    deleting or inserting a row breaks the chain where it happened (``hgj_statedb.audit_chain``
    computes and verifies it). ``community`` is set for actions on something that belongs to a
    community (alerts, devices, commands) and is what a community-scoped reader sees; account
    actions (logins, user changes) have none and are visible to platform-wide readers only.
    """

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_ts", "ts"),
        Index("ix_audit_log_actor_id_ts", "actor_id", "ts"),
        Index("ix_audit_log_community_ts", "community", "ts"),
        Index("ix_audit_log_action_ts", "action", "ts"),
        UniqueConstraint("seq"),
        CheckConstraint(_one_of("outcome", get_args(AuditOutcome)), name="outcome"),
        CheckConstraint("seq >= 1", name="seq"),
    )

    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True, autoincrement=True)
    ts: Mapped[datetime] = mapped_column(UtcDateTime)
    actor_id: Mapped[str | None] = mapped_column(_ID)
    """The user's id; None when nobody was signed in (a failed login) or for the CLI."""
    actor_username: Mapped[str | None] = mapped_column(String(64))
    """The username at the time, or the one typed at a failed login (it may name nobody)."""
    action: Mapped[str] = mapped_column(String(64))
    """Dotted, resource first: ``auth.login``, ``user.create``, ``alert.ack``, ..."""
    target_type: Mapped[str | None] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(String(128))
    community: Mapped[str | None] = mapped_column(_ID)
    outcome: Mapped[AuditOutcome] = mapped_column(String(16))
    detail: Mapped[dict[str, object]] = mapped_column(JSON)
    request_id: Mapped[str | None] = mapped_column(String(64))
    client_ip: Mapped[str | None] = mapped_column(String(45))
    """Up to an IPv6 address in text form."""
    seq: Mapped[int] = mapped_column(BigInteger)
    """The row's place in the chain, from 1 without gaps, in the order the rows committed."""
    prev_hash: Mapped[str] = mapped_column(String(64))
    """``hash`` of the row ``seq - 1`` (64 zeros for the first row)."""
    hash: Mapped[str] = mapped_column(String(64))
    """SHA-256 (hex) of ``prev_hash`` and the row's canonical content."""


class AuditChainHeadRow(Base):
    """The end of the audit chain: one row (``id`` 1) holding the last ``seq`` and ``hash``.

    Writers lock it (``SELECT ... FOR UPDATE``) to append, which serialises them so that two
    transactions can never both extend the same row and fork the chain; it also anchors the
    tail, so that deleting the newest records is seen as well (the chain alone would still be
    consistent without them).
    """

    __tablename__ = "audit_chain_head"
    __table_args__ = (
        CheckConstraint("id = 1", name="single_row"),
        CheckConstraint("seq >= 0", name="seq"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    """The last row's ``seq``; 0 while the log is empty."""
    hash: Mapped[str] = mapped_column(String(64))
    """The last row's ``hash``; 64 zeros while the log is empty."""
