"""Alerts, their timeline, and the per-key streams that serialise signals.

Revision ID: r0001_alerts
Revises:
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "r0001_alerts"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SEVERITIES = "severity IN ('critical', 'major', 'minor', 'warning', 'info')"
_KINDS = (
    "kind IN ('raised', 'repeated', 'cleared', 'acknowledged', 'assigned', 'noted', "
    "'escalated', 'reminded')"
)


def upgrade() -> None:
    op.create_table(
        "alert_streams",
        sa.Column("community", sa.String(64), nullable=False),
        sa.Column("device", sa.String(64), nullable=False),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("cleared_through", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("community", "device", "rule", name=op.f("pk_alert_streams")),
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("community", sa.String(64), nullable=False),
        sa.Column("device", sa.String(64), nullable=False),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("acknowledged", sa.Boolean(), nullable=False),
        sa.Column("acknowledged_by", sa.String(64), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("assignee", sa.String(64), nullable=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_event_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column("next_escalation_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("state IN ('active', 'cleared')", name=op.f("ck_alerts_state")),
        sa.CheckConstraint(_SEVERITIES, name=op.f("ck_alerts_severity")),
        sa.CheckConstraint("count >= 1", name=op.f("ck_alerts_count")),
        sa.CheckConstraint("escalation_level >= 0", name=op.f("ck_alerts_escalation_level")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    op.create_index(
        op.f("ux_alerts_one_active"),
        "alerts",
        ["community", "device", "rule"],
        unique=True,
        sqlite_where=sa.text("state = 'active'"),
        postgresql_where=sa.text("state = 'active'"),
    )
    op.create_index(op.f("ix_alerts_community_raised_at"), "alerts", ["community", "raised_at"])
    op.create_index(
        op.f("ix_alerts_state_next_escalation_at"), "alerts", ["state", "next_escalation_at"]
    )
    op.create_table(
        "alert_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("alert_id", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(64), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("signal_id", sa.String(255), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("exported_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(_KINDS, name=op.f("ck_alert_events_kind")),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alerts.id"],
            name=op.f("fk_alert_events_alert_id_alerts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_events")),
        sa.UniqueConstraint(
            "alert_id", "signal_id", name=op.f("uq_alert_events_alert_id_signal_id")
        ),
    )
    op.create_index(op.f("ix_alert_events_alert_id_at"), "alert_events", ["alert_id", "at"])
    op.create_index(op.f("ix_alert_events_signal_id"), "alert_events", ["signal_id"])
    # The outbox: what each sink has not received yet.
    for name, column in (("unpublished", "published_at"), ("unexported", "exported_at")):
        op.create_index(
            op.f(f"ix_alert_events_{name}"),
            "alert_events",
            ["id"],
            sqlite_where=sa.text(f"{column} IS NULL"),
            postgresql_where=sa.text(f"{column} IS NULL"),
        )


def downgrade() -> None:
    op.drop_table("alert_events")
    op.drop_table("alerts")
    op.drop_table("alert_streams")
